package events

// The mapping from audit events to notification events. The audit chain is
// the outbox: every state transition commits its audit event in the same
// transaction, and the stream of audit items is what gets published (see
// Relay). An audit event says what happened at that moment — its metadata
// is a snapshot (requestMeta/grantMeta in package access) — while the
// request and grant items say what is true now. The event's type, the
// status it reports and the other fields a transition changes come from
// the snapshot, so a quick later transition does not change what an
// earlier event says; the rest of the summary (justification, email,
// deadline, ...) is read from the current items.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// ErrMalformed marks an audit event that can never become a notification
// (no tenant or id, a request.created with an unknown status, an
// undecodable stream item). Retrying does not help; the Relay logs and
// skips such records instead of blocking the stream.
var ErrMalformed = errors.New("events: malformed audit event")

// ErrUndeliverable: a publisher can never deliver this event (e.g. larger
// than SNS accepts); the relay logs and skips it instead of retrying it
// into the dead-letter queue.
var ErrUndeliverable = errors.New("events: event cannot be delivered")

// Loader reads the current request and grant items an event summarizes.
// Missing items are errors wrapping access.ErrNotFound (*store.Store
// implements it).
type Loader interface {
	GetRequest(ctx context.Context, tenantID, id string) (access.Request, error)
	GetGrant(ctx context.Context, tenantID, id string) (access.Grant, error)
}

// MessageLister is an optional capability of a Loader: the conversation of
// a request, oldest first (*store.Store implements it). The message.posted
// audit event records only the message's id, author type and length, not
// its body; when the Loader is also a MessageLister the body is looked up
// by id, otherwise request.message events carry an empty Message.Body.
type MessageLister interface {
	ListMessages(ctx context.Context, tenantID, requestID string, p access.Page) ([]access.Message, string, error)
}

// MessageGetter is an optional capability of a Loader, tried before
// MessageLister: one message by request, id and creation time (the
// message.posted event's own time; *store.Store implements it), one read
// instead of a walk through the conversation. A miss (an event whose time
// is not its message's) falls back to MessageLister.
type MessageGetter interface {
	GetMessage(ctx context.Context, tenantID, requestID, messageID string, at time.Time) (access.Message, error)
}

// Rules resolves the notification channels (policy.Rule.NotificationChannel)
// of rules by id, skipping rules without one and rules that no longer
// exist. RuleChannels implements it over the stored rules.
type Rules interface {
	NotificationChannels(ctx context.Context, tenantID string, ruleIDs []string) ([]string, error)
}

// Mapper turns audit events into notification events. Loader is required;
// Rules (Event.Channels) and Links (Event.Links) may be nil.
type Mapper struct {
	Loader Loader
	Rules  Rules
	Links  LinkBuilder
}

// TypeOf is the event type an audit event is notified as; ok is false for
// actions that are not notified (request.reviewed — one approval of
// several —, rule.*, rules.*, settings and channel changes, and actions
// this version does not know).
// request.created is request.pending, request.approved (automatic
// approval) or request.denied (denied by policy) by the status it
// recorded.
func TypeOf(a access.AuditEvent) (typ string, ok bool, err error) {
	switch a.Action {
	case access.AuditRequestCreated:
		switch st := metaString(a.Metadata, "status"); st {
		case access.StatusPending:
			return RequestPending, true, nil
		case access.StatusApproved:
			return RequestApproved, true, nil
		case access.StatusDenied:
			return RequestDenied, true, nil
		default:
			return "", false, fmt.Errorf("%w: %s %s recorded status %q", ErrMalformed, a.Action, a.ID, st)
		}
	case access.AuditRequestApproved:
		return RequestApproved, true, nil
	case access.AuditRequestDenied:
		return RequestDenied, true, nil
	case access.AuditRequestCancelled:
		return RequestCancelled, true, nil
	case access.AuditRequestExpired:
		return RequestExpired, true, nil
	case access.AuditRequestBreakGlass:
		return RequestBreakGlass, true, nil
	case access.AuditMessagePosted:
		return RequestMessage, true, nil
	case access.AuditGrantActive:
		return GrantActive, true, nil
	case access.AuditGrantFailed:
		return GrantFailed, true, nil
	case access.AuditGrantRevokeFailed:
		return GrantRevokeFailed, true, nil
	case access.AuditGrantExpired:
		return GrantExpired, true, nil
	case access.AuditGrantRevoked:
		return GrantRevoked, true, nil
	case access.AuditGrantExtended:
		return GrantExtended, true, nil
	case access.AuditDriftDetected:
		return DriftDetected, true, nil
	}
	return "", false, nil
}

