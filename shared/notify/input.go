package notify

import (
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/freetext"
	"github.com/jitsudo/jitsudo-serverless/shared/validation"
)

// Input limits.
const (
	MaxNameLen        = 100
	MaxHeaders        = 20
	MaxHeaderValueLen = 1024
	MaxAddresses      = 10
	maxAddressLen     = 254
)

// SlackHost is the only host Slack webhook URLs may have in AWS mode.
// Slack issues incoming webhook (and workflow trigger) URLs only on it;
// pinning it means a "Slack" channel cannot be pointed anywhere else.
const SlackHost = "hooks.slack.com"

// ChannelInput is the body of a channel create or update.
//
// Create: name and type are required; enabled defaults to true; the config
// fields of the type are required (url; addresses) and those of other
// types are refused.
//
// Update (UpdateChannel) merges: an absent field keeps its value. Name and
// type "" keep theirs (the type cannot change: delete and re-create);
// nil Enabled / OnlyNamedByRules / EventFilters / Headers / Addresses keep
// theirs (send [] or {} to clear); URL "" keeps the current URL, so a
// client never has to send back a secret it cannot read. A header value of
// Redacted keeps that header's current value.
type ChannelInput struct {
	Name             string        `json:"name,omitempty"`
	Type             string        `json:"type,omitempty"`
	Enabled          *bool         `json:"enabled,omitempty"`
	EventFilters     []string      `json:"event_filters,omitempty"`
	OnlyNamedByRules *bool         `json:"only_named_by_rules,omitempty"`
	Config           ChannelConfig `json:"config"`
}

// ChannelConfig is the type-specific part of a ChannelInput.
type ChannelConfig struct {
	URL       string            `json:"url,omitempty"`
	Headers   map[string]string `json:"headers,omitempty"`
	Addresses []string          `json:"addresses,omitempty"`
}

// FieldError is one invalid input field ("config.url",
// "event_filters[2]").
type FieldError = validation.FieldError

// ValidationError lists every invalid field of an input. An API 400.
type ValidationError = validation.Error

// Validate checks in as a create request under mode's URL rules. It needs
// no network: the API layer also runs Guard.CheckURL on the URL (DNS).
func (in ChannelInput) Validate(mode Mode) []FieldError {
	var errs []FieldError
	for _, k := range slices.Sorted(maps.Keys(in.Config.Headers)) {
		if in.Config.Headers[k] == Redacted {
			errs = append(errs, FieldError{Field: "config.headers." + k, Message: "must be the header's value"})
		}
	}
	return append(errs, in.spec(true).validate(mode)...)
}

