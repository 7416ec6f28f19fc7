package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits (https://api.slack.com/reference/block-kit), in
// characters.
const (
	slackMaxBlocks          = 50
	slackMaxHeaderText      = 150
	slackMaxSectionText     = 3000
	slackMaxFields          = 10
	slackMaxFieldText       = 2000
	slackMaxActionElements  = 25
	slackMaxButtonText      = 75
	slackMaxButtonURL       = 3000
	slackMaxButtonValue     = 2000
	slackMaxID              = 255 // block_id, action_id
	slackMaxContextElements = 10
	slackMaxContextText     = 3000
	slackMaxText            = 40000 // top-level text (Slack truncates beyond)
)

// What ValidateSlack decodes: loose enough to report every problem.
type vMessage struct {
	Text   string   `json:"text"`
	Blocks []vBlock `json:"blocks"`
}

type vBlock struct {
	Type     string     `json:"type"`
	BlockID  string     `json:"block_id"`
	Text     *vText     `json:"text"`
	Fields   []vText    `json:"fields"`
	Elements []vElement `json:"elements"`
}

type vText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type vElement struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text"` // an object in a button, a string in a context text
	URL      string          `json:"url"`
	ActionID string          `json:"action_id"`
	Value    string          `json:"value"`
	Style    string          `json:"style"`
}

// ValidateSlack checks an incoming-webhook JSON body against the Block Kit
// limits for the blocks jitsudo renders (header, section, actions with
// buttons, context, divider; other block types are refused): at most 50
// blocks; header plain_text 1..150; section text 1..3000, at most 10
// fields of 1..2000; actions 1..25 buttons, button text plain_text 1..75,
// url at most 3000; context 1..10 text elements; block_id and action_id at
// most 255 and unique. A non-empty fallback text (at most 40000) is
// required. It reports every violation (errors.Join).
func ValidateSlack(payload []byte) error {
	var m vMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return fmt.Errorf("notify: Slack payload is not a JSON message: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	length := func(path, s string, min, max int) {
		if n := utf8.RuneCountInString(s); n < min || n > max {
			bad("%s: %d characters, must be %d..%d", path, n, min, max)
		}
	}
	text := func(path string, t *vText, max int, plainOnly bool) {
		if t == nil {
			bad("%s: missing", path)
			return
		}
		if t.Type != "plain_text" && (plainOnly || t.Type != "mrkdwn") {
			bad("%s: type %q not allowed", path, t.Type)
		}
		length(path+".text", t.Text, 1, max)
	}

	length("text", m.Text, 1, slackMaxText)
	if n := len(m.Blocks); n > slackMaxBlocks {
		bad("blocks: %d, at most %d", n, slackMaxBlocks)
	}
	blockIDs, actionIDs := map[string]bool{}, map[string]bool{}
	for i, b := range m.Blocks {
		p := fmt.Sprintf("blocks[%d]", i)
		if b.BlockID != "" {
			length(p+".block_id", b.BlockID, 1, slackMaxID)
			if blockIDs[b.BlockID] {
				bad("%s.block_id: %q is not unique", p, b.BlockID)
			}
			blockIDs[b.BlockID] = true
		}
		switch b.Type {
		case "header":
			text(p+".text", b.Text, slackMaxHeaderText, true)
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				bad("%s: needs text or fields", p)
			}
			if b.Text != nil {
				text(p+".text", b.Text, slackMaxSectionText, false)
			}
			if len(b.Fields) > slackMaxFields {
				bad("%s.fields: %d, at most %d", p, len(b.Fields), slackMaxFields)
			}
			for j := range b.Fields {
				text(fmt.Sprintf("%s.fields[%d]", p, j), &b.Fields[j], slackMaxFieldText, false)
			}
		case "actions":
			if n := len(b.Elements); n == 0 || n > slackMaxActionElements {
				bad("%s.elements: %d, must be 1..%d", p, n, slackMaxActionElements)
			}
			for j, e := range b.Elements {
				ep := fmt.Sprintf("%s.elements[%d]", p, j)
				if e.Type != "button" {
					bad("%s: type %q not allowed", ep, e.Type)
					continue
				}
				var t vText
				if err := json.Unmarshal(e.Text, &t); err != nil {
					bad("%s.text: not a text object", ep)
				} else {
					text(ep+".text", &t, slackMaxButtonText, true)
				}
				length(ep+".action_id", e.ActionID, 1, slackMaxID)
				if actionIDs[e.ActionID] {
					bad("%s.action_id: %q is not unique", ep, e.ActionID)
				}
				actionIDs[e.ActionID] = true
				length(ep+".url", e.URL, 0, slackMaxButtonURL)
				length(ep+".value", e.Value, 0, slackMaxButtonValue)
				if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
					bad("%s.style: %q not allowed", ep, e.Style)
				}
			}
		case "context":
			if n := len(b.Elements); n == 0 || n > slackMaxContextElements {
				bad("%s.elements: %d, must be 1..%d", p, n, slackMaxContextElements)
			}
			for j, e := range b.Elements {
				var s string
				if err := json.Unmarshal(e.Text, &s); err != nil {
					bad("%s.elements[%d]: not a text element", p, j)
					continue
				}
				text(fmt.Sprintf("%s.elements[%d]", p, j), &vText{Type: e.Type, Text: s}, slackMaxContextText, false)
			}
		case "divider":
		default:
			bad("%s: block type %q not supported", p, b.Type)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("notify: invalid Slack message: %w", errors.Join(errs...))
	}
	return nil
}