// SeverityOf is an event's severity: critical for break-glass (the audit
// event's own severity is critical — break-glass requests and their
// grants' transitions, and access whose revocation is failing — or its
// snapshot says break_glass), warning for a
// failed grant and an expired request (nobody decided in time), info
// otherwise.
func SeverityOf(a access.AuditEvent, typ string) string {
	switch {
	case a.Severity == access.SeverityCritical, typ == RequestBreakGlass, metaBool(a.Metadata, "break_glass"):
		return SeverityCritical
	case typ == GrantFailed, typ == RequestExpired, typ == DriftDetected:
		return SeverityWarning
	}
	return SeverityInfo
}

// Event maps a to its notification event; ok is false for audit events
// that are not notified (TypeOf). Event.ID is the audit event's id (stable
// across redeliveries, for consumers to deduplicate on). Errors reading
// the current items are returned as they are (retry); a request or grant
// that does not exist is summarized from the audit snapshot alone.
func (m Mapper) Event(ctx context.Context, a access.AuditEvent) (Event, bool, error) {
	if a.ID == "" || a.TenantID == "" || a.ResourceID == "" {
		return Event{}, false, fmt.Errorf("%w: audit event %q of tenant %q has no id, tenant or resource", ErrMalformed, a.ID, a.TenantID)
	}
	typ, ok, err := TypeOf(a)
	if err != nil || !ok {
		return Event{}, false, err
	}
	if m.Loader == nil {
		return Event{}, false, errors.New("events: no Loader")
	}
	ev := Event{
		Version: Version, ID: a.ID, Type: typ, TenantID: a.TenantID,
		Severity:   SeverityOf(a, typ),
		OccurredAt: a.CreatedAt.UTC(),
		Actor:      Actor{ID: a.ActorID, Type: a.ActorType},
		Reasoning:  a.Reasoning,
	}
	var sub subject
	switch {
	case typ == DriftDetected:
		// What the reconciler found, from the audit metadata
		// (providers.Reconcile): counts, and the assignments it names.
		ev.Drift = &Drift{
			Repaired: int(MetaInt(a.Metadata, "repaired_count")), Removed: int(MetaInt(a.Metadata, "removed_count")),
			Unexpected: metaStrings(a.Metadata, "unexpected"),
		}
	case typ == RequestMessage:
		sub, err = m.messageSubject(ctx, a, &ev)
	case typ == GrantActive || typ == GrantFailed || typ == GrantRevokeFailed || typ == GrantExpired || typ == GrantRevoked || typ == GrantExtended:
		sub, err = m.grantSubject(ctx, a, &ev)
	default: // request transitions
		sub, err = m.requestSubject(ctx, a, &ev)
	}
	if err != nil {
		return Event{}, false, err
	}
	requestID, grantID, ruleIDs, pending := sub.requestID, sub.grantID, sub.ruleIDs, sub.pending
	if m.Rules != nil && len(ruleIDs) > 0 {
		ch, err := m.Rules.NotificationChannels(ctx, a.TenantID, ruleIDs)
		if err != nil {
			return Event{}, false, fmt.Errorf("events: notification channels of %s: %w", a.ID, err)
		}
		ev.Channels = ch
	}
	if m.Links != nil {
		ev.Links = m.Links.Links(a.TenantID, requestID, grantID)
		if !pending {
			ev.Links.Approve, ev.Links.Deny = "", ""
		}
	}
	return ev, true, nil
}

// subject is what an event is about beyond its own fields: the request
// and grant its links name, the rules that route it to channels, and
// whether approve/deny links apply (the request is pending).
type subject struct {
	requestID, grantID string
	ruleIDs            []string
	pending            bool
}

// messageSubject fills a message.posted event: the request as it is now
// and the message.
func (m Mapper) messageSubject(ctx context.Context, a access.AuditEvent, ev *Event) (subject, error) {
	sub := subject{requestID: a.ResourceID}
	r, cur, err := m.request(ctx, a, sub.requestID, false)
	if err != nil {
		return sub, err
	}
	ev.Request = r
	if cur != nil {
		sub.ruleIDs, sub.grantID, sub.pending = cur.DecidingRuleIDs, cmp.Or(cur.GrantID, cur.ExtendsGrantID), cur.Status == access.StatusPending
	}
	ev.Message, err = m.message(ctx, a)
	return sub, err
}