// NewChannel builds the channel a create request describes: validated
// (*ValidationError), normalized (name trimmed, filters and addresses
// deduplicated), version 1, with a fresh signing secret for a generic
// webhook. The caller shows that secret once and stores the channel.
func NewChannel(mode Mode, tenantID, id string, in ChannelInput, now time.Time) (Channel, error) {
	if errs := in.Validate(mode); len(errs) > 0 {
		return Channel{}, &ValidationError{Fields: errs}
	}
	s := in.spec(true)
	now = now.UTC()
	ch := Channel{
		ID: id, TenantID: tenantID, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	s.applyTo(&ch)
	if ch.Type == TypeGenericWebhook {
		ch.SigningSecret = NewSigningSecret()
	}
	return ch, nil
}

// UpdateChannel returns cur changed by in (merge semantics, see
// ChannelInput), validated as a whole under mode (*ValidationError), with
// Version+1 and UpdatedAt now. Signing secret, subscription ARNs and
// delivery status are kept. Store it with the version cur had.
func UpdateChannel(mode Mode, cur Channel, in ChannelInput, now time.Time) (Channel, error) {
	if in.Type != "" && in.Type != cur.Type {
		return Channel{}, &ValidationError{Fields: []FieldError{{Field: "type", Message: "cannot be changed (delete the channel and create a new one)"}}}
	}
	s := spec{
		name: cur.Name, typ: cur.Type, enabled: cur.Enabled, filters: cur.EventFilters,
		onlyNamed: cur.OnlyNamedByRules, url: cur.URL, headers: cur.Headers, addresses: cur.Addresses,
	}
	if in.Name != "" {
		s.name = in.Name
	}
	if in.Enabled != nil {
		s.enabled = *in.Enabled
	}
	if in.OnlyNamedByRules != nil {
		s.onlyNamed = *in.OnlyNamedByRules
	}
	if in.EventFilters != nil {
		s.filters = in.EventFilters
	}
	if in.Config.URL != "" {
		s.url = in.Config.URL
	}
	if in.Config.Headers != nil {
		h := make(map[string]string, len(in.Config.Headers))
		for k, v := range in.Config.Headers {
			if v == Redacted {
				old, ok := headerValue(cur.Headers, k)
				if !ok {
					return Channel{}, &ValidationError{Fields: []FieldError{{Field: "config.headers." + k, Message: "is " + Redacted + " but the channel has no such header"}}}
				}
				v = old
			}
			h[k] = v
		}
		s.headers = h
	}
	if in.Config.Addresses != nil {
		s.addresses = in.Config.Addresses
	}
	if errs := s.validate(mode); len(errs) > 0 {
		return Channel{}, &ValidationError{Fields: errs}
	}
	next := cur
	next.EventFilters, next.Headers, next.Addresses = nil, nil, nil
	s.applyTo(&next)
	if next.Type == TypeGenericWebhook && next.SigningSecret == "" {
		next.SigningSecret = NewSigningSecret()
	}
	next.SubscriptionARNs = maps.Clone(cur.SubscriptionARNs)
	next.UpdatedAt = now.UTC()
	next.Version = cur.Version + 1
	return next, nil
}

func headerValue(h map[string]string, name string) (string, bool) {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// spec is a channel's settings, merged from input (and, on update, the
// current channel), before validation.
type spec struct {
	name, typ          string
	enabled, onlyNamed bool
	filters            []string
	url                string
	headers            map[string]string
	addresses          []string
}

func (in ChannelInput) spec(create bool) spec {
	s := spec{
		name: in.Name, typ: in.Type, enabled: create, filters: in.EventFilters,
		url: in.Config.URL, headers: in.Config.Headers, addresses: in.Config.Addresses,
	}
	if in.Enabled != nil {
		s.enabled = *in.Enabled
	}
	if in.OnlyNamedByRules != nil {
		s.onlyNamed = *in.OnlyNamedByRules
	}
	return s
}

// applyTo copies the (valid) settings onto ch, normalized.
func (s spec) applyTo(ch *Channel) {
	ch.Name = strings.TrimSpace(s.name)
	ch.Type = s.typ
	ch.Enabled = s.enabled
	ch.OnlyNamedByRules = s.onlyNamed
	ch.EventFilters = dedupe(s.filters, func(v string) string { return v })
	ch.URL = s.url
	ch.Headers = maps.Clone(s.headers)
	if len(ch.Headers) == 0 {
		ch.Headers = nil
	}
	ch.Addresses = dedupe(s.addresses, strings.ToLower)
}

// dedupe keeps the first of each key(v), in order; nil if empty.
func dedupe(in []string, key func(string) string) []string {
	var out []string
	seen := make(map[string]bool, len(in))
	for _, v := range in {
		if k := key(v); !seen[k] {
			seen[k] = true
			out = append(out, v)
		}
	}
	return out
}

func (s spec) validate(mode Mode) []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	name := strings.TrimSpace(s.name)
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		add("name", "must be valid UTF-8")
	case n == 0 || n > MaxNameLen:
		add("name", "must be 1 to %d characters", MaxNameLen)
	case !freetext.OK(name, false):
		add("name", "%s", freetext.Problem(name, false))
	}
	for i, f := range s.filters {
		if !slices.Contains(events.Types, f) {
			add(fmt.Sprintf("event_filters[%d]", i), "unknown event type %q", f)
		}
	}
	if !slices.Contains(Types, s.typ) {
		add("type", "must be one of %s", strings.Join(Types, ", "))
		return errs
	}
	webhook := s.typ == TypeSlackWebhook || s.typ == TypeGenericWebhook
	switch {
	case webhook:
		if err := checkChannelURL(mode, s.typ, s.url); err != nil {
			add("config.url", "%s", strings.TrimPrefix(err.Error(), ErrBlocked.Error()+": "))
		}
	case s.url != "":
		add("config.url", "not used by %s channels", s.typ)
	}
	switch {
	case s.typ == TypeGenericWebhook:
		errs = append(errs, validateHeaders(s.headers)...)
	case len(s.headers) > 0:
		add("config.headers", "only generic_webhook channels have headers")
	}
	switch {
	case s.typ == TypeEmail:
		errs = append(errs, validateAddresses(s.addresses)...)
	case len(s.addresses) > 0:
		add("config.addresses", "only email channels have addresses")
	}
	return errs
}

