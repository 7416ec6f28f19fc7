package notify_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

var quiet = slog.New(slog.DiscardHandler)

// endpoint is an httptest channel endpoint that records what it gets.
type endpoint struct {
	srv   *httptest.Server
	hits  atomic.Int32
	mu    sync.Mutex
	got   []*http.Request
	body  [][]byte
	fails []string // why a request was rejected
}

func newEndpoint(t *testing.T, handle func(e *endpoint, w http.ResponseWriter, r *http.Request, body []byte)) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.got, e.body = append(e.got, r), append(e.body, body)
		e.mu.Unlock()
		handle(e, w, r, body)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) reject(w http.ResponseWriter, status int, why string) {
	e.mu.Lock()
	e.fails = append(e.fails, why)
	e.mu.Unlock()
	http.Error(w, why, status)
}

// slackEndpoint accepts only valid Block Kit (as Slack would, roughly).
func slackEndpoint(t *testing.T) *endpoint {
	return newEndpoint(t, func(e *endpoint, w http.ResponseWriter, r *http.Request, body []byte) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			e.reject(w, http.StatusBadRequest, "invalid_payload")
			return
		}
		if err := notify.ValidateSlack(body); err != nil {
			e.reject(w, http.StatusBadRequest, err.Error())
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
}

// receiver verifies signatures with the secret set once the channel
// exists.
type receiver struct {
	*endpoint
	secret atomic.Value
}

func webhookEndpoint(t *testing.T) *receiver {
	rc := &receiver{}
	rc.endpoint = newEndpoint(t, func(e *endpoint, w http.ResponseWriter, r *http.Request, body []byte) {
		secret, _ := rc.secret.Load().(string)
		if err := notify.Verify(secret, r.Header, body, time.Now(), time.Minute); err != nil {
			e.reject(w, http.StatusUnauthorized, err.Error())
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return rc
}

func statusEndpoint(t *testing.T, status int) *endpoint {
	return newEndpoint(t, func(e *endpoint, w http.ResponseWriter, _ *http.Request, _ []byte) {
		http.Error(w, "upstream says no", status)
	})
}

// hangingEndpoint never answers; it lets go when the client gives up.
func hangingEndpoint(t *testing.T) *endpoint {
	return newEndpoint(t, func(_ *endpoint, _ http.ResponseWriter, r *http.Request, _ []byte) { <-r.Context().Done() })
}

// mkChannel creates a channel through NewChannel and the store.
func mkChannel(t *testing.T, s *store.Store, tenant, id string, in notify.ChannelInput) notify.Channel {
	t.Helper()
	ch, err := notify.NewChannel(notify.ModeLocal, tenant, id, in, t0)
	mustf(t, err, "NewChannel(%s)", id)
	mustf(t, s.PutChannel(t.Context(), ch, true, 0), "PutChannel(%s)", id)
	return ch
}

func byID(res notify.Result) map[string]notify.ChannelResult {
	m := map[string]notify.ChannelResult{}
	for _, c := range res.Channels {
		m[c.ChannelID] = c
	}
	return m
}

func TestDeliverRoutesConcurrentlyAndRecords(t *testing.T) {
	t.Parallel()
	s := newStore(t, "acme", "other")
	slack, hook, named := slackEndpoint(t), webhookEndpoint(t), webhookEndpoint(t)
	hang, fail, never := hangingEndpoint(t), statusEndpoint(t, http.StatusInternalServerError), statusEndpoint(t, http.StatusTeapot)
	const secretPath = "/hooks/tok-SECRET"

	mkChannel(t, s, "acme", "c_slack", notify.ChannelInput{Name: "slack", Type: notify.TypeSlackWebhook,
		EventFilters: []string{events.RequestPending, events.GrantActive}, Config: notify.ChannelConfig{URL: slack.srv.URL + secretPath}})
	hookCh := mkChannel(t, s, "acme", "c_hook", notify.ChannelInput{Name: "hook", Type: notify.TypeGenericWebhook,
		Config: notify.ChannelConfig{URL: hook.srv.URL + secretPath, Headers: map[string]string{"Authorization": "Bearer siem"}}})
	hook.secret.Store(hookCh.SigningSecret)
	namedCh := mkChannel(t, s, "acme", "c_named", notify.ChannelInput{Name: "sre", Type: notify.TypeGenericWebhook,
		OnlyNamedByRules: boolp(true), Config: notify.ChannelConfig{URL: named.srv.URL}})
	named.secret.Store(namedCh.SigningSecret)
	mkChannel(t, s, "acme", "c_hang", notify.ChannelInput{Name: "hang", Type: notify.TypeGenericWebhook,
		Config: notify.ChannelConfig{URL: hang.srv.URL + secretPath}})
	mkChannel(t, s, "acme", "c_fail", notify.ChannelInput{Name: "fail", Type: notify.TypeSlackWebhook,
		Config: notify.ChannelConfig{URL: fail.srv.URL + secretPath}})
	// None of these may be delivered to.
	mkChannel(t, s, "acme", "c_disabled", notify.ChannelInput{Name: "off", Type: notify.TypeSlackWebhook, Enabled: boolp(false),
		Config: notify.ChannelConfig{URL: never.srv.URL}})
	mkChannel(t, s, "acme", "c_filtered", notify.ChannelInput{Name: "grants only", Type: notify.TypeSlackWebhook,
		EventFilters: []string{events.GrantActive}, Config: notify.ChannelConfig{URL: never.srv.URL}})
	mkChannel(t, s, "acme", "c_unnamed", notify.ChannelInput{Name: "dba", Type: notify.TypeSlackWebhook,
		OnlyNamedByRules: boolp(true), Config: notify.ChannelConfig{URL: never.srv.URL}})
	mkChannel(t, s, "acme", "c_email", notify.ChannelInput{Name: "mail", Type: notify.TypeEmail,
		Config: notify.ChannelConfig{Addresses: []string{"sre@example.com"}}})
	mkChannel(t, s, "other", "c_slack", notify.ChannelInput{Name: "other tenant", Type: notify.TypeSlackWebhook,
		Config: notify.ChannelConfig{URL: never.srv.URL}})

	const timeout = 400 * time.Millisecond
	d := notify.Dispatcher{Channels: s, Logger: quiet, Guard: notify.Guard{Mode: notify.ModeLocal}, Timeout: timeout, Attempts: 2, Backoff: 20 * time.Millisecond}
	ev := pendingEvent()
	ev.Channels = []string{"c_named", "c_gone"}
	start := time.Now()
	res := d.Deliver(t.Context(), ev)
	elapsed := time.Since(start)

	if res.ListErr != nil {
		t.Fatal(res.ListErr)
	}
	got := byID(res)
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range got {
			if !yield(id) {
				return
			}
		}
	})
	if want := []string{"c_fail", "c_hang", "c_hook", "c_named", "c_slack"}; !slices.Equal(ids, want) {
		t.Fatalf("delivered to %v, want %v", ids, want)
	}
	if n := never.hits.Load(); n != 0 {
		t.Fatalf("a channel that must not match got %d requests", n)
	}

	// The good endpoints were served at once, undelayed by the bad ones.
	for _, id := range []string{"c_slack", "c_hook", "c_named"} {
		r := got[id]
		if r.Err != nil || r.Attempts != 1 || r.StatusCode/100 != 2 || r.RecordErr != nil {
			t.Errorf("%s: %+v", id, r)
		}
		if r.Duration >= timeout {
			t.Errorf("%s took %v: delayed by another endpoint", id, r.Duration)
		}
	}
	for _, e := range []*endpoint{slack, hook.endpoint, named.endpoint} {
		if e.hits.Load() != 1 || len(e.fails) != 0 {
			t.Errorf("endpoint got %d requests, rejected %v", e.hits.Load(), e.fails)
		}
	}
	// The generic webhook got the signed event and its headers.
	req, body := hook.got[0], hook.body[0]
	if req.Header.Get(notify.HeaderEvent) != events.RequestPending || req.Header.Get(notify.HeaderDelivery) != ev.ID ||
		req.Header.Get("Authorization") != "Bearer siem" || req.Header.Get("Content-Type") != "application/json" {
		t.Errorf("webhook headers %v", req.Header)
	}
	var sent events.Event
	if err := json.Unmarshal(body, &sent); err != nil || sent.ID != ev.ID || sent.Request.Justification != ev.Request.Justification {
		t.Errorf("webhook body %s (%v)", body, err)
	}

	// The bad ones failed after their own attempts, each bounded.
	if r := got["c_hang"]; r.Err == nil || r.Attempts != 2 || !strings.Contains(r.Err.Error(), "no response within") {
		t.Errorf("c_hang: %+v", r)
	}
	if r := got["c_fail"]; r.Err == nil || r.Attempts != 2 || r.StatusCode != 500 || !strings.Contains(r.Err.Error(), "upstream says no") {
		t.Errorf("c_fail: %+v", r)
	}
	if hang.hits.Load() != 2 || fail.hits.Load() != 2 {
		t.Errorf("retries: hang got %d, fail got %d requests, want 2 each", hang.hits.Load(), fail.hits.Load())
	}
	if limit := 2*timeout + 2*d.Backoff + time.Second; elapsed > limit {
		t.Errorf("Deliver took %v, more than %v", elapsed, limit)
	}

	// Each outcome is on its channel; errors never carry the URL's secret.
	for _, c := range res.Failed() {
		if strings.Contains(c.Err.Error(), "tok-SECRET") {
			t.Errorf("%s: error leaks the URL: %v", c.ChannelID, c.Err)
		}
	}
	for id, wantFail := range map[string]bool{"c_slack": false, "c_hook": false, "c_named": false, "c_hang": true, "c_fail": true} {
		ch, err := s.GetChannel(t.Context(), "acme", id)
		mustf(t, err, "GetChannel(%s)", id)
		if ch.Failing() != wantFail || (ch.LastError != "") != wantFail || (ch.LastDeliveredAt != nil) == wantFail {
			t.Errorf("%s recorded: failing %v last_error %q delivered %v", id, ch.Failing(), ch.LastError, ch.LastDeliveredAt)
		}
		if strings.Contains(ch.LastError, "tok-SECRET") {
			t.Errorf("%s: recorded error leaks the URL: %s", id, ch.LastError)
		}
	}
	for _, id := range []string{"c_disabled", "c_filtered", "c_unnamed", "c_email"} {
		ch, err := s.GetChannel(t.Context(), "acme", id)
		mustf(t, err, "GetChannel(%s)", id)
		if ch.LastErrorAt != nil || ch.LastDeliveredAt != nil {
			t.Errorf("%s was not delivered to but has a status", id)
		}
	}
}

func TestDeliverRetryPolicy(t *testing.T) {
	t.Parallel()
	s := newStore(t, "acme")
	var n429 atomic.Int32
	flaky := newEndpoint(t, func(_ *endpoint, w http.ResponseWriter, _ *http.Request, _ []byte) {
		if n429.Add(1) == 1 {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	badReq, always500 := statusEndpoint(t, http.StatusBadRequest), statusEndpoint(t, http.StatusBadGateway)
	redirect := statusEndpoint(t, http.StatusFound)
	for id, u := range map[string]string{"c_flaky": flaky.srv.URL, "c_400": badReq.srv.URL, "c_502": always500.srv.URL, "c_302": redirect.srv.URL} {
		mkChannel(t, s, "acme", id, notify.ChannelInput{Name: id, Type: notify.TypeSlackWebhook, Config: notify.ChannelConfig{URL: u}})
	}
	d := notify.Dispatcher{Channels: s, Logger: quiet, Guard: notify.Guard{Mode: notify.ModeLocal}, Backoff: 10 * time.Millisecond} // default 3 attempts
	got := byID(d.Deliver(t.Context(), pendingEvent()))
	if r := got["c_flaky"]; r.Err != nil || r.Attempts != 2 {
		t.Errorf("429 then 200: %+v", r)
	}
	if r := got["c_400"]; r.Err == nil || r.Attempts != 1 || badReq.hits.Load() != 1 {
		t.Errorf("400 must not be retried: %+v, %d requests", r, badReq.hits.Load())
	}
	if r := got["c_502"]; r.Err == nil || r.Attempts != 3 || always500.hits.Load() != 3 {
		t.Errorf("502 retried to the limit: %+v, %d requests", r, always500.hits.Load())
	}
	if r := got["c_302"]; r.Err == nil || r.Attempts != 1 || !strings.Contains(r.Err.Error(), "redirects are not followed") {
		t.Errorf("302: %+v", r)
	}
}

// AWS mode: a stored channel pointing at loopback (stored before a rule
// change, or by a bug) is refused before any request, and recorded.
func TestDeliverRefusesBlockedDestinations(t *testing.T) {
	t.Parallel()
	s := newStore(t, "acme")
	srv, conns := connCounter(t, func(w http.ResponseWriter, _ *http.Request) {})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for id, u := range map[string]string{
		"c_literal":  srv.URL + "/x",
		"c_metadata": "http://169.254.169.254/latest/meta-data",
		"c_decimal":  "https://2130706433:" + port + "/x",
		"c_slack":    "https://rebind.example:" + port + "/x", // a "Slack" channel off hooks.slack.com
	} {
		typ := notify.TypeGenericWebhook
		if id == "c_slack" {
			typ = notify.TypeSlackWebhook
		}
		ch := notify.Channel{ID: id, TenantID: "acme", Name: id, Type: typ, Enabled: true, URL: u,
			SigningSecret: notify.NewSigningSecret(), CreatedAt: t0, UpdatedAt: t0, Version: 1}
		mustf(t, s.PutChannel(t.Context(), ch, true, 0), "PutChannel")
	}
	d := notify.Dispatcher{Channels: s, Logger: quiet, Guard: notify.Guard{Mode: notify.ModeAWS, Resolver: dns()}}
	res := d.Deliver(t.Context(), pendingEvent())
	if len(res.Channels) != 4 {
		t.Fatalf("results %+v", res)
	}
	for _, r := range res.Channels {
		if !errors.Is(r.Err, notify.ErrBlocked) || r.Attempts != 0 {
			t.Errorf("%s: %+v, want ErrBlocked before any attempt", r.ChannelID, r)
		}
		ch, err := s.GetChannel(t.Context(), "acme", r.ChannelID)
		mustf(t, err, "GetChannel")
		if !strings.Contains(ch.LastError, "not allowed") {
			t.Errorf("%s: recorded %q", r.ChannelID, ch.LastError)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the server", n)
	}
}

// DNS rebinding: the name is public when checked and loopback when dialed.
// The dialer's own check refuses it.
func TestDeliverRefusesDNSRebinding(t *testing.T) {
	t.Parallel()
	s := newStore(t, "acme")
	srv, conns := connCounter(t, func(w http.ResponseWriter, _ *http.Request) {})
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	ch := notify.Channel{ID: "c_1", TenantID: "acme", Name: "x", Type: notify.TypeGenericWebhook, Enabled: true,
		URL: "https://rebind.example:" + port + "/hook", SigningSecret: notify.NewSigningSecret(), CreatedAt: t0, UpdatedAt: t0, Version: 1}
	mustf(t, s.PutChannel(t.Context(), ch, true, 0), "PutChannel")
	dns := resolver(map[string][][]string{"rebind.example": {{"93.184.215.14"}, {"127.0.0.1"}}})
	guard := notify.Guard{Mode: notify.ModeAWS, Resolver: dns}
	// At check time the name looks public: the check alone cannot tell.
	if err := guard.CheckURL(t.Context(), ch.URL); err != nil {
		t.Fatalf("CheckURL: %v", err)
	}
	dns.calls = map[string]int{} // start over: public for Deliver's check, loopback for the dial
	d := notify.Dispatcher{Channels: s, Logger: quiet, Guard: guard, Attempts: 3, Backoff: time.Millisecond}
	r := d.DeliverTo(t.Context(), ch, pendingEvent())
	if !errors.Is(r.Err, notify.ErrBlocked) || r.Attempts != 1 {
		t.Fatalf("rebound delivery: %+v (err %v), want ErrBlocked on the first attempt, not retried", r, r.Err)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("%d connections reached 127.0.0.1", n)
	}
}

// DeliverTo (the channel test endpoint) ignores enabled and filters, and
// records the outcome; a channel.test event sent through Deliver reaches
// only the channel it names.
func TestDeliverToAndTestEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t, "acme")
	slack, other := slackEndpoint(t), slackEndpoint(t)
	ch := mkChannel(t, s, "acme", "c_off", notify.ChannelInput{Name: "off", Type: notify.TypeSlackWebhook, Enabled: boolp(false),
		EventFilters: []string{events.GrantActive}, Config: notify.ChannelConfig{URL: slack.srv.URL}})
	mkChannel(t, s, "acme", "c_other", notify.ChannelInput{Name: "other", Type: notify.TypeSlackWebhook, Config: notify.ChannelConfig{URL: other.srv.URL}})
	mail := mkChannel(t, s, "acme", "c_mail", notify.ChannelInput{Name: "mail", Type: notify.TypeEmail, Config: notify.ChannelConfig{Addresses: []string{"a@example.com"}}})
	d := notify.Dispatcher{Channels: s, Logger: quiet, Guard: notify.Guard{Mode: notify.ModeLocal}}

	test := notify.NewTestEvent(ch, events.Actor{ID: "admin", Type: "user"}, time.Now())
	if r := d.DeliverTo(t.Context(), ch, test); r.Err != nil || slack.hits.Load() != 1 {
		t.Fatalf("DeliverTo: %+v", r)
	}
	stored, err := s.GetChannel(t.Context(), "acme", "c_off")
	mustf(t, err, "GetChannel")
	if stored.LastDeliveredAt == nil {
		t.Fatal("test delivery not recorded")
	}
	if r := d.DeliverTo(t.Context(), mail, test); !errors.Is(r.Err, notify.ErrEmailChannel) {
		t.Fatalf("email: %v", r.Err)
	}

	ch2, err := s.GetChannel(t.Context(), "acme", "c_other")
	mustf(t, err, "GetChannel")
	res := d.Deliver(t.Context(), notify.NewTestEvent(ch2, events.Actor{ID: "admin", Type: "user"}, time.Now()))
	if len(res.Channels) != 1 || res.Channels[0].ChannelID != "c_other" || other.hits.Load() != 1 || slack.hits.Load() != 1 {
		t.Fatalf("a test event went to %+v", res.Channels)
	}
}

func TestDeliverListFailure(t *testing.T) {
	t.Parallel()
	s := newStore(t, "acme")
	d := notify.Dispatcher{Channels: s}
	ev := pendingEvent()
	ev.TenantID = "Not#A#Tenant"
	if res := d.Deliver(t.Context(), ev); !errors.Is(res.ListErr, store.ErrInvalidTenant) || len(res.Channels) != 0 {
		t.Fatalf("Deliver = %+v", res)
	}
}