// grantSubject fills a grant transition: the grant and the request that
// created it; an extension is routed by the extension request's rules.
func (m Mapper) grantSubject(ctx context.Context, a access.AuditEvent, ev *Event) (subject, error) {
	sub := subject{grantID: a.ResourceID}
	g, err := m.grant(ctx, a)
	if err != nil {
		return sub, err
	}
	ev.Grant = g
	sub.requestID = g.RequestID
	if sub.requestID != "" {
		r, cur, err := m.request(ctx, a, sub.requestID, false)
		if err != nil {
			return sub, err
		}
		if cur != nil {
			ev.Request, sub.ruleIDs = r, cur.DecidingRuleIDs
		}
	}
	if ext := metaString(a.Metadata, "extension_request_id"); ev.Type == GrantExtended && ext != "" {
		x, err := m.Loader.GetRequest(ctx, a.TenantID, ext)
		switch {
		case err == nil:
			sub.ruleIDs = x.DecidingRuleIDs
		case !errors.Is(err, access.ErrNotFound):
			return sub, fmt.Errorf("events: extension request %s of %s: %w", ext, a.ID, err)
		}
	}
	return sub, nil
}

// requestSubject fills a request transition from the request as the
// audit event recorded it; an extension request links the grant it
// extends.
func (m Mapper) requestSubject(ctx context.Context, a access.AuditEvent, ev *Event) (subject, error) {
	sub := subject{requestID: a.ResourceID}
	r, cur, err := m.request(ctx, a, sub.requestID, true)
	if err != nil {
		return sub, err
	}
	ev.Request = r
	sub.grantID = cmp.Or(r.GrantID, metaString(a.Metadata, "extends_grant_id"))
	sub.pending = ev.Type == RequestPending
	sub.ruleIDs = metaStrings(a.Metadata, "deciding_rule_ids")
	if sub.ruleIDs == nil && cur != nil {
		sub.ruleIDs = cur.DecidingRuleIDs
	}
	return sub, nil
}

// request summarizes request id. With snapshot (a is a transition of this
// request) the status, grant id and decider are the ones a recorded, and
// approvals count the reviews given up to a. The current item is returned
// too (nil when it does not exist: then the summary is built from a's
// snapshot alone, or is nil without one).
func (m Mapper) request(ctx context.Context, a access.AuditEvent, id string, snapshot bool) (*Request, *access.Request, error) {
	r, err := m.Loader.GetRequest(ctx, a.TenantID, id)
	if errors.Is(err, access.ErrNotFound) {
		if !snapshot {
			return nil, nil, nil
		}
		return requestFromMeta(a, id), nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("events: request %s of %s: %w", id, a.ID, err)
	}
	s := &Request{
		ID: r.ID, Status: r.Status, RequesterID: r.RequesterID, RequesterEmail: r.RequesterEmail,
		Resource:         Resource{Type: r.Resource.Type, ID: r.Resource.ID, AccountID: r.Resource.AccountID},
		PermissionSetARN: r.PermissionSetARN, Action: r.Action, Justification: r.Reason,
		DurationSeconds: r.DurationSeconds, BreakGlass: r.BreakGlass, ApprovalMode: r.ApprovalMode,
		ApprovalsRequired: r.ApprovalsRequired, ApprovalDeadline: utcPtr(r.ApprovalDeadline),
		DecidedBy: r.DecidedBy, GrantID: r.GrantID, CreatedAt: r.CreatedAt.UTC(),
	}
	for _, rv := range r.Reviews {
		if rv.Decision == access.StatusApproved && (!snapshot || !rv.At.After(a.CreatedAt)) {
			s.Approvals++
		}
	}
	if snapshot {
		if st := metaString(a.Metadata, "status"); st != "" {
			s.Status = st
		}
		// A request leaves pending once: a decided snapshot agrees with
		// the item's decider and grant; a pending one had neither yet.
		if gid := metaString(a.Metadata, "grant_id"); gid != "" {
			s.GrantID = gid
		}
		if s.Status == access.StatusPending {
			s.DecidedBy, s.GrantID = "", ""
		}
	}
	return s, &r, nil
}

// requestFromMeta is the summary of a request whose item is gone, from
// the audit snapshot (requestMeta).
func requestFromMeta(a access.AuditEvent, id string) *Request {
	md := a.Metadata
	s := &Request{
		ID: id, Status: metaString(md, "status"), RequesterID: metaString(md, "requester_id"),
		Resource:         Resource{Type: metaString(md, "resource_type"), ID: metaString(md, "resource_id"), AccountID: metaString(md, "account_id")},
		PermissionSetARN: metaString(md, "permission_set_arn"),
		DurationSeconds:  MetaInt(md, "duration_seconds"), BreakGlass: metaBool(md, "break_glass"),
		ApprovalMode: metaString(md, "approval_mode"), GrantID: metaString(md, "grant_id"),
	}
	if s.Status != access.StatusPending {
		s.DecidedBy = a.ActorID
	}
	if a.Action == access.AuditRequestCreated || a.Action == access.AuditRequestBreakGlass {
		s.CreatedAt = a.CreatedAt.UTC()
		s.Justification = a.Reasoning
	}
	return s
}

