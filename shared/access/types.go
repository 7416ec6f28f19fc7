// Package access is the domain of access requests and grants: creating a
// request and deciding it with the tenant's policies, reviews (N distinct
// approvers, one deny ends it), cancellation, messages, grants and their
// provisioning, expiry and revocation, and the tamper-evident audit log.
// Every state change is a conditional write against the expected current
// state, in one DynamoDB transaction with its audit event.
package access

import (
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Request states.
const (
	StatusPending   = "pending"
	StatusApproved  = "approved"
	StatusDenied    = "denied"
	StatusExpired   = "expired"
	StatusCancelled = "cancelled"
)

// Grant states.
const (
	GrantProvisioning = "provisioning"
	GrantActive       = "active"
	GrantExpired      = "expired"
	GrantRevoked      = "revoked"
	GrantFailed       = "failed"
	// GrantRevokeFailed: the grant's end has come but revoking it at the
	// provider failed; RevokeFailure says why. The sweeper retries the
	// revoke with back-off (NextRevokeAt) until it ends expired. Never an
	// end state: the access may still be assigned.
	GrantRevokeFailed = "revoke_failed"
)

// Who decided (Request.DecidedBy when not a person).
const (
	DecidedByPolicy  = "policy"
	DecidedByTimeout = "approval_timeout"
)

// Resource is a request's target. Type is the API name (aws_account,
// aws_permission_set, aws_organizational_unit, aws_s3_bucket,
// aws_rds_instance, aws_ec2_instance).
type Resource struct {
	Type      string `json:"type" dynamodbav:"type"`
	ID        string `json:"id" dynamodbav:"id"`
	AccountID string `json:"account_id,omitempty" dynamodbav:"account_id,omitempty"`
	OUID      string `json:"ou_id,omitempty" dynamodbav:"ou_id,omitempty"`
}

// Review is one reviewer's approval.
type Review struct {
	ReviewerID string    `json:"reviewer_id" dynamodbav:"reviewer_id"`
	Decision   string    `json:"decision" dynamodbav:"decision"` // approved | denied
	Reasoning  string    `json:"reasoning,omitempty" dynamodbav:"reasoning,omitempty"`
	At         time.Time `json:"at" dynamodbav:"at"`
	// Person is the reviewer's identity keys (person.go); nil on reviews
	// stored before it was recorded.
	Person *Person `json:"-" dynamodbav:"person,omitempty"`
}

// Request is an access request (the original's field names).
type Request struct {
	ID                string         `json:"id" dynamodbav:"id"`
	TenantID          string         `json:"tenant_id" dynamodbav:"tenant_id"`
	RequesterID       string         `json:"requester_id" dynamodbav:"requester_id"`
	RequesterGroups   []string       `json:"requester_groups,omitempty" dynamodbav:"requester_groups,omitempty"`
	RequesterEmail    string         `json:"requester_email,omitempty" dynamodbav:"requester_email,omitempty"`
	Resource          Resource       `json:"resource" dynamodbav:"resource"`
	PermissionSetARN  string         `json:"permission_set_arn,omitempty" dynamodbav:"permission_set_arn,omitempty"`
	Action            string         `json:"action" dynamodbav:"action"`
	Reason            string         `json:"reason" dynamodbav:"reason"` // the justification
	DurationSeconds   int64          `json:"duration_seconds" dynamodbav:"duration_seconds"`
	BreakGlass        bool           `json:"break_glass" dynamodbav:"break_glass"`
	Metadata          map[string]any `json:"metadata,omitempty" dynamodbav:"metadata,omitempty"`
	Status            string         `json:"status" dynamodbav:"status"`
	ApprovalMode      string         `json:"approval_mode,omitempty" dynamodbav:"approval_mode,omitempty"`
	ApprovalTimeout   int64          `json:"approval_timeout_seconds,omitempty" dynamodbav:"approval_timeout_seconds,omitempty"`
	ApprovalsRequired int            `json:"approvals_required,omitempty" dynamodbav:"approvals_required,omitempty"`
	ApprovalDeadline  *time.Time     `json:"approval_deadline,omitempty" dynamodbav:"approval_deadline,omitempty"`
	Reviews           []Review       `json:"reviews,omitempty" dynamodbav:"reviews,omitempty"`
	DecidedBy         string         `json:"decided_by,omitempty" dynamodbav:"decided_by,omitempty"`
	DecisionReasoning string         `json:"decision_reasoning,omitempty" dynamodbav:"decision_reasoning,omitempty"`
	DecidingRuleIDs   []string       `json:"deciding_rule_ids,omitempty" dynamodbav:"deciding_rule_ids,omitempty"`
	Notices           []string       `json:"notices,omitempty" dynamodbav:"notices,omitempty"`
	GrantID           string         `json:"grant_id,omitempty" dynamodbav:"grant_id,omitempty"`
	// ExtendsGrantID: this request (Action extend_grant) asks to extend
	// that grant; approving it moves the grant's end instead of creating
	// a grant (extend.go).
	ExtendsGrantID string     `json:"extends_grant_id,omitempty" dynamodbav:"extends_grant_id,omitempty"`
	CreatedAt      time.Time  `json:"created_at" dynamodbav:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at" dynamodbav:"updated_at"`
	DecidedAt      *time.Time `json:"decided_at,omitempty" dynamodbav:"decided_at,omitempty"`
	// Requester is the requester's identity keys (person.go): what
	// self-approval is checked against. Nil on requests stored before it
	// was recorded. Not part of the API.
	Requester *Person `json:"-" dynamodbav:"requester,omitempty"`
	// TaskToken is the Step Functions callback token of the pending-approval
	// wait; never returned by the API. It is stored in its own item, not in
	// the request's (Repo.SetTaskToken), and filled only where a decision
	// reads the request (Repo.GetRequestWithToken) and by StoreTaskToken.
	TaskToken string `json:"-" dynamodbav:"-"`
	// Version grows with every write (optimistic concurrency).
	Version int64 `json:"version" dynamodbav:"version"`
}

// Grant is provisioned access created by an approved request.
type Grant struct {
	ID                 string     `json:"id" dynamodbav:"id"`
	TenantID           string     `json:"tenant_id" dynamodbav:"tenant_id"`
	RequestID          string     `json:"request_id" dynamodbav:"request_id"`
	GranteeID          string     `json:"grantee_id" dynamodbav:"grantee_id"`
	GranteeEmail       string     `json:"grantee_email,omitempty" dynamodbav:"grantee_email,omitempty"`
	Resource           Resource   `json:"resource" dynamodbav:"resource"`
	PermissionSetARN   string     `json:"permission_set_arn,omitempty" dynamodbav:"permission_set_arn,omitempty"`
	Status             string     `json:"status" dynamodbav:"status"`
	ProvisioningStatus string     `json:"provisioning_status,omitempty" dynamodbav:"provisioning_status,omitempty"`
	FailureReason      string     `json:"failure_reason,omitempty" dynamodbav:"failure_reason,omitempty"`
	BreakGlass         bool       `json:"break_glass" dynamodbav:"break_glass"`
	DurationSeconds    int64      `json:"duration_seconds" dynamodbav:"duration_seconds"`
	CreatedAt          time.Time  `json:"created_at" dynamodbav:"created_at"`
	GrantedAt          *time.Time `json:"granted_at,omitempty" dynamodbav:"granted_at,omitempty"`
	ExpiresAt          *time.Time `json:"expires_at,omitempty" dynamodbav:"expires_at,omitempty"` // set when active: granted_at + duration
	RevokedAt          *time.Time `json:"revoked_at,omitempty" dynamodbav:"revoked_at,omitempty"`
	RevokedBy          string     `json:"revoked_by,omitempty" dynamodbav:"revoked_by,omitempty"`
	// RevokeFailure is why the last revoke at the grant's end failed
	// (revoke_failed); RevokeAttempts counts the failed attempts and
	// NextRevokeAt is when the sweeper tries again.
	RevokeFailure  string     `json:"revoke_failure,omitempty" dynamodbav:"revoke_failure,omitempty"`
	RevokeAttempts int        `json:"revoke_attempts,omitempty" dynamodbav:"revoke_attempts,omitempty"`
	NextRevokeAt   *time.Time `json:"next_revoke_at,omitempty" dynamodbav:"next_revoke_at,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at" dynamodbav:"updated_at"`
	Version        int64      `json:"version" dynamodbav:"version"`
}

// Message is one entry of the conversation on a request.
type Message struct {
	ID         string    `json:"id" dynamodbav:"id"`
	RequestID  string    `json:"request_id" dynamodbav:"request_id"`
	AuthorType string    `json:"author_type" dynamodbav:"author_type"` // user | approver | system
	AuthorID   string    `json:"author_id" dynamodbav:"author_id"`
	Body       string    `json:"body" dynamodbav:"body"`
	CreatedAt  time.Time `json:"created_at" dynamodbav:"created_at"`
}

// AuditEvent is one link of a tenant's hash chain.
type AuditEvent struct {
	ID           string         `json:"id" dynamodbav:"id"`
	TenantID     string         `json:"tenant_id" dynamodbav:"tenant_id"`
	Seq          int64          `json:"seq" dynamodbav:"seq"`
	ActorID      string         `json:"actor_id" dynamodbav:"actor_id"`
	ActorType    string         `json:"actor_type" dynamodbav:"actor_type"` // user | api_key | system | policy
	Action       string         `json:"action" dynamodbav:"action"`         // request.created, request.approved, grant.revoked, rule.created, ...
	ResourceType string         `json:"resource_type" dynamodbav:"resource_type"`
	ResourceID   string         `json:"resource_id" dynamodbav:"resource_id"`
	Severity     string         `json:"severity" dynamodbav:"severity"` // info | critical (break-glass)
	Reasoning    string         `json:"reasoning,omitempty" dynamodbav:"reasoning,omitempty"`
	Metadata     map[string]any `json:"metadata,omitempty" dynamodbav:"metadata,omitempty"`
	CreatedAt    time.Time      `json:"created_at" dynamodbav:"created_at"`
	PrevHash     string         `json:"prev_hash" dynamodbav:"prev_hash"`
	Hash         string         `json:"hash" dynamodbav:"hash"`
}

// Caller is who calls the service, as the authorizer established it.
type Caller struct {
	TenantID string
	ID       string
	// Issuer: the tenant's own issuer that authenticated the person (its
	// id is then qualified by it); empty for the default issuer.
	Issuer string
	Type   string // user | api_key
	Groups []string
	Email  string
	Admin  bool
	// EmailVerified: the token marked Email verified. Only a verified
	// email identifies a person (person.go).
	EmailVerified bool
}

// CreateInput is a validated request for access.
type CreateInput struct {
	Resource         Resource
	PermissionSetARN string
	Action           string // default request_access
	Reason           string
	DurationSeconds  int64
	BreakGlass       bool
	Metadata         map[string]any
}

// CreateResult is what Create did: the stored request (always, also when
// denied), the grant when one was created, and the policy decision.
type CreateResult struct {
	Request  Request
	Grant    *Grant
	Decision policy.Decision
	// Replayed is true when an Idempotency-Key retry returned the first
	// response instead of creating anything.
	Replayed bool
}
