package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

// Block Kit payload types (only what jitsudo renders).
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackText struct {
	Type  string `json:"type"` // plain_text, mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	BlockID  string      `json:"block_id,omitempty"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []any       `json:"elements,omitempty"` // slackButton (actions), slackText (context)
}

type slackButton struct {
	Type     string    `json:"type"` // button
	Text     slackText `json:"text"`
	URL      string    `json:"url,omitempty"`
	ActionID string    `json:"action_id"`
	Style    string    `json:"style,omitempty"`
}

func plain(s string) *slackText  { return &slackText{Type: "plain_text", Text: s, Emoji: true} }
func mrkdwn(s string) *slackText { return &slackText{Type: "mrkdwn", Text: s} }

// Budgets for user-controlled pieces inside composed texts.
const (
	maxInline   = 200 // names, ids, resources inside a sentence or field
	breakGlass  = "🚨 BREAK-GLASS"
	labelFormat = "*%s*\n"
)

var titles = map[string]string{
	events.RequestPending:    "Access request awaiting approval",
	events.RequestApproved:   "Access request approved",
	events.RequestDenied:     "Access request denied",
	events.RequestExpired:    "Access request expired",
	events.RequestCancelled:  "Access request cancelled",
	events.RequestBreakGlass: "Break-glass access used",
	events.RequestMessage:    "New message on an access request",
	events.GrantActive:       "Access granted",
	events.GrantExpiringSoon: "Access expiring soon",
	events.GrantExpired:      "Access expired",
	events.GrantRevoked:      "Access revoked",
	events.GrantFailed:       "Granting access failed",
	events.GrantExtended:     "Access extended",
	events.DriftDetected:     "Assignment drift detected",
	events.ChannelTest:       "Test notification",
}

// Sentences about (who, what); each %s gets an escaped, emphasized piece.
var sentences = map[string]string{
	events.RequestPending:    "%s requests access to %s",
	events.RequestApproved:   "%s's request for %s was approved",
	events.RequestDenied:     "%s's request for %s was denied",
	events.RequestExpired:    "%s's request for %s expired without a decision",
	events.RequestCancelled:  "%s's request for %s was cancelled",
	events.RequestBreakGlass: "%s used break-glass access to %s",
	events.RequestMessage:    "New message on %s's request for %s",
	events.GrantActive:       "%s now has access to %s",
	events.GrantExpiringSoon: "%s's access to %s expires soon",
	events.GrantExpired:      "%s's access to %s has expired",
	events.GrantRevoked:      "%s's access to %s was revoked",
	events.GrantFailed:       "Granting %s access to %s failed",
	events.GrantExtended:     "%s's access to %s was extended",
}

// RenderSlack is the Slack incoming-webhook body for ev: a header (the
// event, "🚨 BREAK-GLASS" first for break-glass requests and grants), a
// section saying who, what (resource, permission set), for how long, mode,
// approvals n/m and deadline, sections for the justification, the message
// and the policy's reasoning, buttons (Approve / Deny for request.pending,
// View request otherwise; URL buttons on ev.Links, left out when empty),
// a context line, and a fallback text. User-controlled text is escaped and
// truncated to Block Kit's limits; the result passes ValidateSlack.
func RenderSlack(ev events.Event) ([]byte, error) {
	body, err := json.Marshal(slackMessageFor(ev))
	if err != nil {
		return nil, fmt.Errorf("notify: encode Slack message: %w", err)
	}
	if err := ValidateSlack(body); err != nil {
		return nil, fmt.Errorf("notify: rendered Slack message: %w", err)
	}
	return body, nil
}

func isBreakGlass(ev events.Event) bool {
	return ev.Type == events.RequestBreakGlass ||
		ev.Request != nil && ev.Request.BreakGlass || ev.Grant != nil && ev.Grant.BreakGlass
}

func slackMessageFor(ev events.Event) slackMessage {
	title, ok := titles[ev.Type]
	if !ok {
		title = "jitsudo event"
	}
	header := title + " (" + ev.Type + ")"
	if isBreakGlass(ev) {
		header = breakGlass + " · " + header
	}
	header = plainTrunc(header, slackMaxHeaderText)

	blocks := []slackBlock{{Type: "header", Text: plain(header)}}
	main := slackBlock{Type: "section", Text: mrkdwn(summary(ev, true))}
	main.Fields = fields(ev)
	blocks = append(blocks, main)
	if r := ev.Request; r != nil && strings.TrimSpace(r.Justification) != "" {
		blocks = append(blocks, labelled("Why", r.Justification))
	}
	if m := ev.Message; m != nil && m.Body != "" {
		blocks = append(blocks, labelled("Message from "+m.AuthorID, m.Body))
	}
	if g := ev.Grant; g != nil && g.FailureReason != "" {
		blocks = append(blocks, labelled("Failure", g.FailureReason))
	}
	if d := ev.Drift; d != nil && len(d.Unexpected) > 0 {
		blocks = append(blocks, labelled("Unexpected assignments", "• "+strings.Join(d.Unexpected, "\n• ")))
	}
	if strings.TrimSpace(ev.Reasoning) != "" {
		blocks = append(blocks, labelled("Policy", ev.Reasoning))
	}
	if b := buttons(ev); len(b) > 0 {
		blocks = append(blocks, slackBlock{Type: "actions", Elements: b})
	}
	ctx := "jitsudo · event " + esc(ev.ID, maxInline)
	if !ev.OccurredAt.IsZero() {
		ctx += " · " + slackDate(ev.OccurredAt)
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []any{mrkdwn(ctx)}})

	return slackMessage{
		Text:   esc(header, maxInline) + ": " + summary(ev, false),
		Blocks: blocks,
	}
}

