package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func post(t *testing.T, h http.Handler, body []byte, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func signedHeader(secret, id string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set(notify.HeaderDelivery, id)
	h.Set(notify.HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(notify.HeaderSignature, notify.Sign(secret, ts.Unix(), body))
	return h
}

func TestReceiverVerifiesSignatures(t *testing.T) {
	secret := notify.NewSigningSecret()
	var out bytes.Buffer
	h := newHandler(secret, time.Minute, &out, func() time.Time { return now })
	body := []byte(`{"version":1,"id":"evt_1","type":"request.pending","tenant_id":"acme","occurred_at":"2026-03-01T12:00:00Z"}`)

	if w := post(t, h, body, signedHeader(secret, "evt_1", now, body)); w.Code != http.StatusNoContent {
		t.Fatalf("signed: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(out.String(), "request.pending tenant=acme id=evt_1") {
		t.Fatalf("not printed: %q", out.String())
	}

	tampered := bytes.Replace(body, []byte("acme"), []byte("evil"), 1)
	out.Reset()
	for name, c := range map[string]struct {
		body   []byte
		header http.Header
	}{
		"tampered body": {tampered, signedHeader(secret, "evt_1", now, body)},
		"wrong secret":  {body, signedHeader("whsec_guess", "evt_1", now, body)},
		"replayed":      {body, signedHeader(secret, "evt_1", now.Add(-2*time.Minute), body)},
		"unsigned":      {body, http.Header{}},
	} {
		if w := post(t, h, c.body, c.header); w.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, w.Code)
		}
	}
	if out.Len() != 0 {
		t.Fatalf("rejected deliveries were printed: %q", out.String())
	}
	// A redelivery is acknowledged, not printed twice.
	if w := post(t, h, body, signedHeader(secret, "evt_1", now, body)); w.Code != http.StatusNoContent || out.Len() != 0 {
		t.Fatalf("redelivery: %d, printed %q", w.Code, out.String())
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", w.Code)
	}
}

// End to end: a real Dispatcher delivery to this receiver verifies, and
// the outcome is recorded on the stored channel.
func TestReceiverAcceptsDispatcherDeliveries(t *testing.T) {
	s, _, _ := dynamotest.New(t)
	hash := sha256.Sum256([]byte("acme"))
	err := s.CreateTenant(t.Context(), store.Tenant{ID: "acme", Name: "acme", CreatedAt: now}, store.APIKey{
		ID: "key_1", Name: "first", Hash: hex.EncodeToString(hash[:]), Prefix: "jsk_x", Scopes: []string{"admin"}, CreatedBy: "test", CreatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var h http.Handler // set once the channel (and its secret) exists
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	defer srv.Close()
	ch, err := notify.NewChannel(notify.ModeLocal, "acme", "ch_1", notify.ChannelInput{
		Name: "receiver", Type: notify.TypeGenericWebhook, Config: notify.ChannelConfig{URL: srv.URL + "/hook"},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutChannel(t.Context(), ch, true, 0); err != nil {
		t.Fatal(err)
	}
	h = newHandler(ch.SigningSecret, time.Minute, &out, time.Now)

	d := notify.Dispatcher{Channels: s, Guard: notify.Guard{Mode: notify.ModeLocal}, Logger: slog.New(slog.DiscardHandler)}
	r := d.DeliverTo(t.Context(), ch, notify.NewTestEvent(ch, events.Actor{ID: "admin", Type: "user"}, time.Now()))
	if r.Err != nil || r.StatusCode != http.StatusNoContent {
		t.Fatalf("delivery: %+v", r)
	}
	if !strings.Contains(out.String(), "channel.test tenant=acme") {
		t.Fatalf("not printed: %q", out.String())
	}
	stored, err := s.GetChannel(t.Context(), "acme", "ch_1")
	if err != nil || stored.LastDeliveredAt == nil || stored.Failing() {
		t.Fatalf("recorded: %+v, %v", stored, err)
	}
}
