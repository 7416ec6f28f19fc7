package policy

import "time"

// Effects, scope types, approval modes and actions of the rule model.
const (
	EffectPermit = "permit"
	EffectForbid = "forbid"

	ScopeAny  = "any"
	ScopeEq   = "eq"
	ScopeIn   = "in"
	ScopeIs   = "is"
	ScopeIsIn = "is_in"

	ModeAuto       = "auto"
	ModeRequire    = "require"
	ModeBreakGlass = "break_glass"

	ActionRequestAccess  = "request_access"
	ActionApproveRequest = "approve_request"
	ActionExtendGrant    = "extend_grant"
)

// Rule is one tenant policy rule in the original JITSudo's decomposed form.
// A rule may instead be given as PolicyText (one Cedar statement whose
// annotations carry the other fields); Normalize turns either form into the
// decomposed one.
type Rule struct {
	ID                  string   `json:"id"`
	Name                string   `json:"name"`
	Description         string   `json:"description,omitempty"`
	Priority            int      `json:"priority"`
	Enabled             bool     `json:"enabled"`
	Effect              string   `json:"effect"`
	PrincipalScopeType  string   `json:"principal_scope_type"`
	PrincipalEntityType string   `json:"principal_entity_type,omitempty"`
	PrincipalEntityID   string   `json:"principal_entity_id,omitempty"`
	ActionScopeType     string   `json:"action_scope_type"`
	ActionIDs           []string `json:"action_ids,omitempty"`
	ResourceScopeType   string   `json:"resource_scope_type"`
	ResourceEntityType  string   `json:"resource_entity_type,omitempty"`
	ResourceEntityID    string   `json:"resource_entity_id,omitempty"`
	Conditions          string   `json:"conditions,omitempty"`
	ApprovalMode        string   `json:"approval_mode,omitempty"`
	ApprovalTimeout     string   `json:"approval_timeout,omitempty"`
	ApprovalsRequired   int      `json:"approvals_required,omitempty"`
	Notice              string   `json:"notice,omitempty"`
	// NotificationChannel optionally names the channel that this rule's
	// reviewers are notified on.
	NotificationChannel string `json:"notification_channel,omitempty"`
	// PolicyText is the alternative input form; it is empty on stored rules.
	PolicyText string `json:"policy_text,omitempty"`
}

// Principal is who acts: the requester for request_access, the reviewer
// for approve_request.
type Principal struct {
	ID     string   // user id (token subject) or API key id
	Groups []string // group names from the token's groups claim
	// Attributes are exposed to conditions as context.requester.<name>
	// (for the requester) — e.g. email, name.
	Attributes map[string]string
}

// Resource is the target of a request, by Cedar entity type
// (AwsAccount, AwsPermissionSet, ...) and id. AccountID and OUID, when known,
// make the resource a descendant of AwsAccount::"<AccountID>" and
// AwsOrganizationalUnit::"<OUID>" so that `resource in AwsAccount::"…"` and
// OU-wide rules work.
type Resource struct {
	Type      string
	ID        string
	AccountID string
	OUID      string
}

// Request is one question put to a compiled policy set.
type Request struct {
	Principal Principal
	Action    string // request_access, approve_request, extend_grant
	Resource  Resource
	// DurationSeconds is the time asked for: a request's duration, or for
	// extend_grant the increment (context.duration_seconds).
	DurationSeconds int64
	// TotalDurationSeconds is the grant's total duration if the request
	// succeeds (context.total_duration_seconds): for extend_grant the
	// grant's end after the extension minus its start. 0 means "the same
	// as DurationSeconds" (a new request: its grant lasts what it asks).
	TotalDurationSeconds int64
	Justification        string
	BreakGlass           bool
	Now                  time.Time
	// Requester is set for approve_request: the person whose request is
	// being reviewed. Exposed as context.requester.
	Requester *Principal
	// Mode is set for approve_request: the request's approval mode.
	Mode string
	// Metadata is the request's free-form metadata, exposed as
	// context.metadata (strings, numbers, bools, nested objects/arrays).
	Metadata map[string]any
}

// Decision is what a policy set says about a Request.
type Decision struct {
	Allowed           bool          `json:"allowed"`
	Mode              string        `json:"mode,omitempty"`
	ApprovalTimeout   time.Duration `json:"-"`
	ApprovalsRequired int           `json:"approvals_required,omitempty"`
	DecidingRuleIDs   []string      `json:"deciding_rule_ids"`
	Tier              *int          `json:"tier,omitempty"`
	Reason            string        `json:"reason"`
	Notices           []string      `json:"notices,omitempty"`
	Errors            []string      `json:"errors,omitempty"`
}
