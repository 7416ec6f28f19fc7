package notify_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

func slackInput(url string) notify.ChannelInput {
	return notify.ChannelInput{Name: "alerts", Type: notify.TypeSlackWebhook, Config: notify.ChannelConfig{URL: url}}
}

func hookInput(url string, headers map[string]string) notify.ChannelInput {
	return notify.ChannelInput{Name: "siem", Type: notify.TypeGenericWebhook, Config: notify.ChannelConfig{URL: url, Headers: headers}}
}

func emailInput(addrs ...string) notify.ChannelInput {
	return notify.ChannelInput{Name: "mail", Type: notify.TypeEmail, Config: notify.ChannelConfig{Addresses: addrs}}
}

const slackURL = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"

func fieldsOf(errs []notify.FieldError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func TestValidate(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range notify.MaxHeaders + 1 {
		many["X-H"+strings.Repeat("a", i)] = "v"
	}
	addrs := make([]string, notify.MaxAddresses+1)
	for i := range addrs {
		addrs[i] = "a" + strings.Repeat("x", i) + "@example.com"
	}
	with := func(in notify.ChannelInput, f func(*notify.ChannelInput)) notify.ChannelInput { f(&in); return in }
	cases := []struct {
		name   string
		mode   notify.Mode
		in     notify.ChannelInput
		fields []string // the fields reported; nil: valid
	}{
		{"slack", notify.ModeAWS, slackInput(slackURL), nil},
		{"slack workflow", notify.ModeAWS, slackInput("https://hooks.slack.com/triggers/T0/1/abc"), nil},
		{"slack elsewhere", notify.ModeAWS, slackInput("https://hooks.example.com/services/T/B/X"), []string{"config.url"}},
		{"slack lookalike", notify.ModeAWS, slackInput("https://hooks.slack.com.evil.example/services/x"), []string{"config.url"}},
		{"slack port", notify.ModeAWS, slackInput("https://hooks.slack.com:8443/services/x"), []string{"config.url"}},
		{"slack no path", notify.ModeAWS, slackInput("https://hooks.slack.com/"), []string{"config.url"}},
		{"slack local stand-in", notify.ModeLocal, slackInput("http://127.0.0.1:9000/slack"), nil},
		{"slack http", notify.ModeAWS, slackInput("http://hooks.slack.com/services/x"), []string{"config.url"}},
		{"no url", notify.ModeAWS, slackInput(""), []string{"config.url"}},
		{"url userinfo", notify.ModeAWS, hookInput("https://u:p@siem.example.com/in", nil), []string{"config.url"}},
		{"url fragment", notify.ModeAWS, hookInput("https://siem.example.com/in#x", nil), []string{"config.url"}},
		{"url IP", notify.ModeAWS, hookInput("https://10.0.0.5/in", nil), []string{"config.url"}},
		{"url metadata", notify.ModeAWS, hookInput("http://169.254.169.254/latest/meta-data", nil), []string{"config.url"}},
		{"url local loopback http", notify.ModeLocal, hookInput("http://localhost:9099/in", nil), nil},
		{"url local non-loopback http", notify.ModeLocal, hookInput("http://siem.example.com/in", nil), []string{"config.url"}},
		{"url too long", notify.ModeAWS, hookInput("https://siem.example.com/"+strings.Repeat("a", 2048), nil), []string{"config.url"}},
		{"webhook headers", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"Authorization": "Bearer x", "X-Tenant": "a\tb"}), nil},
		{"header name", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"Bad Name": "v"}), []string{"config.headers.Bad Name"}},
		{"header host", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"host": "v"}), []string{"config.headers.host"}},
		{"header content-type", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"Content-Type": "text/plain"}), []string{"config.headers.Content-Type"}},
		{"header content-length", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"Content-Length": "1"}), []string{"config.headers.Content-Length"}},
		{"header jitsudo", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"x-jitsudo-signature": "v1=0"}), []string{"config.headers.x-jitsudo-signature"}},
		{"header CRLF", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"X-A": "v\r\nX-Injected: 1"}), []string{"config.headers.X-A"}},
		{"header LF", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"X-A": "v\nw"}), []string{"config.headers.X-A"}},
		{"header long", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"X-A": strings.Repeat("v", 1025)}), []string{"config.headers.X-A"}},
		{"header duplicate", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"X-A": "1", "x-a": "2"}), []string{"config.headers.x-a"}},
		{"header redacted", notify.ModeAWS, hookInput("https://siem.example.com/in", map[string]string{"X-A": notify.Redacted}), []string{"config.headers.X-A"}},
		{"too many headers", notify.ModeAWS, hookInput("https://siem.example.com/in", many), []string{"config.headers"}},
		{"headers on slack", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Config.Headers = map[string]string{"X-A": "1"} }), []string{"config.headers"}},
		{"email", notify.ModeAWS, emailInput("sre@example.com", "oncall+jit@corp.example.org"), nil},
		{"email display name", notify.ModeAWS, emailInput("SRE <sre@example.com>"), []string{"config.addresses[0]"}},
		{"email angle", notify.ModeAWS, emailInput("<sre@example.com>"), []string{"config.addresses[0]"}},
		{"email no domain dot", notify.ModeAWS, emailInput("sre@localhost"), []string{"config.addresses[0]"}},
		{"email domain literal", notify.ModeAWS, emailInput("sre@[10.0.0.1]"), []string{"config.addresses[0]"}},
		{"email junk", notify.ModeAWS, emailInput("ok@example.com", "not an address"), []string{"config.addresses[1]"}},
		{"email none", notify.ModeAWS, emailInput(), []string{"config.addresses"}},
		{"email too many", notify.ModeAWS, emailInput(addrs...), []string{"config.addresses"}},
		{"email with url", notify.ModeAWS, with(emailInput("a@example.com"), func(in *notify.ChannelInput) { in.Config.URL = slackURL }), []string{"config.url"}},
		{"addresses on webhook", notify.ModeAWS, with(hookInput("https://siem.example.com/in", nil), func(in *notify.ChannelInput) { in.Config.Addresses = []string{"a@example.com"} }), []string{"config.addresses"}},
		{"no name", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Name = "  " }), []string{"name"}},
		{"long name", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Name = strings.Repeat("é", 101) }), []string{"name"}},
		{"100 chars", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Name = strings.Repeat("é", 100) }), nil},
		{"control in name", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Name = "a\x00b" }), []string{"name"}},
		{"bidi override in name", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Name = "ops\u202Egnp" }), []string{"name"}},
		{"zero-width space in name", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Name = "o\u200bps" }), []string{"name"}},
		{"unknown type", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) { in.Type = "pager" }), []string{"type"}},
		{"filters", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) {
			in.EventFilters = []string{events.RequestPending, events.GrantActive, events.RequestPending}
		}), nil},
		{"unknown filter", notify.ModeAWS, with(slackInput(slackURL), func(in *notify.ChannelInput) {
			in.EventFilters = []string{events.RequestPending, "request.*"}
		}), []string{"event_filters[1]"}},
	}
	for _, c := range cases {
		got := fieldsOf(c.in.Validate(c.mode))
		if !slices.Equal(got, c.fields) {
			t.Errorf("%s: fields %q, want %q (%v)", c.name, got, c.fields, c.in.Validate(c.mode))
		}
	}
}

