// Package events is jitsudo's notification events: the versioned JSON body
// published to the SNS topic for every domain event, its message
// attributes, and the mapping from audit events (the outbox) to them.
package events

import "time"

// Version is the body version (Event.Version). Consumers must ignore
// fields they do not know; a breaking change bumps it.
const Version = 1

// Event types.
const (
	RequestPending    = "request.pending"
	RequestApproved   = "request.approved"
	RequestDenied     = "request.denied"
	RequestExpired    = "request.expired"
	RequestCancelled  = "request.cancelled"
	RequestBreakGlass = "request.break_glass"
	RequestMessage    = "request.message"
	GrantActive       = "grant.active"
	GrantExpiringSoon = "grant.expiring_soon"
	GrantExpired      = "grant.expired"
	GrantRevoked      = "grant.revoked"
	GrantFailed       = "grant.failed"
	// GrantRevokeFailed: the grant's end passed and its revocation at the
	// provider is failing (retried with back-off by the sweeper).
	GrantRevokeFailed = "grant.revoke_failed"
	GrantExtended     = "grant.extended"
	DriftDetected     = "drift.detected"
	ChannelTest       = "channel.test"
)

// Types lists every event type a channel may filter on.
var Types = []string{
	RequestPending, RequestApproved, RequestDenied, RequestExpired, RequestCancelled,
	RequestBreakGlass, RequestMessage, GrantActive, GrantExpiringSoon, GrantExpired,
	GrantRevoked, GrantFailed, GrantRevokeFailed, GrantExtended, DriftDetected, ChannelTest,
}

// Severities (Event.Severity, the "severity" message attribute).
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// SNS message attribute names.
const (
	AttrTenantID  = "tenant_id"
	AttrEventType = "event_type"
	AttrSeverity  = "severity"
)

// Event is the body of one notification (JSON, Version 1). ID is unique
// per domain event and stable across redeliveries: consumers deduplicate
// on it (delivery is at least once).
type Event struct {
	Version    int       `json:"version"`
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	TenantID   string    `json:"tenant_id"`
	Severity   string    `json:"severity"`
	OccurredAt time.Time `json:"occurred_at"`
	Actor      Actor     `json:"actor"`
	Reasoning  string    `json:"reasoning,omitempty"`
	Request    *Request  `json:"request,omitempty"`
	Grant      *Grant    `json:"grant,omitempty"`
	Message    *Message  `json:"message,omitempty"`
	Drift      *Drift    `json:"drift,omitempty"`
	Links      Links     `json:"links"`
	// Channels are the notification channel ids the deciding rules name
	// (policy.Rule.NotificationChannel): where this request's reviewers
	// are to be told.
	Channels []string `json:"channels,omitempty"`
}

// Actor is who caused the event (user, api_key, system, policy).
type Actor struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Resource is a request's target.
type Resource struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	AccountID string `json:"account_id,omitempty"`
}

// Request summarizes the request an event is about.
type Request struct {
	ID                string     `json:"id"`
	Status            string     `json:"status"`
	RequesterID       string     `json:"requester_id"`
	RequesterEmail    string     `json:"requester_email,omitempty"`
	Resource          Resource   `json:"resource"`
	PermissionSetARN  string     `json:"permission_set_arn,omitempty"`
	Action            string     `json:"action,omitempty"`
	Justification     string     `json:"justification"`
	DurationSeconds   int64      `json:"duration_seconds"`
	BreakGlass        bool       `json:"break_glass"`
	ApprovalMode      string     `json:"approval_mode,omitempty"`
	ApprovalsRequired int        `json:"approvals_required,omitempty"`
	Approvals         int        `json:"approvals,omitempty"`
	ApprovalDeadline  *time.Time `json:"approval_deadline,omitempty"`
	DecidedBy         string     `json:"decided_by,omitempty"`
	GrantID           string     `json:"grant_id,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
}

// Grant summarizes the grant an event is about.
type Grant struct {
	ID               string     `json:"id"`
	RequestID        string     `json:"request_id"`
	Status           string     `json:"status"`
	GranteeID        string     `json:"grantee_id"`
	GranteeEmail     string     `json:"grantee_email,omitempty"`
	Resource         Resource   `json:"resource"`
	PermissionSetARN string     `json:"permission_set_arn,omitempty"`
	BreakGlass       bool       `json:"break_glass"`
	GrantedAt        *time.Time `json:"granted_at,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	FailureReason    string     `json:"failure_reason,omitempty"`
	RevokedBy        string     `json:"revoked_by,omitempty"`
}

// Message is a message posted on a request (request.message).
type Message struct {
	ID         string `json:"id"`
	AuthorID   string `json:"author_id"`
	AuthorType string `json:"author_type"`
	Body       string `json:"body"`
}

// Drift is what the reconciler found (drift.detected).
type Drift struct {
	Repaired   int      `json:"repaired"`
	Removed    int      `json:"removed"`
	Unexpected []string `json:"unexpected,omitempty"` // "<account>/<permission set>/<principal>"
}

// Links are API URLs to act on the event ("" when the API base URL is
// not configured).
type Links struct {
	// Page is the request's page in the Approvals page (UI_BASE_URL),
	// where a person reads, discusses and decides it: what Slack buttons
	// and e-mails point people to.
	Page    string `json:"page,omitempty"`
	Request string `json:"request,omitempty"`
	Approve string `json:"approve,omitempty"`
	Deny    string `json:"deny,omitempty"`
	Grant   string `json:"grant,omitempty"`
}
