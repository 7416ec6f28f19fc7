package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

// ChannelStore is what the Dispatcher needs of the store; *store.Store
// implements it.
type ChannelStore interface {
	ListChannels(ctx context.Context, tenantID string) ([]Channel, error)
	RecordDelivery(ctx context.Context, tenantID, channelID string, at time.Time, deliveryErr error) error
}

// Dispatcher defaults.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultAttempts = 3
	DefaultBackoff  = 200 * time.Millisecond
	// recordTimeout bounds RecordDelivery; it runs even when the delivery
	// context is done, so a timed-out delivery is still recorded.
	recordTimeout = 5 * time.Second
	// maxErrBody is how much of a failed response's body the error quotes.
	maxErrBody = 200
	userAgent  = "jitsudo-notify/1"
)

// ErrEmailChannel: email channels are delivered by their SNS
// subscriptions, not by the Dispatcher.
var ErrEmailChannel = errors.New("notify: email channels are delivered by SNS, not by the dispatcher")

// Dispatcher delivers events to Slack and generic webhook channels. Set
// its fields, then use it through a pointer (it must not be copied after
// first use); it is safe for concurrent use.
//
// Every delivery is independent: channels are delivered concurrently, each
// attempt has its own Timeout, so a hanging or failing endpoint delays
// only itself (at most Attempts × Timeout plus backoff). Deliveries are at
// least once: a retry after a timeout may duplicate one the endpoint did
// receive; receivers deduplicate on the event id (X-Jitsudo-Delivery).
type Dispatcher struct {
	Channels ChannelStore
	Guard    Guard
	// Client defaults to Guard.Client(). A client not built by a Guard
	// loses the dial-time address check (the URL is still checked before
	// each delivery).
	Client   *http.Client
	Timeout  time.Duration // per attempt; default DefaultTimeout
	Attempts int           // default DefaultAttempts
	// Backoff is the delay before the second attempt; it doubles for each
	// further one, with ±50% jitter. Default DefaultBackoff.
	Backoff time.Duration
	Logger  *slog.Logger     // default slog.Default()
	Now     func() time.Time // default time.Now

	clientOnce    sync.Once
	defaultClient *http.Client
}

// Result is the outcome of Deliver.
type Result struct {
	EventID string
	// ListErr: the tenant's channels could not be loaded; nothing was
	// delivered (the caller should retry the event).
	ListErr  error
	Channels []ChannelResult // one per channel delivered to
}

// Failed returns the channel results with an error.
func (r Result) Failed() []ChannelResult {
	var out []ChannelResult
	for _, c := range r.Channels {
		if c.Err != nil {
			out = append(out, c)
		}
	}
	return out
}

// ChannelResult is the outcome of delivering one event to one channel.
// Errors never contain the channel URL or its secrets.
type ChannelResult struct {
	ChannelID  string
	Type       string
	Attempts   int
	StatusCode int // of the last attempt; 0 if no response
	Duration   time.Duration
	Err        error // nil: delivered (2xx)
	RecordErr  error // recording the outcome on the channel failed
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// client is Client, or one Guard.Client built on first use and kept, so
// connections are reused across events (a warm Lambda delivers many).
func (d *Dispatcher) client() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	d.clientOnce.Do(func() { d.defaultClient = d.Guard.Client() })
	return d.defaultClient
}

// Deliver sends ev to every enabled slack_webhook and generic_webhook
// channel of ev's tenant that Matches it (email channels are skipped: SNS
// delivers them), concurrently, and records each outcome on its channel.
// It returns when every delivery has finished.
func (d *Dispatcher) Deliver(ctx context.Context, ev events.Event) Result {
	res := Result{EventID: ev.ID}
	if ev.TenantID == "" {
		res.ListErr = errors.New("notify: event has no tenant")
		return res
	}
	chans, err := d.Channels.ListChannels(ctx, ev.TenantID)
	if err != nil {
		res.ListErr = fmt.Errorf("notify: list channels of %s: %w", ev.TenantID, err)
		return res
	}
	var targets []Channel
	for _, ch := range chans {
		if (ch.Type == TypeSlackWebhook || ch.Type == TypeGenericWebhook) && Matches(ch, ev) {
			targets = append(targets, ch)
		}
	}
	res.Channels = make([]ChannelResult, len(targets))
	client := d.client()
	var wg sync.WaitGroup
	for i, ch := range targets {
		wg.Go(func() { res.Channels[i] = d.deliverRecorded(ctx, client, ch, ev) })
	}
	wg.Wait()
	return res
}

// DeliverTo sends ev to ch whatever its filters and enabled flag (the
// channel test endpoint) and records the outcome on ch.
func (d *Dispatcher) DeliverTo(ctx context.Context, ch Channel, ev events.Event) ChannelResult {
	return d.deliverRecorded(ctx, d.client(), ch, ev)
}

