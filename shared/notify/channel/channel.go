// Package channel is the notification channel model, the one type both
// shared/notify (which routes and delivers to channels) and shared/store
// (which persists them) need. It is a leaf — standard library only — because
// shared/notify depends on shared/events, which depends on shared/store: the
// store cannot import shared/notify. Use it as notify.Channel (an alias).
package channel

import (
	"maps"
	"net/url"
	"slices"
	"time"
)

// Channel types.
const (
	TypeSlackWebhook   = "slack_webhook"
	TypeGenericWebhook = "generic_webhook"
	TypeEmail          = "email"
)

// Types lists every channel type.
var Types = []string{TypeSlackWebhook, TypeGenericWebhook, TypeEmail}

// Redacted replaces secret values in the Public view.
const Redacted = "[redacted]"

// Channel is one notification destination of a tenant.
//
// Secrets: URL (a Slack webhook URL is a bearer credential; a generic
// webhook URL may embed a token), the Headers values and SigningSecret.
// They are stored as they are (DynamoDB encrypts at rest) and leave the
// API only once, in the create response; every other read returns
// Public().
//
// Routing (notify.Matches): a channel gets every event of its tenant whose
// type passes EventFilters, and also the events that name it
// (Event.Channels, from the deciding rules' notification_channel). With
// OnlyNamedByRules it gets only the events that name it — e.g. a rule
// sends prod approvals to the SRE channel, which should not see everything
// else.
type Channel struct {
	ID               string            `json:"id"`
	TenantID         string            `json:"tenant_id"`
	Name             string            `json:"name"`
	Type             string            `json:"type"`
	Enabled          bool              `json:"enabled"`
	EventFilters     []string          `json:"event_filters,omitempty"` // empty: every type
	OnlyNamedByRules bool              `json:"only_named_by_rules"`
	URL              string            `json:"url,omitempty"`               // slack_webhook, generic_webhook; secret
	Headers          map[string]string `json:"headers,omitempty"`           // generic_webhook; values secret
	Addresses        []string          `json:"addresses,omitempty"`         // email
	SigningSecret    string            `json:"signing_secret,omitempty"`    // generic_webhook; secret
	SubscriptionARNs map[string]string `json:"subscription_arns,omitempty"` // email address → SNS subscription ARN (API layer)
	// Delivery status, written only by the store's RecordDelivery. Both the
	// last error and the last success are kept; Failing compares them.
	LastError       string     `json:"last_error,omitempty"`
	LastErrorAt     *time.Time `json:"last_error_at,omitempty"`
	LastDeliveredAt *time.Time `json:"last_delivered_at,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	// Version grows by one with every configuration update (optimistic
	// locking); delivery status updates do not touch it.
	Version int64 `json:"version"`
}

// Public is the channel as the API shows it: URL reduced to scheme and
// host ("https://hooks.slack.com/…"), header values replaced by Redacted,
// no signing secret. It is a deep copy.
func (ch Channel) Public() Channel {
	p := ch
	p.EventFilters = slices.Clone(ch.EventFilters)
	p.Addresses = slices.Clone(ch.Addresses)
	p.SubscriptionARNs = maps.Clone(ch.SubscriptionARNs)
	if ch.URL != "" {
		p.URL = RedactURL(ch.URL)
	}
	if ch.Headers != nil {
		p.Headers = make(map[string]string, len(ch.Headers))
		for k := range ch.Headers {
			p.Headers[k] = Redacted
		}
	}
	p.SigningSecret = ""
	if ch.LastErrorAt != nil {
		t := *ch.LastErrorAt
		p.LastErrorAt = &t
	}
	if ch.LastDeliveredAt != nil {
		t := *ch.LastDeliveredAt
		p.LastDeliveredAt = &t
	}
	return p
}

// RedactURL keeps a URL's scheme and host (with port) only:
// "https://hooks.slack.com/…". Anything unparseable becomes Redacted.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Redacted
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// Failing reports whether the channel's last recorded delivery failed.
func (ch Channel) Failing() bool {
	if ch.LastErrorAt == nil {
		return false
	}
	return ch.LastDeliveredAt == nil || ch.LastErrorAt.After(*ch.LastDeliveredAt)
}