func TestNewChannel(t *testing.T) {
	t.Parallel()
	in := hookInput("https://siem.example.com/in", map[string]string{"Authorization": "Bearer x"})
	in.EventFilters = []string{events.GrantActive, events.RequestPending, events.GrantActive}
	in.Name = "  SIEM  "
	ch, err := notify.NewChannel(notify.ModeAWS, "acme", "ch_1", in, t0)
	mustf(t, err, "NewChannel")
	if !ch.Enabled || ch.Version != 1 || ch.Name != "SIEM" || !ch.CreatedAt.Equal(t0) || !ch.UpdatedAt.Equal(t0) {
		t.Fatalf("NewChannel = %+v", ch)
	}
	if !slices.Equal(ch.EventFilters, []string{events.GrantActive, events.RequestPending}) {
		t.Fatalf("filters not deduplicated: %v", ch.EventFilters)
	}
	if !strings.HasPrefix(ch.SigningSecret, notify.SigningSecretPrefix) || len(ch.SigningSecret) != len(notify.SigningSecretPrefix)+64 {
		t.Fatalf("signing secret %q", ch.SigningSecret)
	}
	other, _ := notify.NewChannel(notify.ModeAWS, "acme", "ch_2", in, t0)
	if other.SigningSecret == ch.SigningSecret {
		t.Fatal("two channels got the same signing secret")
	}
	in.Enabled = boolp(false)
	if ch, _ := notify.NewChannel(notify.ModeAWS, "acme", "ch_3", in, t0); ch.Enabled {
		t.Fatal("enabled: false ignored")
	}
	mail, err := notify.NewChannel(notify.ModeAWS, "acme", "ch_4", emailInput("a@example.com", "A@EXAMPLE.COM", "b@example.com"), t0)
	mustf(t, err, "NewChannel(email)")
	if !slices.Equal(mail.Addresses, []string{"a@example.com", "b@example.com"}) || mail.SigningSecret != "" {
		t.Fatalf("email channel %+v", mail)
	}
	_, err = notify.NewChannel(notify.ModeAWS, "acme", "ch_5", slackInput("https://evil.example/x"), t0)
	var ve *notify.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "config.url" {
		t.Fatalf("err = %v, want a ValidationError on config.url", err)
	}
}

