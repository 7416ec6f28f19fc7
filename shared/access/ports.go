package access

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// The edges of the Service: persistence (Repo, implemented by *store.Store),
// the approval workflow (Workflow, Step Functions), the access provider
// (Provider, IAM Identity Center or the local recording one) and the
// tenant's compiled policies (PolicySource).

// PolicySource returns the tenant's compiled policy set (the API layer
// passes its per-rule-set-version cache).
type PolicySource func(ctx context.Context, tenantID string) (*policy.PolicySet, error)

// Workflow modes (WorkflowInput.Mode) are the policy approval modes:
// policy.ModeAuto, policy.ModeRequire, policy.ModeBreakGlass.

// WorkflowInput starts the workflow of one request.
type WorkflowInput struct {
	TenantID               string `json:"tenant_id"`
	RequestID              string `json:"request_id"`
	GrantID                string `json:"grant_id,omitempty"` // set for auto / break_glass (approved at once)
	Mode                   string `json:"mode"`
	ApprovalTimeoutSeconds int64  `json:"approval_timeout_seconds,omitempty"` // set for require
}

// Workflow outcomes (WorkflowOutcome.Status).
const (
	OutcomeApproved  = "approved"
	OutcomeDenied    = "denied"
	OutcomeCancelled = "cancelled"
)

// WorkflowOutcome resumes a workflow waiting for a review.
type WorkflowOutcome struct {
	Status  string `json:"status"` // approved | denied | cancelled
	GrantID string `json:"grant_id,omitempty"`
}

// Workflow is the per-request state machine.
type Workflow interface {
	// Start starts one execution per request (name = request id); starting
	// it again is harmless.
	Start(ctx context.Context, in WorkflowInput) error
	// Resume hands the review outcome to the waiting execution: approved →
	// SendTaskSuccess; denied/cancelled → SendTaskFailure.
	Resume(ctx context.Context, taskToken string, out WorkflowOutcome) error
}

// Assignment is one provisioned access: the principal gets the permission
// set on the account (Identity Center account assignment).
type Assignment struct {
	TenantID         string
	GrantID          string
	PrincipalID      string
	PrincipalEmail   string
	AccountID        string
	PermissionSetARN string
	Resource         Resource
}

// Provider creates and removes assignments. Both calls are idempotent per
// grant; Revoke of a missing assignment is success. Transient failures
// (throttling, conflicts) wrap ErrRetryable.
type Provider interface {
	Provision(ctx context.Context, a Assignment) error
	Revoke(ctx context.Context, a Assignment) error
}

// TargetLock is the duplicate guard: one item per (tenant, requester,
// resource, permission set) that exists while a request for it is pending
// or its grant is live. Key is LockKey's value.
type TargetLock struct {
	Key       string    `dynamodbav:"lock_key"`
	RequestID string    `dynamodbav:"request_id"`
	GrantID   string    `dynamodbav:"grant_id,omitempty"`
	CreatedAt time.Time `dynamodbav:"created_at"`
}

// IdempotencyRecord remembers what a Create with an Idempotency-Key did.
// Key is IdempotencyKey's value (already scoped to the requester).
type IdempotencyRecord struct {
	Key       string    `dynamodbav:"idem_key"`
	InputHash string    `dynamodbav:"input_hash"`
	RequestID string    `dynamodbav:"request_id"`
	CreatedAt time.Time `dynamodbav:"created_at"`
	// ExpiresAt is a TTL hint (DynamoDB TTL attribute "ttl", epoch seconds).
	ExpiresAt time.Time `dynamodbav:"-"`
}

// RequestWrite writes the whole request item. Create: it must not exist.
// Otherwise the stored item must have ExpectStatus and ExpectVersion (the
// Service sets Request.Version to ExpectVersion+1).
type RequestWrite struct {
	Request       Request
	Create        bool
	ExpectStatus  string
	ExpectVersion int64
}

// GrantWrite is RequestWrite for a grant.
type GrantWrite struct {
	Grant         Grant
	Create        bool
	ExpectStatus  string
	ExpectVersion int64
}