// summary is one sentence about the event; bold emphasizes its pieces.
func summary(ev events.Event, bold bool) string {
	em := func(s string) string {
		s = esc(s, maxInline)
		if bold {
			return "*" + s + "*"
		}
		return s
	}
	format, ok := sentences[ev.Type]
	switch {
	case ev.Type == events.ChannelTest:
		return "This is a test notification from jitsudo: this channel works."
	case ev.Type == events.DriftDetected && ev.Drift != nil:
		return fmt.Sprintf("The reconciler found Identity Center assignments that differ from jitsudo's grants: %d repaired, %d removed, %d unexpected.",
			ev.Drift.Repaired, ev.Drift.Removed, len(ev.Drift.Unexpected))
	case ev.Request != nil:
		if !ok {
			format = "%s · %s"
		}
		return fmt.Sprintf(format, em(requester(ev.Request)), em(resource(ev.Request.Resource)))
	case ev.Grant != nil:
		if !ok {
			format = "%s · %s"
		}
		return fmt.Sprintf(format, em(first(ev.Grant.GranteeEmail, ev.Grant.GranteeID)), em(resource(ev.Grant.Resource)))
	}
	if t, ok := titles[ev.Type]; ok {
		return t + "."
	}
	return "Event " + em(ev.Type) + "."
}

func requester(r *events.Request) string { return first(r.RequesterEmail, r.RequesterID) }

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func resource(r events.Resource) string {
	s := strings.TrimSpace(r.Type + " " + r.ID)
	if r.AccountID != "" && r.AccountID != r.ID {
		s += " (account " + r.AccountID + ")"
	}
	return s
}

// fields is the section's field list (at most slackMaxFields).
func fields(ev events.Event) []slackText {
	var out []slackText
	add := func(label, value string) {
		if value != "" {
			out = append(out, *mrkdwn(fmt.Sprintf(labelFormat, label) + esc(value, slackMaxFieldText-len(label)-3)))
		}
	}
	addRaw := func(label, markup string) { // markup: our own, bounded
		out = append(out, *mrkdwn(fmt.Sprintf(labelFormat, label) + markup))
	}
	if r := ev.Request; r != nil {
		add("Requester", requester(r))
		add("Resource", resource(r.Resource))
		add("Permission set", r.PermissionSetARN)
		if r.DurationSeconds > 0 {
			add("Duration", humanDuration(time.Duration(r.DurationSeconds)*time.Second))
		}
		mode := r.ApprovalMode
		if r.ApprovalsRequired > 0 {
			mode = strings.TrimSpace(mode + " · " + strconv.Itoa(r.Approvals) + "/" + strconv.Itoa(r.ApprovalsRequired) + " approvals")
		}
		add("Approval", strings.TrimPrefix(mode, "· "))
		if r.ApprovalDeadline != nil && !r.ApprovalDeadline.IsZero() {
			addRaw("Deadline", slackDate(*r.ApprovalDeadline))
		}
		add("Status", r.Status)
		add("Decided by", r.DecidedBy)
		add("Action", r.Action)
	}
	if g := ev.Grant; g != nil {
		add("Grantee", first(g.GranteeEmail, g.GranteeID))
		add("Resource", resource(g.Resource))
		add("Permission set", g.PermissionSetARN)
		add("Status", g.Status)
		if g.GrantedAt != nil && !g.GrantedAt.IsZero() {
			addRaw("Granted", slackDate(*g.GrantedAt))
		}
		if g.ExpiresAt != nil && !g.ExpiresAt.IsZero() {
			addRaw("Expires", slackDate(*g.ExpiresAt))
		}
		add("Revoked by", g.RevokedBy)
	}
	if m := ev.Message; m != nil {
		add("Author", strings.TrimSpace(m.AuthorID+" ("+m.AuthorType+")"))
	}
	if ev.Actor.ID != "" && ev.Type != events.RequestPending {
		add("By", ev.Actor.ID+" ("+ev.Actor.Type+")")
	}
	if len(out) > slackMaxFields {
		out = out[:slackMaxFields]
	}
	return out
}

// labelled is a section "*label*\n<text>", text escaped and truncated.
func labelled(label, text string) slackBlock {
	head := fmt.Sprintf(labelFormat, esc(label, maxInline))
	return slackBlock{Type: "section", Text: mrkdwn(head + esc(text, slackMaxSectionText-len([]rune(head))))}
}

// buttons: Review request (the Approvals page; Approve and Deny API links
// when there is no page link) on request.pending; View request (the page,
// else the API) or View grant otherwise. URL buttons only: Slack opens the link, jitsudo needs
// no Slack app to receive interactions.
func buttons(ev events.Event) []any {
	var out []any
	add := func(text, link, id, style string) {
		if u, err := url.Parse(link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || len(link) > slackMaxButtonURL {
			return
		}
		out = append(out, slackButton{Type: "button", Text: *plain(text), URL: link, ActionID: id, Style: style})
	}
	// The Approvals page first: a reviewer reads, discusses and decides
	// there (a browser cannot POST to the API links).
	if ev.Type == events.RequestPending {
		add("Review request", ev.Links.Page, "review_request", "primary")
	}
	if len(out) == 0 && ev.Type == events.RequestPending {
		add("Approve", ev.Links.Approve, "approve", "primary")
		add("Deny", ev.Links.Deny, "deny", "danger")
	}
	if len(out) == 0 {
		add("View request", ev.Links.Page, "view_request", "")
	}
	if len(out) == 0 {
		add("View request", ev.Links.Request, "view_request", "")
	}
	if len(out) == 0 {
		add("View grant", ev.Links.Grant, "view_grant", "")
	}
	return out
}

// slackDate renders t in each reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// humanDuration: "2h", "1h30m", "45m", "90s".
func humanDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
