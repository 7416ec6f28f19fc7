package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/proclog"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// receiver is a channel endpoint: it keeps what it was sent, verifying
// the webhook signature (secret) or the Slack payload's structure.
type receiver struct {
	t      testing.TB
	secret string // generic webhook: verify X-Jitsudo-Signature
	slack  bool

	mu     sync.Mutex
	got    []events.Event
	slacks []string
	at     map[string]time.Time // event type → first arrival
	bad    []string
}

func newReceiver(t testing.TB, slack bool) (*receiver, *httptest.Server) {
	r := &receiver{t: t, slack: slack, at: map[string]time.Time{}}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.slack {
		if err := notify.ValidateSlack(body); err != nil {
			rc.bad = append(rc.bad, err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rc.slacks = append(rc.slacks, string(body))
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := notify.Verify(rc.secret, r.Header, body, time.Now(), notify.DefaultTolerance); err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.bad = append(rc.bad, err.Error())
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, ev)
	if _, seen := rc.at[ev.Type]; !seen {
		rc.at[ev.Type] = time.Now()
	}
	w.WriteHeader(http.StatusNoContent)
}

// wait returns the first event of type typ for request id (or fails).
func (rc *receiver) wait(typ, requestID string, within time.Duration) (events.Event, time.Time) {
	rc.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		rc.mu.Lock()
		for _, ev := range rc.got {
			if ev.Type == typ && ev.Request != nil && ev.Request.ID == requestID {
				at := rc.at[typ]
				rc.mu.Unlock()
				return ev, at
			}
		}
		rc.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.t.Fatalf("no %s for %s within %s; got %d events, refused %v", typ, requestID, within, len(rc.got), rc.bad)
	return events.Event{}, time.Time{}
}

type channelOut struct {
	notify.Channel
	SigningSecret string `json:"signing_secret"`
}

func newEnvConsole(t *testing.T) (*env, *proclog.Buffer) {
	t.Helper()
	console := &proclog.Buffer{}
	return newEnvWith(t, devstack.Config{Addr: "127.0.0.1:0", Logger: quietLogger(), Console: console, TimeScale: timeScale}), console
}

// TestNotificationsEndToEnd: the whole local path — a state change's audit
// item through the streams emulator, the relay, SNS (goaws), the
// subscription endpoint and the dispatcher — reaches a signed webhook and
// a Slack channel (how fast: BenchmarkNotificationLatency), prints to the console, keeps the
// channels' secrets, and an unanswered request's expiry arrives from the
// ApprovalTimeoutWorker path.
func TestNotificationsEndToEnd(t *testing.T) {
	t.Parallel()
	e, console := newEnvConsole(t)
	admin, alice := e.admin(), e.alice()

	hook, hookSrv := newReceiver(t, false)
	slack, slackSrv := newReceiver(t, true)
	created := decodeAs[channelOut](t, e.want(http.StatusCreated, "POST", "/v1/notification-channels", admin, map[string]any{
		"name": "audit webhook", "type": "generic_webhook", "config": map[string]any{"url": hookSrv.URL + "/hook", "headers": map[string]string{"Authorization": "Bearer s3cret"}},
	}))
	if !strings.HasPrefix(created.SigningSecret, "whsec_") {
		t.Fatalf("signing secret not shown on create: %+v", created)
	}
	hook.mu.Lock()
	hook.secret = created.SigningSecret
	hook.mu.Unlock()
	e.want(http.StatusCreated, "POST", "/v1/notification-channels", admin, map[string]any{
		"name": "sre slack", "type": "slack_webhook", "event_filters": []string{"request.pending"}, "config": map[string]any{"url": slackSrv.URL},
	})

	// Secrets never come back.
	got := e.want(http.StatusOK, "GET", "/v1/notification-channels/"+created.ID, admin, nil)
	for _, secret := range []string{created.SigningSecret, "s3cret", "/hook"} {
		if strings.Contains(string(got.Body), secret) {
			t.Fatalf("GET shows a secret (%q): %s", secret, got.Body)
		}
	}
	// Not for others: a requester is no admin; another tenant sees nothing.
	e.wantErr(http.StatusForbidden, "forbidden", "GET", "/v1/notification-channels", alice, nil)
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/notification-channels/"+created.ID, e.otherAdmin(), nil)
	// SSRF: the metadata service is refused, also in local mode.
	e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/notification-channels", admin, map[string]any{
		"name": "imds", "type": "generic_webhook", "config": map[string]any{"url": "http://169.254.169.254/latest/meta-data/"},
	})

	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	ev, _ := hook.wait(events.RequestPending, r.ID, 5*time.Second)
	if ev.TenantID != e.demo.TenantID || ev.Request.RequesterID != "alice" || ev.Request.Justification != "rotate a prod secret" ||
		ev.Links.Approve == "" || ev.Version != events.Version {
		t.Errorf("request.pending event: %+v", ev)
	}
	waitFor(t, "the Slack message", 5*time.Second, func() bool {
		slack.mu.Lock()
		defer slack.mu.Unlock()
		return len(slack.slacks) == 1 && strings.Contains(slack.slacks[0], r.ID)
	})
	waitFor(t, "the console line", 5*time.Second, func() bool {
		return strings.Contains(console.String(), "request.pending") && strings.Contains(console.String(), r.ID)
	})

	// The test route delivers now and says so; the delivery is recorded.
	var tv struct {
		Delivered bool   `json:"delivered"`
		EventID   string `json:"event_id"`
	}
	if err := json.Unmarshal(e.want(http.StatusOK, "POST", "/v1/notification-channels/"+created.ID+"/test", admin, nil).Body, &tv); err != nil || !tv.Delivered {
		t.Fatalf("channel test: %+v %v", tv, err)
	}
	ch := decodeAs[channelOut](t, e.want(http.StatusOK, "GET", "/v1/notification-channels/"+created.ID, admin, nil))
	if ch.LastDeliveredAt == nil || ch.LastError != "" {
		t.Errorf("delivery status: %+v", ch.Channel)
	}

	// Nobody decides a sandbox request: it expires after its one minute,
	// and the expiry is notified.
	q := e.create(alice, accessRequest(devstack.SandboxAccount, 600, "look at the sandbox"))
	hook.wait(events.RequestPending, q.ID, 5*time.Second)
	exp, _ := hook.wait(events.RequestExpired, q.ID, e.st.Workflow.Clock.Real(time.Minute)+30*time.Second)
	if exp.Actor.ID != "approval_timeout" || exp.Severity != events.SeverityWarning {
		t.Errorf("request.expired event: %+v", exp)
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if len(hook.bad) > 0 {
		t.Errorf("refused deliveries: %v", hook.bad)
	}
}

// TestEmailChannelSubscriptions: an email channel is an SNS subscription
// per address, filtered on the tenant; updating the addresses adds and
// removes subscriptions; deleting the channel removes them all.
func TestEmailChannelSubscriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()
	subs := func() map[string]string { // endpoint → subscription ARN (email only)
		out, err := e.st.Notifications.Goaws.SNS().ListSubscriptionsByTopic(context.Background(),
			&sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(e.st.Notifications.TopicARN)})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, s := range out.Subscriptions {
			if aws.ToString(s.Protocol) == "email" {
				m[aws.ToString(s.Endpoint)] = aws.ToString(s.SubscriptionArn)
			}
		}
		return m
	}
	ch := decodeAs[channelOut](t, e.want(http.StatusCreated, "POST", "/v1/notification-channels", admin, map[string]any{
		"name": "sec team", "type": "email", "event_filters": []string{"request.break_glass", "grant.failed"},
		"config": map[string]any{"addresses": []string{"sec@acme.example", "oncall@acme.example"}},
	}))
	if s := subs(); len(s) != 2 || s["sec@acme.example"] == "" || len(ch.SubscriptionARNs) != 2 {
		t.Fatalf("subscriptions after create: %v (channel %v)", s, ch.SubscriptionARNs)
	}
	e.want(http.StatusOK, "PUT", "/v1/notification-channels/"+ch.ID, admin, map[string]any{
		"config": map[string]any{"addresses": []string{"sec@acme.example", "ciso@acme.example"}},
	})
	if s := subs(); len(s) != 2 || s["ciso@acme.example"] == "" || s["oncall@acme.example"] != "" {
		t.Fatalf("subscriptions after update: %v", s)
	}
	e.wantErr(http.StatusUnprocessableEntity, "not_testable", "POST", "/v1/notification-channels/"+ch.ID+"/test", admin, nil)
	e.want(http.StatusNoContent, "DELETE", "/v1/notification-channels/"+ch.ID, admin, nil)
	if s := subs(); len(s) != 0 {
		t.Fatalf("subscriptions after delete: %v", s)
	}
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/notification-channels/"+ch.ID, admin, nil)
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// waitFor polls cond until it holds.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkNotificationLatency: from POST /v1/requests (a pending request)
// to the signed request.pending arriving at a webhook channel, through the
// whole local path (streams emulator, relay, goaws, the /sns subscription,
// the dispatcher). The README's performance section reports it.
func BenchmarkNotificationLatency(b *testing.B) {
	st, err := devstack.Start(b.Context(), devstack.Config{Addr: "127.0.0.1:0", Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	demo, err := devstack.Seed(b.Context(), st)
	if err != nil {
		b.Fatal(err)
	}
	e := &env{t: b, st: st, demo: demo}
	hook, hookSrv := newReceiver(b, false)
	created := decodeAs[channelOut](b, e.want(http.StatusCreated, "POST", "/v1/notification-channels", e.admin(), map[string]any{
		"name": "bench", "type": "generic_webhook", "event_filters": []string{"request.pending"}, "config": map[string]any{"url": hookSrv.URL},
	}))
	hook.mu.Lock()
	hook.secret = created.SigningSecret
	hook.mu.Unlock()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// A fresh requester each time: one pending request per target.
		r := e.create(e.user(fmt.Sprintf("bench-%d", i), "engineering"), accessRequest(devstack.ProdAccount, 3600, "latency"))
		hook.wait(events.RequestPending, r.ID, 10*time.Second)
	}
}