func (d *Dispatcher) deliverRecorded(ctx context.Context, client *http.Client, ch Channel, ev events.Event) ChannelResult {
	start := time.Now()
	r := d.deliver(ctx, client, ch, ev)
	r.Duration = time.Since(start)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := d.Channels.RecordDelivery(rctx, ch.TenantID, ch.ID, d.now(), r.Err); err != nil {
		r.RecordErr = fmt.Errorf("notify: record delivery on channel %s: %w", ch.ID, err)
	}
	log := d.logger().With(
		slog.String("tenant_id", ch.TenantID), slog.String("channel_id", ch.ID), slog.String("channel_type", ch.Type),
		slog.String("event_id", ev.ID), slog.String("event_type", ev.Type),
		slog.Int("attempts", r.Attempts), slog.Int("status", r.StatusCode), slog.Duration("duration", r.Duration))
	switch {
	case r.Err != nil:
		log.WarnContext(ctx, "notification delivery failed", slog.String("error", r.Err.Error()))
	default:
		log.InfoContext(ctx, "notification delivered")
	}
	if r.RecordErr != nil {
		log.ErrorContext(ctx, "recording delivery outcome failed", slog.String("error", r.RecordErr.Error()))
	}
	return r
}

// deliver renders, checks the destination and posts with retries.
func (d *Dispatcher) deliver(ctx context.Context, client *http.Client, ch Channel, ev events.Event) ChannelResult {
	r := ChannelResult{ChannelID: ch.ID, Type: ch.Type}
	var body []byte
	var err error
	switch ch.Type {
	case TypeSlackWebhook:
		body, err = RenderSlack(ev)
	case TypeGenericWebhook:
		if ch.SigningSecret == "" {
			err = errors.New("notify: generic webhook channel has no signing secret")
		} else if body, err = json.Marshal(ev); err != nil {
			err = fmt.Errorf("notify: encode event: %w", err)
		}
	case TypeEmail:
		err = ErrEmailChannel
	default:
		err = fmt.Errorf("notify: unknown channel type %q", ch.Type)
	}
	if err != nil {
		r.Err = err
		return r
	}
	// The Slack host pin and URL form, as at create time (the channel may
	// predate a rule change), then DNS.
	if err := checkChannelURL(d.Guard.Mode, ch.Type, ch.URL); err != nil {
		r.Err = err
		return r
	}
	if err := d.Guard.CheckURL(ctx, ch.URL); err != nil {
		r.Err = err
		return r
	}

	attempts, timeout, backoff := d.Attempts, d.Timeout, d.Backoff
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	for r.Attempts < attempts {
		if r.Attempts > 0 {
			wait := backoff/2 + rand.N(backoff) // ±50% jitter
			select {
			case <-ctx.Done():
				r.Err = errors.Join(r.Err, ctx.Err())
				return r
			case <-time.After(wait):
			}
			backoff *= 2
		}
		r.Attempts++
		var retry bool
		r.StatusCode, retry, r.Err = d.post(ctx, client, ch, ev, body, timeout)
		if r.Err == nil || !retry || ctx.Err() != nil {
			return r
		}
	}
	return r
}

// post makes one attempt. retry reports whether a failure is worth
// retrying: network errors and timeouts, 429 and 5xx.
func (d *Dispatcher) post(ctx context.Context, client *http.Client, ch Channel, ev events.Event, body []byte, timeout time.Duration) (status int, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ch.URL, bytes.NewReader(body))
	if err != nil {
		return 0, false, fmt.Errorf("notify: build request for %s: %w", RedactURL(ch.URL), sanitize(err, ch.URL))
	}
	req.Header.Set("User-Agent", userAgent)
	if ch.Type == TypeGenericWebhook {
		setWebhookHeaders(req.Header, ch, ev.Type, ev.ID, d.now().Unix(), body)
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		err = sanitize(err, ch.URL)
		if errors.Is(err, ErrBlocked) {
			return 0, false, fmt.Errorf("notify: POST %s: %w", RedactURL(ch.URL), err)
		}
		if actx.Err() != nil && ctx.Err() == nil {
			return 0, true, fmt.Errorf("notify: POST %s: no response within %s", RedactURL(ch.URL), timeout)
		}
		return 0, true, fmt.Errorf("notify: POST %s: %w", RedactURL(ch.URL), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, false, nil
	}
	err = fmt.Errorf("notify: POST %s: HTTP %d", RedactURL(ch.URL), resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		err = fmt.Errorf("%w (redirects are not followed)", err)
	}
	if s := printable(snippet); s != "" {
		err = fmt.Errorf("%w: %s", err, s)
	}
	retry = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return resp.StatusCode, retry, err
}

// sanitize removes the URL (a secret) from an HTTP client error: a
// *url.Error names the whole URL; its cause names at most host and
// address.
func sanitize(err error, rawURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if rawURL != "" && strings.Contains(err.Error(), rawURL) {
		return errors.New(strings.ReplaceAll(err.Error(), rawURL, RedactURL(rawURL)))
	}
	return err
}

// printable is a one-line, control-character-free rendering of a response
// body excerpt.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
	return strings.TrimSpace(s)
}