// grant summarizes the grant of a grant transition: status and expiry as a
// recorded (grantMeta), the rest from the current item (or the snapshot
// alone when the item is gone).
func (m Mapper) grant(ctx context.Context, a access.AuditEvent) (*Grant, error) {
	md := a.Metadata
	g, err := m.Loader.GetGrant(ctx, a.TenantID, a.ResourceID)
	var s *Grant
	switch {
	case errors.Is(err, access.ErrNotFound):
		s = &Grant{
			ID: a.ResourceID, RequestID: metaString(md, "request_id"), GranteeID: metaString(md, "grantee_id"),
			Resource:         Resource{Type: metaString(md, "resource_type"), ID: metaString(md, "resource_id")},
			PermissionSetARN: metaString(md, "permission_set_arn"), BreakGlass: metaBool(md, "break_glass"),
		}
	case err != nil:
		return nil, fmt.Errorf("events: grant %s of %s: %w", a.ResourceID, a.ID, err)
	default:
		s = GrantSummary(g)
	}
	if st := metaString(md, "status"); st != "" {
		s.Status = st
	}
	if exp := metaString(md, "expires_at"); exp != "" {
		if t, err := time.Parse(time.RFC3339Nano, exp); err == nil {
			t = t.UTC()
			s.ExpiresAt = &t
		}
	}
	// Failure and revocation belong to those states: an earlier event of
	// a grant revoked since does not say who revoked it.
	switch s.Status {
	case access.GrantFailed:
		if s.FailureReason == "" {
			s.FailureReason = a.Reasoning
		}
	case access.GrantRevoked:
		if s.RevokedBy == "" {
			s.RevokedBy = a.ActorID
		}
	}
	if s.Status != access.GrantFailed {
		s.FailureReason = ""
	}
	if s.Status != access.GrantRevoked {
		s.RevokedBy = ""
	}
	return s, nil
}

// maxMessagePages bounds the search for a posted message's body (250
// messages a page).
const maxMessagePages = 40

// message is the posted message of a message.posted event; its body is
// looked up when the Loader can list messages (MessageLister).
func (m Mapper) message(ctx context.Context, a access.AuditEvent) (*Message, error) {
	msg := &Message{ID: metaString(a.Metadata, "message_id"), AuthorID: a.ActorID, AuthorType: metaString(a.Metadata, "author_type")}
	if msg.ID == "" {
		return msg, nil
	}
	if mg, ok := m.Loader.(MessageGetter); ok {
		x, err := mg.GetMessage(ctx, a.TenantID, a.ResourceID, msg.ID, a.CreatedAt)
		if err == nil {
			msg.Body, msg.AuthorID, msg.AuthorType = x.Body, x.AuthorID, x.AuthorType
			return msg, nil
		}
		if !errors.Is(err, access.ErrNotFound) {
			return nil, fmt.Errorf("events: message %s of request %s (%s): %w", msg.ID, a.ResourceID, a.ID, err)
		}
	}
	ml, ok := m.Loader.(MessageLister)
	if !ok {
		return msg, nil
	}
	cursor := ""
	for range maxMessagePages {
		page, next, err := ml.ListMessages(ctx, a.TenantID, a.ResourceID, access.Page{Limit: 250, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("events: messages of request %s (%s): %w", a.ResourceID, a.ID, err)
		}
		for _, x := range page {
			if x.ID == msg.ID {
				msg.Body, msg.AuthorID, msg.AuthorType = x.Body, x.AuthorID, x.AuthorType
				return msg, nil
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return msg, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Audit metadata went through JSON (access.NormalizeMetadata) and, read
// back from DynamoDB, holds strings, float64s, bools and []any.

func metaString(md map[string]any, k string) string {
	s, _ := md[k].(string)
	return s
}

func metaBool(md map[string]any, k string) bool {
	b, _ := md[k].(bool)
	return b
}

// MetaInt is the whole number md[k] of an audit event's metadata (a
// float64 once decoded from the stream or the table; 0 if absent).
func MetaInt(md map[string]any, k string) int64 {
	switch v := md[k].(type) {
	case float64:
		return int64(v)
	case int64:
		return v
	case int:
		return int64(v)
	}
	return 0
}

func metaStrings(md map[string]any, k string) []string {
	switch v := md[k].(type) {
	case []string:
		return slices.Clone(v)
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
