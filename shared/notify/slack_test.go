package notify_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// Decoded rendering, for assertions.
type slackMsg struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"text"`
		Fields []struct {
			Text string `json:"text"`
		} `json:"fields"`
		Elements []json.RawMessage `json:"elements"`
	} `json:"blocks"`
}

type slackButton struct {
	Text struct {
		Text string `json:"text"`
	} `json:"text"`
	URL      string `json:"url"`
	ActionID string `json:"action_id"`
}

func render(t *testing.T, ev events.Event) (slackMsg, string) {
	t.Helper()
	body, err := notify.RenderSlack(ev)
	mustf(t, err, "RenderSlack(%s)", ev.Type)
	if err := notify.ValidateSlack(body); err != nil {
		t.Fatalf("RenderSlack(%s) is not valid: %v", ev.Type, err)
	}
	var m slackMsg
	mustf(t, json.Unmarshal(body, &m), "decode")
	return m, string(body)
}

func (m slackMsg) buttons(t *testing.T) []slackButton {
	t.Helper()
	var out []slackButton
	for _, b := range m.Blocks {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			var btn slackButton
			mustf(t, json.Unmarshal(e, &btn), "button")
			out = append(out, btn)
		}
	}
	return out
}

// allText is every text of the message, joined.
func (m slackMsg) allText() string {
	var b strings.Builder
	b.WriteString(m.Text)
	for _, bl := range m.Blocks {
		if bl.Text != nil {
			b.WriteString("\n" + bl.Text.Text)
		}
		for _, f := range bl.Fields {
			b.WriteString("\n" + f.Text)
		}
	}
	return b.String()
}

func pendingEvent() events.Event {
	deadline := t0.Add(time.Hour)
	return events.Event{
		Version: 1, ID: "evt_1", Type: events.RequestPending, TenantID: "acme", Severity: events.SeverityWarning,
		OccurredAt: t0, Actor: events.Actor{ID: "alice", Type: "user"},
		Request: &events.Request{
			ID: "req_1", Status: "pending", RequesterID: "alice", RequesterEmail: "alice@example.com",
			Resource:         events.Resource{Type: "aws_account", ID: "123456789012"},
			PermissionSetARN: "arn:aws:sso:::permissionSet/ssoins-1/ps-admin",
			Justification:    "INC-42: restore the prod DB", DurationSeconds: 5400,
			ApprovalMode: "multi", ApprovalsRequired: 2, Approvals: 1, ApprovalDeadline: &deadline, CreatedAt: t0,
		},
		Links: events.Links{
			Request: "https://api.example.com/v1/requests/req_1",
			Approve: "https://api.example.com/v1/requests/req_1/approve",
			Deny:    "https://api.example.com/v1/requests/req_1/deny",
		},
	}
}

func TestRenderSlackPending(t *testing.T) {
	t.Parallel()
	m, _ := render(t, pendingEvent())
	if m.Blocks[0].Type != "header" || m.Blocks[0].Text.Type != "plain_text" ||
		!strings.Contains(m.Blocks[0].Text.Text, events.RequestPending) || strings.Contains(m.Blocks[0].Text.Text, "BREAK-GLASS") {
		t.Fatalf("header %+v", m.Blocks[0].Text)
	}
	text := m.allText()
	for _, want := range []string{"alice@example.com", "aws_account 123456789012", "ps-admin", "1h30m", "1/2 approvals", "multi",
		"INC-42: restore the prod DB", fmt.Sprintf("<!date^%d^", t0.Add(time.Hour).Unix())} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	b := m.buttons(t)
	if len(b) != 2 || b[0].Text.Text != "Approve" || b[0].URL != pendingEvent().Links.Approve ||
		b[1].Text.Text != "Deny" || b[1].URL != pendingEvent().Links.Deny {
		t.Fatalf("buttons %+v", b)
	}
	if m.Text == "" || !strings.Contains(m.Text, "alice@example.com") {
		t.Fatalf("fallback text %q", m.Text)
	}
}

func TestRenderSlackBreakGlassAndView(t *testing.T) {
	t.Parallel()
	ev := pendingEvent()
	ev.Type = events.RequestBreakGlass
	ev.Request.BreakGlass = true
	m, _ := render(t, ev)
	if !strings.HasPrefix(m.Blocks[0].Text.Text, "🚨 BREAK-GLASS") || !strings.Contains(m.Text, "BREAK-GLASS") {
		t.Fatalf("break-glass not marked: header %q text %q", m.Blocks[0].Text.Text, m.Text)
	}
	if b := m.buttons(t); len(b) != 1 || b[0].Text.Text != "View request" || b[0].URL != ev.Links.Request {
		t.Fatalf("buttons %+v, want View request only", b)
	}

	expiresAt := t0.Add(2 * time.Hour)
	grant := events.Event{
		Version: 1, ID: "evt_2", Type: events.GrantActive, TenantID: "acme", OccurredAt: t0,
		Grant: &events.Grant{ID: "grt_1", RequestID: "req_1", Status: "active", GranteeID: "bob",
			Resource: events.Resource{Type: "aws_account", ID: "1"}, BreakGlass: true, ExpiresAt: &expiresAt},
		Links: events.Links{Grant: "https://api.example.com/v1/grants/grt_1"},
	}
	m, _ = render(t, grant)
	if !strings.HasPrefix(m.Blocks[0].Text.Text, "🚨 BREAK-GLASS") {
		t.Fatalf("break-glass grant not marked: %q", m.Blocks[0].Text.Text)
	}
	if b := m.buttons(t); len(b) != 1 || b[0].Text.Text != "View grant" {
		t.Fatalf("buttons %+v", b)
	}
	// Without links there are no buttons (and still a valid message).
	grant.Links = events.Links{}
	if m, _ = render(t, grant); len(m.buttons(t)) != 0 {
		t.Fatal("buttons without links")
	}
}

// User-controlled text cannot mention, link or break the limits.
func TestRenderSlackEscapesAndTruncates(t *testing.T) {
	t.Parallel()
	hostile := "<!channel> <@U123> <https://evil.example|click> & done\x00\x07 "
	ev := pendingEvent()
	ev.Request.RequesterEmail = hostile + strings.Repeat("x", 5000)
	ev.Request.Justification = strings.Repeat(hostile, 200) // ~14000 characters, mostly escapable
	ev.Request.Resource.ID = strings.Repeat("<", 3000)
	ev.Reasoning = strings.Repeat("&", 10000)
	ev.Links.Approve = "https://api.example.com/" + strings.Repeat("a", 3000) // too long for a button: left out
	m, body := render(t, ev)
	text := m.allText()
	for _, bad := range []string{"<!channel>", "<@U123>", "<https://evil", "\x00", "\x07"} {
		if strings.Contains(text, bad) {
			t.Errorf("message contains %q", bad)
		}
	}
	if !strings.Contains(text, "&lt;!channel&gt;") || !strings.Contains(text, "&amp; done") {
		t.Errorf("user text not escaped:\n%.300s", text)
	}
	for _, b := range m.Blocks {
		if b.Text != nil && utf8.RuneCountInString(b.Text.Text) > 3000 {
			t.Errorf("a %s text has %d characters", b.Type, utf8.RuneCountInString(b.Text.Text))
		}
		if b.Text != nil && strings.Contains(b.Text.Text, "&am…") {
			t.Error("truncation split an entity")
		}
	}
	if !strings.Contains(body, "…") {
		t.Error("nothing was marked truncated")
	}
	if b := m.buttons(t); len(b) != 1 || b[0].Text.Text != "Deny" {
		t.Errorf("buttons %+v: the over-long Approve URL must be left out", b)
	}
}

// Every event type renders a valid message, with and without content.
func TestRenderSlackEveryType(t *testing.T) {
	t.Parallel()
	full := pendingEvent()
	expires := t0.Add(time.Hour)
	full.Grant = &events.Grant{ID: "g", GranteeID: "bob", GranteeEmail: "bob@example.com", Status: "failed",
		FailureReason: strings.Repeat("boom ", 1000), RevokedBy: "carol", GrantedAt: &t0, ExpiresAt: &expires}
	full.Message = &events.Message{ID: "m", AuthorID: "bob", AuthorType: "user", Body: strings.Repeat("<msg> ", 1000)}
	full.Drift = &events.Drift{Repaired: 1, Removed: 2, Unexpected: []string{"1/ps/p", strings.Repeat("a/b/c", 1000)}}
	full.Reasoning = "rule prod-admins requires 2 approvals"
	full.Channels = []string{"ch_1"}
	for _, typ := range append(events.Types, "future.type") {
		for _, ev := range []events.Event{{Type: typ, ID: "e", TenantID: "acme"}, full} {
			ev.Type = typ
			m, _ := render(t, ev)
			if !strings.Contains(m.Blocks[0].Text.Text, typ) {
				t.Errorf("%s: header %q lacks the type", typ, m.Blocks[0].Text.Text)
			}
		}
	}
}

func TestValidateSlackLimits(t *testing.T) {
	t.Parallel()
	block := func(s string) string { return s }
	msg := func(blocks ...string) string {
		return `{"text":"fallback","blocks":[` + strings.Join(blocks, ",") + `]}`
	}
	section := func(n int) string {
		return `{"type":"section","text":{"type":"mrkdwn","text":"` + strings.Repeat("a", n) + `"}}`
	}
	header := func(n int) string {
		return `{"type":"header","text":{"type":"plain_text","text":"` + strings.Repeat("h", n) + `"}}`
	}
	fields := func(count, n int) string {
		var f []string
		for range count {
			f = append(f, `{"type":"mrkdwn","text":"`+strings.Repeat("f", n)+`"}`)
		}
		return `{"type":"section","fields":[` + strings.Join(f, ",") + `]}`
	}
	button := func(id string, textLen, urlLen int) string {
		return `{"type":"button","action_id":"` + id + `","text":{"type":"plain_text","text":"` + strings.Repeat("b", textLen) +
			`"},"url":"https://x.example/` + strings.Repeat("u", urlLen-18) + `"}`
	}
	actions := func(n int) string {
		var b []string
		for i := range n {
			b = append(b, button(fmt.Sprint("a", i), 5, 30))
		}
		return `{"type":"actions","elements":[` + strings.Join(b, ",") + `]}`
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = section(1)
	}
	ok := []string{
		msg(header(150), section(3000), fields(10, 2000), actions(25)),
		msg(block(`{"type":"actions","elements":[` + button("a", 75, 3000) + `]}`)),
		msg(block(`{"type":"section","block_id":"` + strings.Repeat("i", 255) + `","text":{"type":"plain_text","text":"x"}}`)),
		msg(many[:50]...),
		msg(block(`{"type":"divider"}`), block(`{"type":"context","elements":[{"type":"mrkdwn","text":"c"}]}`)),
	}
	for i, p := range ok {
		if err := notify.ValidateSlack([]byte(p)); err != nil {
			t.Errorf("ok[%d]: %v", i, err)
		}
	}
	bad := map[string]string{
		"51 blocks":         msg(many...),
		"header 151":        msg(header(151)),
		"header mrkdwn":     msg(`{"type":"header","text":{"type":"mrkdwn","text":"h"}}`),
		"section 3001":      msg(section(3001)),
		"section empty":     msg(`{"type":"section"}`),
		"11 fields":         msg(fields(11, 1)),
		"field 2001":        msg(fields(1, 2001)),
		"button text 76":    msg(`{"type":"actions","elements":[` + button("a", 76, 30) + `]}`),
		"button url 3001":   msg(`{"type":"actions","elements":[` + button("a", 5, 3001) + `]}`),
		"26 elements":       msg(actions(26)),
		"no elements":       msg(`{"type":"actions","elements":[]}`),
		"block_id 256":      msg(`{"type":"divider","block_id":"` + strings.Repeat("i", 256) + `"}`),
		"duplicate actions": msg(`{"type":"actions","elements":[` + button("a", 5, 30) + `,` + button("a", 5, 30) + `]}`),
		"unknown block":     msg(`{"type":"image"}`),
		"no text":           `{"blocks":[` + section(1) + `]}`,
		"not json":          `{`,
	}
	for name, p := range bad {
		if err := notify.ValidateSlack([]byte(p)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRenderSlackPageLinks: with the Approvals page's link, a pending
// request's button opens its page (a browser cannot POST to the API
// links), later events' "View request" too; the message still passes the
// Block Kit checks (render validates).
func TestRenderSlackPageLinks(t *testing.T) {
	t.Parallel()
	ev := pendingEvent()
	ev.Links.Page = "https://jitsudo.example.com/ui/t/acme/requests/req_1"
	m, _ := render(t, ev)
	b := m.buttons(t)
	if len(b) != 1 || b[0].Text.Text != "Review request" || b[0].URL != ev.Links.Page {
		t.Fatalf("pending buttons %+v", b)
	}
	ev.Type, ev.Request.Status = events.RequestApproved, "approved"
	m, _ = render(t, ev)
	if b := m.buttons(t); len(b) != 1 || b[0].Text.Text != "View request" || b[0].URL != ev.Links.Page {
		t.Fatalf("approved buttons %+v", b)
	}
}
