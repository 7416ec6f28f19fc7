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
	c := slackCheck{blockIDs: map[string]bool{}, actionIDs: map[string]bool{}}
	c.length("text", m.Text, 1, slackMaxText)
	if n := len(m.Blocks); n > slackMaxBlocks {
		c.bad("blocks: %d, at most %d", n, slackMaxBlocks)
	}
	for i, b := range m.Blocks {
		c.block(fmt.Sprintf("blocks[%d]", i), b)
	}
	if len(c.errs) > 0 {
		return fmt.Errorf("notify: invalid Slack message: %w", errors.Join(c.errs...))
	}
	return nil
}

// slackCheck collects every problem of one Slack message; block and
// action ids must be unique across the message.
type slackCheck struct {
	errs                []error
	blockIDs, actionIDs map[string]bool
}

func (c *slackCheck) bad(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

func (c *slackCheck) length(path, s string, min, max int) {
	if n := utf8.RuneCountInString(s); n < min || n > max {
		c.bad("%s: %d characters, must be %d..%d", path, n, min, max)
	}
}

func (c *slackCheck) text(path string, t *vText, max int, plainOnly bool) {
	if t == nil {
		c.bad("%s: missing", path)
		return
	}
	if t.Type != "plain_text" && (plainOnly || t.Type != "mrkdwn") {
		c.bad("%s: type %q not allowed", path, t.Type)
	}
	c.length(path+".text", t.Text, 1, max)
}

// unique records id under path in seen, reporting a repeat.
func (c *slackCheck) unique(seen map[string]bool, path, id string) {
	if seen[id] {
		c.bad("%s: %q is not unique", path, id)
	}
	seen[id] = true
}

func (c *slackCheck) block(p string, b vBlock) {
	if b.BlockID != "" {
		c.length(p+".block_id", b.BlockID, 1, slackMaxID)
		c.unique(c.blockIDs, p+".block_id", b.BlockID)
	}
	switch b.Type {
	case "header":
		c.text(p+".text", b.Text, slackMaxHeaderText, true)
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			c.bad("%s: needs text or fields", p)
		}
		if b.Text != nil {
			c.text(p+".text", b.Text, slackMaxSectionText, false)
		}
		if len(b.Fields) > slackMaxFields {
			c.bad("%s.fields: %d, at most %d", p, len(b.Fields), slackMaxFields)
		}
		for j := range b.Fields {
			c.text(fmt.Sprintf("%s.fields[%d]", p, j), &b.Fields[j], slackMaxFieldText, false)
		}
	case "actions":
		if n := len(b.Elements); n == 0 || n > slackMaxActionElements {
			c.bad("%s.elements: %d, must be 1..%d", p, n, slackMaxActionElements)
		}
		for j, e := range b.Elements {
			c.button(fmt.Sprintf("%s.elements[%d]", p, j), e)
		}
	case "context":
		if n := len(b.Elements); n == 0 || n > slackMaxContextElements {
			c.bad("%s.elements: %d, must be 1..%d", p, n, slackMaxContextElements)
		}
		for j, e := range b.Elements {
			var s string
			if err := json.Unmarshal(e.Text, &s); err != nil {
				c.bad("%s.elements[%d]: not a text element", p, j)
				continue
			}
			c.text(fmt.Sprintf("%s.elements[%d]", p, j), &vText{Type: e.Type, Text: s}, slackMaxContextText, false)
		}
	case "divider":
	default:
		c.bad("%s: block type %q not supported", p, b.Type)
	}
}

// button checks one element of an actions block: only buttons.
func (c *slackCheck) button(ep string, e vElement) {
	if e.Type != "button" {
		c.bad("%s: type %q not allowed", ep, e.Type)
		return
	}
	var t vText
	if err := json.Unmarshal(e.Text, &t); err != nil {
		c.bad("%s.text: not a text object", ep)
	} else {
		c.text(ep+".text", &t, slackMaxButtonText, true)
	}
	c.length(ep+".action_id", e.ActionID, 1, slackMaxID)
	c.unique(c.actionIDs, ep+".action_id", e.ActionID)
	c.length(ep+".url", e.URL, 0, slackMaxButtonURL)
	c.length(ep+".value", e.Value, 0, slackMaxButtonValue)
	if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
		c.bad("%s.style: %q not allowed", ep, e.Style)
	}
}
