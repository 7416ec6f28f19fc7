package store_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The Dispatcher reads channels and records outcomes through the store.
var _ notify.ChannelStore = (*store.Store)(nil)

func boolp(b bool) *bool { return &b }

// newWebhook is a valid generic webhook channel of tenant, as the API
// would build it.
func newWebhook(t *testing.T, tenant, id string) notify.Channel {
	t.Helper()
	ch, err := notify.NewChannel(notify.ModeAWS, tenant, id, notify.ChannelInput{
		Name: "hook " + id, Type: notify.TypeGenericWebhook,
		EventFilters:     []string{events.RequestPending, events.GrantActive},
		OnlyNamedByRules: boolp(true),
		Config: notify.ChannelConfig{
			URL:     "https://hooks.example.com/jitsudo/" + id + "?token=s3cret",
			Headers: map[string]string{"Authorization": "Bearer abc"},
		},
	}, t0)
	if err != nil {
		t.Fatalf("NewChannel: %v", err)
	}
	return ch
}

func newEmail(t *testing.T, tenant, id string) notify.Channel {
	t.Helper()
	ch, err := notify.NewChannel(notify.ModeAWS, tenant, id, notify.ChannelInput{
		Name: "mail " + id, Type: notify.TypeEmail,
		Config: notify.ChannelConfig{Addresses: []string{"sre@example.com", "oncall@example.com"}},
	}, t0)
	if err != nil {
		t.Fatalf("NewChannel: %v", err)
	}
	ch.SubscriptionARNs = map[string]string{"sre@example.com": "arn:aws:sns:us-east-1:123456789012:topic:1"}
	return ch
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func getChannel(t *testing.T, s *store.Store, tenant, id string) notify.Channel {
	t.Helper()
	ch, err := s.GetChannel(t.Context(), tenant, id)
	if err != nil {
		t.Fatalf("GetChannel(%s, %s): %v", tenant, id, err)
	}
	return ch
}

func TestChannelCreateGetListDelete(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	hook, mail := newWebhook(t, "acme", "ch_b"), newEmail(t, "acme", "ch_a")
	for _, ch := range []notify.Channel{hook, mail} {
		if err := s.PutChannel(ctx, ch, true, 0); err != nil {
			t.Fatalf("PutChannel(create %s): %v", ch.ID, err)
		}
	}
	// Every field round-trips, secrets included (the store is not where
	// they are hidden: the API returns Public()).
	if got := getChannel(t, s, "acme", "ch_b"); jsonOf(t, got) != jsonOf(t, hook) {
		t.Fatalf("GetChannel:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, hook))
	}
	if got := getChannel(t, s, "acme", "ch_a"); jsonOf(t, got) != jsonOf(t, mail) {
		t.Fatalf("GetChannel:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, mail))
	}

	wantErr(t, s.PutChannel(ctx, hook, true, 0), store.ErrConflict)
	wantErr(t, s.PutChannel(ctx, newWebhook(t, "nobody", "ch_x"), true, 0), store.ErrNotFound)

	all, err := s.ListChannels(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].ID != "ch_a" || all[1].ID != "ch_b" {
		t.Fatalf("ListChannels = %v, want ch_a, ch_b", all)
	}
	page, next, err := s.ListChannelsPage(ctx, "acme", store.Page{Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != "ch_a" || next == "" {
		t.Fatalf("ListChannelsPage 1 = %v, %q, %v", page, next, err)
	}
	page, next, err = s.ListChannelsPage(ctx, "acme", store.Page{Limit: 1, Cursor: next})
	if err != nil || len(page) != 1 || page[0].ID != "ch_b" || next != "" {
		t.Fatalf("ListChannelsPage 2 = %v, %q, %v", page, next, err)
	}

	if err := s.DeleteChannel(ctx, "acme", "ch_b"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetChannel(ctx, "acme", "ch_b")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteChannel(ctx, "acme", "ch_b"), store.ErrNotFound)
	if all, _ := s.ListChannels(ctx, "acme"); len(all) != 1 {
		t.Fatalf("after delete: %d channels, want 1", len(all))
	}
}

func TestChannelUpdateIsVersioned(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	cur := newWebhook(t, "acme", "ch_1")
	if err := s.PutChannel(ctx, cur, true, 0); err != nil {
		t.Fatal(err)
	}
	next, err := notify.UpdateChannel(notify.ModeAWS, cur, notify.ChannelInput{
		Name:         "renamed",
		EventFilters: []string{},                                         // clear: every type
		Config:       notify.ChannelConfig{Headers: map[string]string{}}, // clear
	}, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	next.CreatedAt = t0.Add(99 * time.Hour) // must not be written
	if err := s.PutChannel(ctx, next, false, cur.Version); err != nil {
		t.Fatalf("PutChannel(update): %v", err)
	}
	got := getChannel(t, s, "acme", "ch_1")
	if got.Name != "renamed" || got.Version != 2 || !got.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after update: name %q version %d updated %v", got.Name, got.Version, got.UpdatedAt)
	}
	if got.EventFilters != nil || got.Headers != nil {
		t.Fatalf("cleared fields still stored: filters %v headers %v", got.EventFilters, got.Headers)
	}
	if !got.CreatedAt.Equal(t0) {
		t.Fatalf("created_at = %v, want %v (kept)", got.CreatedAt, t0)
	}
	if got.URL != cur.URL || got.SigningSecret != cur.SigningSecret {
		t.Fatal("update lost the URL or signing secret")
	}

	// The same update again: its expected version is stale.
	wantErr(t, s.PutChannel(ctx, next, false, cur.Version), store.ErrConflict)
	// A write that does not produce expectVersion+1.
	wantErr(t, s.PutChannel(ctx, got, false, got.Version), store.ErrInvalidInput)
	bad := newWebhook(t, "acme", "ch_v")
	bad.Version = 3
	wantErr(t, s.PutChannel(ctx, bad, true, 0), store.ErrInvalidInput)
	// Updating a channel that does not exist.
	ghost := newWebhook(t, "acme", "ch_ghost")
	ghost.Version = 2
	wantErr(t, s.PutChannel(ctx, ghost, false, 1), store.ErrNotFound)
	if _, err := s.GetChannel(ctx, "acme", "ch_ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a failed update created the channel: %v", err)
	}
}

func TestChannelRecordDelivery(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	ch := newWebhook(t, "acme", "ch_1")
	if err := s.PutChannel(ctx, ch, true, 0); err != nil {
		t.Fatal(err)
	}
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	long := "HTTP 500: " + strings.Repeat("é", 3000)
	if err := s.RecordDelivery(ctx, "acme", "ch_1", t1, errors.New(long)); err != nil {
		t.Fatal(err)
	}
	got := getChannel(t, s, "acme", "ch_1")
	if !strings.HasPrefix(got.LastError, "HTTP 500: ") || utf8.RuneCountInString(got.LastError) > 1000 {
		t.Fatalf("last_error = %d runes %q…", utf8.RuneCountInString(got.LastError), got.LastError[:20])
	}
	if got.LastErrorAt == nil || !got.LastErrorAt.Equal(t1) || got.LastDeliveredAt != nil || !got.Failing() {
		t.Fatalf("after failure: at %v delivered %v failing %v", got.LastErrorAt, got.LastDeliveredAt, got.Failing())
	}
	if got.Version != 1 {
		t.Fatalf("RecordDelivery moved the version to %d", got.Version)
	}

	// An admin update based on a read from before the failure keeps the
	// recorded status (it is not the update's to write).
	next, err := notify.UpdateChannel(notify.ModeAWS, ch, notify.ChannelInput{Name: "renamed"}, t2)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutChannel(ctx, next, false, 1); err != nil {
		t.Fatalf("update after a delivery: %v", err)
	}
	if got := getChannel(t, s, "acme", "ch_1"); got.LastErrorAt == nil || got.LastError == "" {
		t.Fatal("an update erased the delivery status")
	}

	if err := s.RecordDelivery(ctx, "acme", "ch_1", t2, nil); err != nil {
		t.Fatal(err)
	}
	got = getChannel(t, s, "acme", "ch_1")
	if got.LastDeliveredAt == nil || !got.LastDeliveredAt.Equal(t2) || got.Failing() {
		t.Fatalf("after success: delivered %v failing %v", got.LastDeliveredAt, got.Failing())
	}
	if got.LastError == "" || !got.LastErrorAt.Equal(t1) || got.Version != 2 {
		t.Fatalf("success must keep the last error and the version: %q %v v%d", got.LastError, got.LastErrorAt, got.Version)
	}

	// Never on a channel that is gone, and never re-creating it.
	if err := s.DeleteChannel(ctx, "acme", "ch_1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RecordDelivery(ctx, "acme", "ch_1", t2, nil), store.ErrNotFound)
	_, err = s.GetChannel(ctx, "acme", "ch_1")
	wantErr(t, err, store.ErrNotFound)
}

func TestChannelTenantIsolation(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme", "evil")
	ctx := t.Context()
	mine := newWebhook(t, "acme", "ch_shared_id")
	if err := s.PutChannel(ctx, mine, true, 0); err != nil {
		t.Fatal(err)
	}

	_, err := s.GetChannel(ctx, "evil", "ch_shared_id")
	wantErr(t, err, store.ErrNotFound)
	if got, err := s.ListChannels(ctx, "evil"); err != nil || len(got) != 0 {
		t.Fatalf("evil lists %v, %v", got, err)
	}
	wantErr(t, s.DeleteChannel(ctx, "evil", "ch_shared_id"), store.ErrNotFound)
	wantErr(t, s.RecordDelivery(ctx, "evil", "ch_shared_id", t0, errors.New("x")), store.ErrNotFound)
	// An update addressed to evil's partition cannot reach acme's item,
	// even with the right id and version.
	hijack := mine
	hijack.TenantID, hijack.Version, hijack.URL = "evil", 2, "https://attacker.example/x"
	wantErr(t, s.PutChannel(ctx, hijack, false, 1), store.ErrNotFound)
	// The same id in evil's own partition is a different channel.
	theirs := newWebhook(t, "evil", "ch_shared_id")
	if err := s.PutChannel(ctx, theirs, true, 0); err != nil {
		t.Fatalf("same id in another tenant: %v", err)
	}
	if got := getChannel(t, s, "acme", "ch_shared_id"); jsonOf(t, got) != jsonOf(t, mine) {
		t.Fatalf("acme's channel changed:\n got %s\nwant %s", jsonOf(t, got), jsonOf(t, mine))
	}
	// A cursor from acme's list is refused for evil's.
	if err := s.PutChannel(ctx, newWebhook(t, "acme", "ch_z"), true, 0); err != nil {
		t.Fatal(err)
	}
	_, next, err := s.ListChannelsPage(ctx, "acme", store.Page{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("ListChannelsPage: %q %v", next, err)
	}
	_, _, err = s.ListChannelsPage(ctx, "evil", store.Page{Limit: 1, Cursor: next})
	wantErr(t, err, store.ErrBadCursor)
}

func TestChannelInputChecks(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	ch := newWebhook(t, "acme", "ch_1")
	bad := ch
	bad.TenantID = "Not#Valid"
	wantErr(t, s.PutChannel(ctx, bad, true, 0), store.ErrInvalidTenant)
	bad = ch
	bad.ID = ""
	wantErr(t, s.PutChannel(ctx, bad, true, 0), store.ErrInvalidInput)
	bad.ID = strings.Repeat("x", 201)
	wantErr(t, s.PutChannel(ctx, bad, true, 0), store.ErrInvalidInput)
	_, err := s.GetChannel(ctx, "acme", "")
	wantErr(t, err, store.ErrInvalidInput)
	_, err = s.ListChannels(ctx, "T#acme")
	wantErr(t, err, store.ErrInvalidTenant)
}
