package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

func TestPublicRedactsSecrets(t *testing.T) {
	t.Parallel()
	ch, err := notify.NewChannel(notify.ModeAWS, "acme", "ch_1",
		hookInput("https://siem.example.com:8443/in/tok-SECRET?key=SECRET2", map[string]string{"Authorization": "Bearer SECRET3"}), t0)
	mustf(t, err, "NewChannel")
	at := t0.Add(time.Minute)
	ch.LastErrorAt = &at
	pub := ch.Public()
	body, err := json.Marshal(pub)
	mustf(t, err, "marshal")
	for _, secret := range []string{"SECRET", ch.SigningSecret, "whsec_"} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("public view contains %q: %s", secret, body)
		}
	}
	if pub.URL != "https://siem.example.com:8443/…" || pub.Headers["Authorization"] != notify.Redacted {
		t.Fatalf("public url %q headers %v", pub.URL, pub.Headers)
	}
	// A deep copy: changing it leaves the channel alone.
	pub.Headers["Authorization"] = "x"
	*pub.LastErrorAt = t0
	if ch.Headers["Authorization"] != "Bearer SECRET3" || !ch.LastErrorAt.Equal(at) {
		t.Fatal("Public shares state with the channel")
	}
	if notify.RedactURL("::not a url") != notify.Redacted {
		t.Fatal("unparseable URL not redacted")
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	base := notify.Channel{ID: "ch_1", TenantID: "acme", Type: notify.TypeSlackWebhook, Enabled: true}
	pending := events.Event{Type: events.RequestPending, TenantID: "acme"}
	named := pending
	named.Channels = []string{"ch_other", "ch_1"}
	with := func(f func(*notify.Channel)) notify.Channel { c := base; f(&c); return c }
	cases := []struct {
		name string
		ch   notify.Channel
		ev   events.Event
		want bool
	}{
		{"all events", base, pending, true},
		{"named too", base, named, true},
		{"other tenant", base, events.Event{Type: events.RequestPending, TenantID: "evil"}, false},
		{"disabled", with(func(c *notify.Channel) { c.Enabled = false }), named, false},
		{"filter passes", with(func(c *notify.Channel) { c.EventFilters = []string{events.GrantActive, events.RequestPending} }), pending, true},
		{"filter blocks", with(func(c *notify.Channel) { c.EventFilters = []string{events.GrantActive} }), pending, false},
		{"filter blocks named", with(func(c *notify.Channel) { c.EventFilters = []string{events.GrantActive} }), named, false},
		{"only named, not named", with(func(c *notify.Channel) { c.OnlyNamedByRules = true }), pending, false},
		{"only named, named", with(func(c *notify.Channel) { c.OnlyNamedByRules = true }), named, true},
		{"test event names another", base, events.Event{Type: events.ChannelTest, TenantID: "acme", Channels: []string{"ch_2"}}, false},
		{"test event names it, filters aside", with(func(c *notify.Channel) { c.EventFilters = []string{events.GrantActive} }),
			events.Event{Type: events.ChannelTest, TenantID: "acme", Channels: []string{"ch_1"}}, true},
	}
	for _, c := range cases {
		if got := notify.Matches(c.ch, c.ev); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNewTestEvent(t *testing.T) {
	t.Parallel()
	ch := notify.Channel{ID: "ch_1", TenantID: "acme", Enabled: true, OnlyNamedByRules: true}
	ev := notify.NewTestEvent(ch, events.Actor{ID: "admin", Type: "user"}, t0)
	if ev.Type != events.ChannelTest || ev.TenantID != "acme" || ev.ID == "" || ev.Version != events.Version || !notify.Matches(ch, ev) {
		t.Fatalf("NewTestEvent = %+v", ev)
	}
	if id := notify.NewChannelID(t0); !strings.HasPrefix(id, "ch_") || len(id) != 29 || id >= notify.NewChannelID(t0.Add(time.Millisecond)) {
		t.Fatalf("NewChannelID = %q", id)
	}
}
