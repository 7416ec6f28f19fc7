// Package notify delivers jitsudo's notification events (shared/events) to
// a tenant's notification channels: Slack incoming webhooks, generic signed
// webhooks, and e-mail (the latter through SNS subscriptions the API layer
// manages; this package only models and validates them).
//
// The pieces:
//
//   - Channel (defined in the leaf package notify/channel, aliased here),
//     ChannelInput: the channel model, its create/update input and
//     validation, the redacted Public view, Matches (routing).
//   - Guard: the SSRF guard every destination URL passes at create time
//     and again before and during delivery (its HTTP client re-checks the
//     address it actually connects to, so DNS rebinding does not help).
//   - RenderSlack / ValidateSlack: the Block Kit message and the limits it
//     must respect. Sign / Verify: the generic webhook signature.
//   - Dispatcher: loads a tenant's channels and delivers one event to every
//     matching one, concurrently, with per-attempt timeouts and retries,
//     recording each outcome on the channel.
//
// Dependencies: notify imports shared/events, which imports shared/store,
// so the store cannot import notify; it persists channel.Channel from the
// leaf package instead. notify does not import the store either: the
// Dispatcher takes the ChannelStore interface, which *store.Store
// satisfies.
package notify
