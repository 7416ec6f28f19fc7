package notify

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/ids"
	"github.com/jitsudo/jitsudo-serverless/shared/notify/channel"
)

// Channel is a tenant's notification destination; see channel.Channel.
// The type lives in the leaf package shared/notify/channel so that
// shared/store can persist it: notify imports shared/events, which imports
// shared/store.
type Channel = channel.Channel

// Channel types.
const (
	TypeSlackWebhook   = channel.TypeSlackWebhook
	TypeGenericWebhook = channel.TypeGenericWebhook
	TypeEmail          = channel.TypeEmail
)

// Types lists every channel type.
var Types = channel.Types

// Redacted replaces secret values in the Public view. On update, a header
// value equal to Redacted means "keep the current value" (so a client may
// send back what it read).
const Redacted = channel.Redacted

// SigningSecretPrefix starts every generic webhook signing secret.
const SigningSecretPrefix = "whsec_"

// RedactURL keeps a URL's scheme and host only: "https://hooks.slack.com/…".
func RedactURL(raw string) string { return channel.RedactURL(raw) }

// Matches reports whether ch should receive ev: it is enabled, of ev's
// tenant, ev's type passes its EventFilters, and either ev names it or it
// is not OnlyNamedByRules.
//
// The filters apply to named events too: they are the channel owner's
// explicit choice of event types. channel.test events go only to the
// channels they name, whatever the filters (a test of one channel must
// never reach the others).
func Matches(ch Channel, ev events.Event) bool {
	if !ch.Enabled || ch.TenantID == "" || ch.TenantID != ev.TenantID {
		return false
	}
	named := slices.Contains(ev.Channels, ch.ID)
	if ev.Type == events.ChannelTest {
		return named
	}
	if len(ch.EventFilters) > 0 && !slices.Contains(ch.EventFilters, ev.Type) {
		return false
	}
	return named || !ch.OnlyNamedByRules
}

// NewChannelID is "ch_" + a time-sorted id (package ids), the scheme of
// the other stored ids.
func NewChannelID(now time.Time) string { return ids.New("ch_", now) }

// NewSigningSecret is SigningSecretPrefix + 32 random bytes in hex. The
// whole string (prefix included) is the HMAC key (see Sign).
func NewSigningSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SigningSecretPrefix + hex.EncodeToString(b[:])
}

// NewTestEvent is the channel.test event the channel test endpoint sends:
// it names ch only, so Matches never routes it anywhere else.
func NewTestEvent(ch Channel, actor events.Actor, now time.Time) events.Event {
	return events.Event{
		Version:    events.Version,
		ID:         ids.New("evt_test_", now),
		Type:       events.ChannelTest,
		TenantID:   ch.TenantID,
		Severity:   events.SeverityInfo,
		OccurredAt: now.UTC(),
		Actor:      actor,
		Channels:   []string{ch.ID},
	}
}