// checkChannelURL is parseTarget plus, in AWS mode, the Slack host pin:
// https://hooks.slack.com/<path>, default port.
func checkChannelURL(mode Mode, typ, raw string) error {
	t, err := parseTarget(mode, raw)
	if err != nil {
		return err
	}
	if typ == TypeSlackWebhook && !mode.local() {
		if t.host != SlackHost || t.u.Port() != "" && t.u.Port() != "443" || len(t.u.Path) < 2 {
			return blocked("Slack webhook URLs must be https://%s/…", SlackHost)
		}
	}
	return nil
}

// Headers a channel may not set: transport framing, hop-by-hop headers,
// and everything the delivery itself sends.
var forbiddenHeaders = map[string]bool{
	"host": true, "content-length": true, "content-type": true, "content-encoding": true,
	"transfer-encoding": true, "connection": true, "keep-alive": true, "te": true,
	"trailer": true, "upgrade": true, "proxy-authorization": true, "proxy-connection": true,
	"user-agent": true,
}

func validateHeaders(h map[string]string) []FieldError {
	var errs []FieldError
	if len(h) > MaxHeaders {
		return []FieldError{{Field: "config.headers", Message: fmt.Sprintf("at most %d headers", MaxHeaders)}}
	}
	seen := make(map[string]string, len(h))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		v, field := h[k], "config.headers."+k
		lk := strings.ToLower(k)
		switch {
		case !isToken(k):
			errs = append(errs, FieldError{Field: field, Message: "header name must be an RFC 7230 token"})
			continue
		case forbiddenHeaders[lk] || strings.HasPrefix(lk, "x-jitsudo-"):
			errs = append(errs, FieldError{Field: field, Message: "header is set by jitsudo and cannot be overridden"})
			continue
		case seen[lk] != "":
			errs = append(errs, FieldError{Field: field, Message: "duplicates header " + seen[lk]})
			continue
		}
		seen[lk] = k
		switch {
		case len(v) > MaxHeaderValueLen:
			errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf("value must be at most %d characters", MaxHeaderValueLen)})
		case !validHeaderValue(v):
			errs = append(errs, FieldError{Field: field, Message: "value must not contain CR, LF or other control characters"})
		}
	}
	return errs
}

// isToken: RFC 7230 token, 1*tchar.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue: valid UTF-8, no control characters but HTAB.
func validHeaderValue(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r != '\t' && (r < ' ' || r == 0x7f) {
			return false
		}
	}
	return true
}

func validateAddresses(addrs []string) []FieldError {
	if len(addrs) == 0 || len(addrs) > MaxAddresses {
		return []FieldError{{Field: "config.addresses", Message: fmt.Sprintf("must list 1 to %d addresses", MaxAddresses)}}
	}
	var errs []FieldError
	for i, a := range addrs {
		if !validEmail(a) {
			errs = append(errs, FieldError{Field: fmt.Sprintf("config.addresses[%d]", i), Message: "must be a plain e-mail address (name@example.com, no display name)"})
		}
	}
	return errs
}

// validEmail: what net/mail parses to exactly itself with no display name,
// at most 254 characters, the domain a host name with a dot.
func validEmail(a string) bool {
	if a == "" || len(a) > maxAddressLen {
		return false
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || p.Address != a {
		return false
	}
	at := strings.LastIndexByte(a, '@')
	domain := a[at+1:]
	return strings.Contains(domain, ".") && validHostname(strings.ToLower(domain))
}