func TestUpdateChannelMerges(t *testing.T) {
	t.Parallel()
	in := hookInput("https://siem.example.com/in?token=abc", map[string]string{"Authorization": "Bearer x", "X-Team": "sre"})
	in.EventFilters = []string{events.RequestPending}
	cur, err := notify.NewChannel(notify.ModeAWS, "acme", "ch_1", in, t0)
	mustf(t, err, "NewChannel")
	cur.SubscriptionARNs = map[string]string{"x": "y"}
	failedAt := t0.Add(time.Minute)
	cur.LastError, cur.LastErrorAt = "HTTP 500", &failedAt
	later := t0.Add(time.Hour)

	// What a client reads back (Public) and re-sends, with one change:
	// nothing secret is lost.
	pub := cur.Public()
	next, err := notify.UpdateChannel(notify.ModeAWS, cur, notify.ChannelInput{
		Enabled: boolp(false),
		Config:  notify.ChannelConfig{Headers: pub.Headers},
	}, later)
	mustf(t, err, "UpdateChannel")
	if next.URL != cur.URL || next.Headers["Authorization"] != "Bearer x" || next.Headers["X-Team"] != "sre" {
		t.Fatalf("secrets lost: url %q headers %v", next.URL, next.Headers)
	}
	if next.Enabled || next.Name != cur.Name || !slices.Equal(next.EventFilters, cur.EventFilters) {
		t.Fatalf("merge: %+v", next)
	}
	if next.Version != 2 || !next.UpdatedAt.Equal(later) || !next.CreatedAt.Equal(t0) || next.SigningSecret != cur.SigningSecret ||
		next.LastError != "HTTP 500" || next.SubscriptionARNs["x"] != "y" {
		t.Fatalf("bookkeeping: %+v", next)
	}

	// Clearing with empty values; replacing the URL.
	next, err = notify.UpdateChannel(notify.ModeAWS, cur, notify.ChannelInput{
		EventFilters: []string{},
		Config:       notify.ChannelConfig{URL: "https://siem2.example.com/in", Headers: map[string]string{}},
	}, later)
	mustf(t, err, "UpdateChannel(clear)")
	if next.EventFilters != nil || next.Headers != nil || next.URL != "https://siem2.example.com/in" {
		t.Fatalf("clear: filters %v headers %v url %q", next.EventFilters, next.Headers, next.URL)
	}

	var ve *notify.ValidationError
	for name, bad := range map[string]notify.ChannelInput{
		"type change":       {Type: notify.TypeSlackWebhook},
		"bad url":           {Config: notify.ChannelConfig{URL: "https://169.254.169.254/"}},
		"redacted unknown":  {Config: notify.ChannelConfig{Headers: map[string]string{"X-New": notify.Redacted}}},
		"bad filter":        {EventFilters: []string{"nope"}},
		"addresses on hook": {Config: notify.ChannelConfig{Addresses: []string{"a@example.com"}}},
	} {
		if _, err := notify.UpdateChannel(notify.ModeAWS, cur, bad, later); !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a ValidationError", name, err)
		}
	}
}