// Change is one atomic state change: everything in it is written in one
// transaction, together with its audit events (the Repo stores each with
// its content hash; the tenant's chain is extended after commit, from the
// table's stream, without a tenant-wide sequence on the request path).
type Change struct {
	Request     *RequestWrite
	Grant       *GrantWrite
	Messages    []Message
	LockAcquire *TargetLock // put if absent
	LockRelease string      // lock key to delete (unconditionally: only the holder's state change releases it)
	Idempotency *IdempotencyRecord
	Audit       []AuditEvent
	// MessageCap, if set, counts Messages (all on MessageCap.RequestID)
	// against the request's cap, in the same transaction: the change
	// fails on PartMessageCap when the request would hold more than
	// MessageCap.Max posted messages.
	MessageCap *MessageCap
}

// MessageCap is a Change's count of posted messages on one request.
type MessageCap struct {
	RequestID string
	Max       int64
}

// Parts of a Change whose condition may fail (ConditionFailedError.Parts).
const (
	PartRequest     = "request"
	PartGrant       = "grant"
	PartLock        = "lock"
	PartIdempotency = "idempotency"
	PartMessageCap  = "message_cap"
)

// ConditionFailedError is what Repo.Commit returns when a condition of the
// Change failed. Parts lists every failed part.
type ConditionFailedError struct{ Parts []string }

func (e *ConditionFailedError) Error() string {
	return "access: condition failed on " + strings.Join(e.Parts, ", ")
}

// Has reports whether part failed.
func (e *ConditionFailedError) Has(part string) bool {
	return slices.Contains(e.Parts, part)
}

// RequestQuery selects requests for Repo.ListRequests. Empty fields do not
// filter. With RequesterID the requester index is used (Status is then a
// filter); with only Status the status index; with neither, all requests
// newest first.
type RequestQuery struct {
	Status      string
	RequesterID string
}

// GrantQuery selects grants, like RequestQuery.
type GrantQuery struct {
	Status    string
	GranteeID string
}

// AuditQuery filters the audit log (newest first).
type AuditQuery struct {
	ActorID      string
	ResourceType string
	ResourceID   string
	Action       string
	From, To     *time.Time
}

// Repo is the persistence the Service needs. Missing items are errors
// wrapping ErrNotFound; tenant isolation is by key.
type Repo interface {
	// Commit writes ch atomically and returns the appended audit events.
	// A failed condition → *ConditionFailedError.
	Commit(ctx context.Context, tenantID string, ch Change) ([]AuditEvent, error)
	// GetRequest reads a request without its task token.
	GetRequest(ctx context.Context, tenantID, id string) (Request, error)
	// GetRequestWithToken reads a request and its task token
	// (Request.TaskToken, "" if none is stored) in one consistent read: what
	// a decision needs.
	GetRequestWithToken(ctx context.Context, tenantID, id string) (Request, error)
	// GetTaskToken reads a request's task token (consistent; "" if none).
	GetTaskToken(ctx context.Context, tenantID, requestID string) (string, error)
	GetGrant(ctx context.Context, tenantID, id string) (Grant, error)
	GetLock(ctx context.Context, tenantID, key string) (TargetLock, error)
	GetIdempotency(ctx context.Context, tenantID, key string) (IdempotencyRecord, error)
	// MaxGrantDurationSeconds reads the tenant's ceiling on a grant's total
	// duration (its settings' max_grant_duration_seconds); 0 when unset.
	MaxGrantDurationSeconds(ctx context.Context, tenantID string) (int64, error)
	// SetTaskToken stores token for the request (beside the request item,
	// which it does not change), THEN reads the request consistently. A
	// pending request is returned with TaskToken set (stored=true); a
	// decided one unchanged, without the token, with stored=false — the
	// token is then never used. Together with deciders committing first
	// and then reading the token, either the decider sees the token or
	// SetTaskToken sees the decision.
	SetTaskToken(ctx context.Context, tenantID, requestID, token string) (r Request, stored bool, err error)
	ListRequests(ctx context.Context, tenantID string, q RequestQuery, p Page) ([]Request, string, error)
	ListGrants(ctx context.Context, tenantID string, q GrantQuery, p Page) ([]Grant, string, error)
	ListMessages(ctx context.Context, tenantID, requestID string, p Page) ([]Message, string, error)
	ListAudit(ctx context.Context, tenantID string, q AuditQuery, p Page) ([]AuditEvent, string, error)
}

// Page asks for one page of a list. Limit 0 → 50, at most 250.
type Page struct {
	Limit  int
	Cursor string
	// Viewer binds the page's cursors to one caller (the Service sets it
	// to the caller's id): a cursor issued to another viewer, another
	// tenant or altered in any way is refused.
	Viewer string
}
