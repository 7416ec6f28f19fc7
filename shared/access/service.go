package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jitsudo/jitsudo-serverless/shared/ids"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Service is the business logic of requests, reviews, grants, messages and
// the audit log. All fields are required except Targets, Now (time.Now),
// Logger (slog.Default) and UsersByEmail.
type Service struct {
	Repo     Repo
	Policies PolicySource
	Workflow Workflow
	Provider Provider
	// Targets, if set, is what Create checks requests against instead of
	// the provider's own TargetChecker: the API functions run without a
	// provider (input.go).
	Targets TargetChecker
	Now     func() time.Time
	Logger  *slog.Logger
	// UsersByEmail reports whether the tenant's provider maps a person to
	// its user by email (AWS settings user_attribute "email"); then only
	// callers with a verified email may request and review. Nil: never
	// by email.
	UsersByEmail func(ctx context.Context, tenantID string) (bool, error)
	// RevokeRetryBase and RevokeRetryMax bound the back-off between
	// retries of a failed revoke (RecordRevokeFailure; 0: the defaults,
	// DefaultRevokeRetryBase and DefaultRevokeRetryMax).
	RevokeRetryBase, RevokeRetryMax time.Duration
	// AuditVerifier checks the tenant's audit chain (VerifyAudit); only
	// the verify function sets it.
	AuditVerifier AuditVerifier
	// Limiter and Limits are the abuse limits (limits.go): per-principal
	// write rates of messages, requests and extensions, and the cap of
	// messages per request. Nil Limiter: no rate limits (the workflow
	// workers, which never serve those routes).
	Limiter RateLimiter
	Limits  Limits
}

// Filters of the list calls.
type (
	// ListFilter selects requests. Mine: the caller's own requests.
	ListFilter struct {
		Status      string
		RequesterID string
		Mine        bool
		// Reviewable keeps only the pending requests the caller may
		// approve now: policy's approve_request allows it, the caller is
		// not the requester (the same person, person.go) and has not
		// reviewed it yet. It reads the requests-by-status index
		// (pending) and decides each item in memory; admins and API keys
		// get the same answer as anyone (policy decides, not the role).
		Reviewable bool
	}
	// GrantFilter selects grants.
	GrantFilter struct {
		Status    string
		GranteeID string
	}
	// AuditFilter selects audit events (newest first).
	AuditFilter struct {
		ActorID      string
		ResourceType string
		ResourceID   string
		Action       string
		From, To     *time.Time
	}
)

// Retry bounds.
const (
	// maxFilteredReads bounds the store pages List reads to fill one page
	// of a list it filters in code.
	maxFilteredReads    = 8
	defaultPageLimit    = 50 // Page.Limit 0 (the store's default)
	maxStateAttempts    = 8  // re-read and retry after a lost optimistic-lock race that left the state unchanged
	workflowAttempts    = 3
	workflowBackoffBase = 100 * time.Millisecond
	// workflowFastPath bounds the synchronous workflow call after a
	// commit (the caller waits for it; the workflow driver is the
	// guarantee).
	workflowFastPath = 2 * time.Second
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ---------------------------------------------------------------- ids, keys

// newID is prefix + a time-sorted id (package ids).
func newID(prefix string, now time.Time) string { return ids.New(prefix, now) }

// GrantIDFor is the id of the grant a request creates: derived from the
// request id, so one request has at most one grant.
func GrantIDFor(requestID string) string {
	return "grt_" + strings.TrimPrefix(requestID, "req_")
}

// LockKey is the duplicate-guard key of (requester, resource, permission
// set): hex SHA-256 of the NUL-joined fields.
func LockKey(requesterID string, r Resource, permissionSetARN string) string {
	return hashJoin(requesterID, r.Type, r.ID, r.AccountID, permissionSetARN)
}

// IdempotencyKey scopes a client's Idempotency-Key to the requester.
func IdempotencyKey(requesterID, key string) string { return hashJoin("idem", requesterID, key) }

func hashJoin(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func inputHash(in CreateInput) string {
	b, _ := json.Marshal(in)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// ---------------------------------------------------------------- policy glue

func principalOf(c Caller) policy.Principal {
	p := policy.Principal{ID: c.ID, Groups: c.Groups}
	if c.Email != "" {
		p.Attributes = map[string]string{"email": c.Email}
	}
	return p
}

func requesterOf(r Request) policy.Principal {
	p := policy.Principal{ID: r.RequesterID, Groups: r.RequesterGroups}
	if r.RequesterEmail != "" {
		p.Attributes = map[string]string{"email": r.RequesterEmail}
	}
	return p
}

// PolicyResource is the policy entity of a request's target: a permission
// set requested on an account is AwsPermissionSet(arn) in that account;
// otherwise the resource's own entity type. An RDS ARN places the instance
// in its account.
func PolicyResource(r Resource, permissionSetARN string) policy.Resource {
	if permissionSetARN != "" {
		acct := r.AccountID
		if acct == "" {
			acct = r.ID
		}
		return policy.Resource{Type: policy.EntityAwsPermissionSet, ID: permissionSetARN, AccountID: acct, OUID: r.OUID}
	}
	et, ok := policy.EntityTypeForResourceType(r.Type)
	if !ok {
		et = r.Type
	}
	pr := policy.Resource{Type: et, ID: r.ID, AccountID: r.AccountID, OUID: r.OUID}
	if et == policy.EntityAwsRdsInstance && pr.AccountID == "" {
		if f := strings.Split(r.ID, ":"); len(f) >= 5 {
			pr.AccountID = f[4]
		}
	}
	if et == policy.EntityAwsAccount {
		pr.AccountID = ""
	}
	return pr
}

func (s *Service) policySet(ctx context.Context, tenant string) (*policy.PolicySet, error) {
	ps, err := s.Policies(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("access: load policies: %w", err)
	}
	return ps, nil
}

// lazyPolicies loads the tenant's policy set at most once, only if needed.
type lazyPolicies struct {
	s      *Service
	tenant string
	ps     *policy.PolicySet
}

func (l *lazyPolicies) get(ctx context.Context) (*policy.PolicySet, error) {
	if l.ps != nil {
		return l.ps, nil
	}
	ps, err := l.s.policySet(ctx, l.tenant)
	l.ps = ps
	return ps, err
}

// mayApprove: c is not the requester (the same person, person.go) and
// policy lets c approve r.
func (s *Service) mayApprove(ctx context.Context, lp *lazyPolicies, c Caller, r Request) (bool, error) {
	if isRequester(c, r) {
		return false, nil
	}
	ps, err := lp.get(ctx)
	if err != nil {
		return false, err
	}
	d := ps.MayApprove(principalOf(c), requesterOf(r), PolicyResource(r.Resource, r.PermissionSetARN), r.ApprovalMode, s.now())
	return d.Allowed, nil
}

// canView: requester, admins, API keys (the handler checks scopes) and
// reviewers policy allows for this request.
func (s *Service) canView(ctx context.Context, lp *lazyPolicies, c Caller, r Request) (bool, error) {
	if c.Admin || c.Type == ActorTypeAPIKey || c.ID == r.RequesterID {
		return true, nil
	}
	return s.mayApprove(ctx, lp, c, r)
}

func actorType(c Caller) string {
	if c.Type == ActorTypeAPIKey {
		return ActorTypeAPIKey
	}
	return ActorTypeUser
}

func checkCaller(c Caller) error {
	if c.TenantID == "" || c.ID == "" {
		return fmt.Errorf("%w: no tenant or principal", ErrForbidden)
	}
	return nil
}

// ---------------------------------------------------------------- events

func (s *Service) event(tenant, actorID, actorType, action, resType, resID, reasoning string, md map[string]any, now time.Time) AuditEvent {
	return AuditEvent{
		ID: newID("evt_", now), TenantID: tenant, ActorID: actorID, ActorType: actorType,
		Action: action, ResourceType: resType, ResourceID: resID, Severity: SeverityInfo,
		Reasoning: reasoning, Metadata: NormalizeMetadata(md), CreatedAt: now,
	}
}

// PrivilegedEvent builds the audit event of a privileged change by c
// (API key, tenant, rule, settings or channel change), for the store to
// write in the change's own transaction. before/after are summaries of
// the changed thing (never secrets); nil when it did not exist.
func (s *Service) PrivilegedEvent(c Caller, action, resourceType, resourceID string, before, after map[string]any, extra map[string]any) AuditEvent {
	md := map[string]any{}
	for k, v := range extra {
		md[k] = v
	}
	if before != nil {
		md["before"] = before
	}
	if after != nil {
		md["after"] = after
	}
	ev := s.event(c.TenantID, c.ID, actorType(c), action, resourceType, resourceID, "", md, s.now())
	if c.Admin {
		ev.Metadata = NormalizeMetadata(withKey(md, "actor_admin", true))
	}
	return ev
}

func withKey(m map[string]any, k string, v any) map[string]any {
	m[k] = v
	return m
}

func systemMessage(r Request, body string, now time.Time) Message {
	return Message{ID: newID("msg_", now), RequestID: r.ID, AuthorType: "system", AuthorID: "system", Body: body, CreatedAt: now}
}

func withReasoning(s, reasoning string) string {
	if reasoning == "" {
		return s
	}
	return s + ": " + reasoning
}

func requestMeta(r Request) map[string]any {
	m := map[string]any{
		"requester_id": r.RequesterID, "resource_type": r.Resource.Type, "resource_id": r.Resource.ID,
		"status": r.Status, "duration_seconds": r.DurationSeconds,
	}
	if r.PermissionSetARN != "" {
		m["permission_set_arn"] = r.PermissionSetARN
	}
	if r.Resource.AccountID != "" {
		m["account_id"] = r.Resource.AccountID
	}
	if r.ApprovalMode != "" {
		m["approval_mode"] = r.ApprovalMode
	}
	if len(r.DecidingRuleIDs) > 0 {
		m["deciding_rule_ids"] = r.DecidingRuleIDs
	}
	if r.BreakGlass {
		m["break_glass"] = true
	}
	if r.ExtendsGrantID != "" {
		m["extends_grant_id"] = r.ExtendsGrantID
	}
	if r.GrantID != "" {
		m["grant_id"] = r.GrantID
	}
	return m
}

// pendingMeta is requestMeta of a request held for review, with its
// approval timeout: request.created carries all the workflow driver needs
// to start the execution (no read of the request).
func pendingMeta(r Request) map[string]any {
	m := requestMeta(r)
	if r.ApprovalTimeout > 0 {
		m["approval_timeout_seconds"] = r.ApprovalTimeout
	}
	return m
}

func grantMeta(g Grant) map[string]any {
	m := map[string]any{
		"request_id": g.RequestID, "grantee_id": g.GranteeID, "resource_type": g.Resource.Type,
		"resource_id": g.Resource.ID, "status": g.Status,
	}
	if g.PermissionSetARN != "" {
		m["permission_set_arn"] = g.PermissionSetARN
	}
	if g.ExpiresAt != nil {
		m["expires_at"] = g.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	if g.BreakGlass {
		m["break_glass"] = true
	}
	return m
}

func severityOf(breakGlass bool) string {
	if breakGlass {
		return SeverityCritical
	}
	return SeverityInfo
}

// ---------------------------------------------------------------- workflow glue

func workflowInput(r Request) WorkflowInput {
	in := WorkflowInput{TenantID: r.TenantID, RequestID: r.ID, GrantID: r.GrantID, Mode: r.ApprovalMode}
	if r.Status == StatusPending {
		in.ApprovalTimeoutSeconds = r.ApprovalTimeout
	}
	return in
}

// startWorkflow starts the request's execution, retrying with backoff for
// at most workflowFastPath: the fast path. The request is committed already, so a failure
// is logged and not returned: the workflow driver (relay-outbox, fed by
// the table's stream) starts the execution from the committed audit event
// (driver.go in shared/workflow; docs/workflow-effects.md).
func (s *Service) startWorkflow(ctx context.Context, r Request) {
	ctx, cancel := context.WithTimeout(ctx, workflowFastPath)
	defer cancel()
	in := workflowInput(r)
	var err error
	for i := 0; i < workflowAttempts; i++ {
		if i > 0 && !sleepCtx(ctx, workflowBackoffBase<<(i-1)) {
			err = errors.Join(err, ctx.Err())
			break
		}
		if err = s.Workflow.Start(ctx, in); err == nil {
			return
		}
		s.log().WarnContext(ctx, "workflow start failed", "tenant_id", r.TenantID, "request_id", r.ID, "attempt", i+1, "error", err)
	}
	s.log().ErrorContext(ctx, "workflow start failed; the workflow driver will start it", "tenant_id", r.TenantID, "request_id", r.ID, "error", err)
}

// sleepCtx sleeps d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// resume hands a decision to the waiting execution: the fast path. The
// decision is already committed, so a failure is logged, not returned: the
// workflow driver (relay-outbox, fed by the table's stream) resumes the
// wait from the committed audit event; and were that lost too, the
// execution reaches its approval timeout, and ExpireRequest returns the
// decided request unchanged, from which the workflow continues. The
// back-off between attempts ends with ctx.
//
// r.TaskToken is the token read with the request before the commit. If
// there was none, the token is read now (consistently, after the commit):
// StoreTaskToken writes the token before it reads the request, so either
// this read finds the token or StoreTaskToken finds the request decided and
// its caller resumes the wait itself. After a failed attempt the token is
// re-read, in case a retried StoreTaskToken replaced it.
func (s *Service) resume(ctx context.Context, r Request, out WorkflowOutcome) {
	ctx, cancel := context.WithTimeout(ctx, workflowFastPath)
	defer cancel()
	token := r.TaskToken
	var err error
	for i := 0; i < workflowAttempts-1; i++ {
		if i > 0 && !sleepCtx(ctx, workflowBackoffBase<<(i-1)) {
			err = errors.Join(err, ctx.Err())
			break
		}
		if token == "" || i > 0 {
			t, terr := s.Repo.GetTaskToken(ctx, r.TenantID, r.ID)
			switch {
			case terr != nil:
				err = terr
				if token == "" {
					continue
				}
			case t != "":
				token = t
			}
			if token == "" {
				return // StoreTaskToken will find the request decided
			}
		}
		if err = s.Workflow.Resume(ctx, token, out); err == nil {
			return
		}
	}
	s.log().ErrorContext(ctx, "workflow resume failed", "tenant_id", r.TenantID, "request_id", r.ID, "outcome", out.Status, "error", err)
}

// ---------------------------------------------------------------- create

// Create validates in, asks the tenant's policies, and stores the request:
// denied (returned with *PolicyDeniedError), approved with a provisioning
// grant (auto, break_glass) or pending (require); then it starts the
// request's workflow (not for denied). See the package documentation for
// the duplicate guard and Idempotency-Key semantics.
//
// If the workflow cannot be started after a few quick retries the stored
// request is returned all the same: the workflow driver starts it from the
// committed audit event (no client retry needed; a retry with the same
// Idempotency-Key replays the request and starts it too — a duplicate
// start is harmless).
func (s *Service) Create(ctx context.Context, c Caller, in CreateInput, idempotencyKey string) (CreateResult, error) {
	in, ps, err := s.admit(ctx, c, in, idempotencyKey)
	if err != nil {
		return CreateResult{}, err
	}
	var idem *IdempotencyRecord
	if idempotencyKey != "" {
		idem = &IdempotencyRecord{Key: IdempotencyKey(c.ID, idempotencyKey), InputHash: inputHash(in)}
	}

	for attempt := 0; attempt < 3; attempt++ {
		now := s.now()
		r, grant, dec, ch := s.creation(c, in, ps, now)
		if idem != nil {
			rec := *idem
			rec.RequestID, rec.CreatedAt, rec.ExpiresAt = r.ID, now, now.Add(24*time.Hour)
			ch.Idempotency = &rec
		}

		_, err := s.Repo.Commit(ctx, c.TenantID, ch)
		var cf *ConditionFailedError
		if errors.As(err, &cf) {
			switch {
			case cf.Has(PartIdempotency):
				return s.replay(ctx, c, idem)
			case cf.Has(PartLock):
				l, lerr := s.Repo.GetLock(ctx, c.TenantID, ch.LockAcquire.Key)
				if errors.Is(lerr, ErrNotFound) {
					continue // released meanwhile: try again
				}
				if lerr != nil {
					return CreateResult{}, lerr
				}
				return CreateResult{}, &DuplicateError{RequestID: l.RequestID, GrantID: l.GrantID}
			default:
				continue // id collision: new id
			}
		}
		if err != nil {
			return CreateResult{}, fmt.Errorf("access: create request: %w", err)
		}
		res := CreateResult{Request: r, Grant: grant, Decision: dec}
		s.log().InfoContext(ctx, "request created", "tenant_id", r.TenantID, "request_id", r.ID, "status", r.Status, "mode", r.ApprovalMode, "break_glass", r.BreakGlass)
		if r.Status == StatusDenied {
			return res, &PolicyDeniedError{Request: r, Decision: dec}
		}
		s.startWorkflow(ctx, r)
		return res, nil
	}
	return CreateResult{}, fmt.Errorf("%w: could not create the request (contention)", ErrConflict)
}

// admit is everything Create checks before it decides: the input and the
// Idempotency-Key, the requester's rate limit, their provider identity
// and the tenant's grant ceiling. It returns the normalized input and the
// tenant's policies.
func (s *Service) admit(ctx context.Context, c Caller, in CreateInput, idempotencyKey string) (CreateInput, *policy.PolicySet, error) {
	if err := checkCaller(c); err != nil {
		return in, nil, err
	}
	in, verr := s.Validate(in)
	if idempotencyKey != "" && !validIdempotencyKey(idempotencyKey) {
		fe := FieldError{Field: "idempotency_key", Message: fmt.Sprintf("must be 1..%d printable ASCII characters", MaxIdempotencyKeyLen)}
		var ve *ValidationError
		if errors.As(verr, &ve) {
			ve.Fields = append(ve.Fields, fe)
		} else {
			verr = &ValidationError{Fields: []FieldError{fe}}
		}
	}
	if verr != nil {
		return in, nil, verr
	}
	if err := s.takeRate(ctx, c, RateKindRequest, s.Limits.Requests); err != nil {
		return in, nil, err
	}
	if err := s.checkProviderIdentity(ctx, c); err != nil {
		return in, nil, err
	}
	ps, err := s.policySet(ctx, c.TenantID)
	if err != nil {
		return in, nil, err
	}
	// The tenant's maximum grant duration bounds a new grant as it bounds
	// an extended one (extend.go); it is never below an hour, so shorter
	// requests need not read it.
	if in.DurationSeconds > MinMaxGrantDurationSeconds {
		ceiling, err := s.maxGrantDuration(ctx, c.TenantID)
		if err != nil {
			return in, nil, err
		}
		if in.DurationSeconds > ceiling {
			return in, nil, &DurationLimitError{TotalSeconds: in.DurationSeconds, MaxSeconds: ceiling}
		}
	}
	return in, ps, nil
}

// creation is a new request as the policies decide it at now — denied,
// pending review, or approved with its grant (auto, break_glass) — and
// the change that commits it with its audit event and target lock (none
// for a denied request).
func (s *Service) creation(c Caller, in CreateInput, ps *policy.PolicySet, now time.Time) (Request, *Grant, policy.Decision, Change) {
	r := Request{
		ID: newID("req_", now), TenantID: c.TenantID, RequesterID: c.ID, RequesterGroups: c.Groups,
		RequesterEmail: c.Email, Requester: new(PersonOf(c)), Resource: in.Resource, PermissionSetARN: in.PermissionSetARN,
		Action: in.Action, Reason: in.Reason, DurationSeconds: in.DurationSeconds,
		BreakGlass: in.BreakGlass, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	dec := ps.Decide(PolicyRequest(principalOf(c), in, now))
	r.DecidingRuleIDs, r.Notices = dec.DecidingRuleIDs, dec.Notices
	// The request (which its requester reads) keeps the reason without
	// evaluation errors' text; the audit event keeps the whole reason.
	lock := &TargetLock{Key: LockKey(c.ID, in.Resource, in.PermissionSetARN), RequestID: r.ID, CreatedAt: now}
	ch := Change{}
	var grant *Grant
	switch {
	case !dec.Allowed:
		r.Status, r.DecidedBy, r.DecisionReasoning, r.DecidedAt = StatusDenied, DecidedByPolicy, RequesterReason(dec), &now
		ev := s.event(c.TenantID, DecidedByPolicy, ActorTypePolicy, AuditRequestDenied, auditResourceRequest, r.ID, dec.Reason, requestMeta(r), now)
		ev.Severity = severityOf(r.BreakGlass)
		ch.Audit = []AuditEvent{ev}
		lock = nil
	case dec.Mode == policy.ModeRequire:
		holdForReview(&r, dec, now)
		// decision_reasoning is set when decided (it also keeps the
		// request item small: its size drives write cost).
		ch.Audit = []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditRequestCreated, auditResourceRequest, r.ID, r.Reason, pendingMeta(r), now)}
	default: // auto, break_glass
		r.Status, r.ApprovalMode = StatusApproved, dec.Mode
		r.DecidedBy, r.DecisionReasoning, r.DecidedAt = DecidedByPolicy, dec.Reason, &now
		r.GrantID = GrantIDFor(r.ID)
		g := newGrant(r, now)
		grant = &g
		lock.GrantID = g.ID
		ch.Grant = &GrantWrite{Grant: g, Create: true}
		if dec.Mode == policy.ModeBreakGlass {
			ev := s.event(c.TenantID, c.ID, actorType(c), AuditRequestBreakGlass, auditResourceRequest, r.ID, r.Reason, requestMeta(r), now)
			ev.Severity = SeverityCritical
			ch.Audit = []AuditEvent{ev}
		} else {
			ch.Audit = []AuditEvent{s.event(c.TenantID, DecidedByPolicy, ActorTypePolicy, AuditRequestApproved, auditResourceRequest, r.ID, dec.Reason, requestMeta(r), now)}
		}
	}
	ch.Request = &RequestWrite{Request: r, Create: true}
	ch.LockAcquire = lock
	return r, grant, dec, ch
}

// replay answers an Idempotency-Key retry: the same input returns the
// request as it is now (Replayed), and (re)starts its workflow if it is
// still waiting for one; another input is ErrIdempotencyMismatch.
func (s *Service) replay(ctx context.Context, c Caller, idem *IdempotencyRecord) (CreateResult, error) {
	rec, err := s.Repo.GetIdempotency(ctx, c.TenantID, idem.Key)
	if err != nil {
		return CreateResult{}, fmt.Errorf("access: idempotency record: %w", err)
	}
	if rec.InputHash != idem.InputHash {
		return CreateResult{}, ErrIdempotencyMismatch
	}
	r, err := s.Repo.GetRequest(ctx, c.TenantID, rec.RequestID)
	if err != nil {
		return CreateResult{}, err
	}
	res := CreateResult{Request: r, Replayed: true, Decision: decisionOf(r)}
	if r.GrantID != "" {
		g, err := s.Repo.GetGrant(ctx, c.TenantID, r.GrantID)
		if err != nil {
			return CreateResult{}, err
		}
		res.Grant = &g
	}
	if r.DecidedBy == DecidedByPolicy && r.Status == StatusDenied {
		return res, &PolicyDeniedError{Request: r, Decision: res.Decision}
	}
	// The first attempt may have failed to start the workflow.
	if r.Status == StatusPending || (res.Grant != nil && res.Grant.Status == GrantProvisioning) {
		s.startWorkflow(ctx, r)
	}
	return res, nil
}

// decisionOf rebuilds the policy decision recorded on a request.
func decisionOf(r Request) policy.Decision {
	d := policy.Decision{
		Allowed: !(r.DecidedBy == DecidedByPolicy && r.Status == StatusDenied), Mode: r.ApprovalMode,
		ApprovalsRequired: r.ApprovalsRequired, DecidingRuleIDs: r.DecidingRuleIDs,
		Reason: r.DecisionReasoning, Notices: r.Notices,
		ApprovalTimeout: time.Duration(r.ApprovalTimeout) * time.Second,
	}
	if !d.Allowed {
		d.Mode = ""
	}
	return d
}

// holdForReview makes r pending under dec's require mode: its approval
// timeout (the rule's, or the default), deadline and approvals required.
func holdForReview(r *Request, dec policy.Decision, now time.Time) {
	r.Status, r.ApprovalMode = StatusPending, policy.ModeRequire
	timeout := dec.ApprovalTimeout
	if timeout <= 0 {
		timeout = policy.DefaultApprovalTimeout
	}
	r.ApprovalTimeout = int64(timeout / time.Second)
	deadline := now.Add(timeout)
	r.ApprovalDeadline = &deadline
	r.ApprovalsRequired = max(1, dec.ApprovalsRequired)
}

func newGrant(r Request, now time.Time) Grant {
	return Grant{
		ID: GrantIDFor(r.ID), TenantID: r.TenantID, RequestID: r.ID, GranteeID: r.RequesterID,
		GranteeEmail: r.RequesterEmail, Resource: r.Resource, PermissionSetARN: r.PermissionSetARN,
		Status: GrantProvisioning, ProvisioningStatus: "pending", BreakGlass: r.BreakGlass,
		DurationSeconds: r.DurationSeconds, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
}

// ---------------------------------------------------------------- read

// Get returns a request the caller may see (requester, admins, API keys,
// reviewers policy allows). A request the caller may not see is
// ErrNotFound, exactly like an unknown id (or another tenant's): an answer
// must not confirm that an id exists.
func (s *Service) Get(ctx context.Context, c Caller, id string) (Request, error) {
	if err := checkCaller(c); err != nil {
		return Request{}, err
	}
	r, err := s.Repo.GetRequest(ctx, c.TenantID, id)
	if err != nil {
		return Request{}, err
	}
	ok, err := s.canView(ctx, &lazyPolicies{s: s, tenant: c.TenantID}, c, r)
	if err != nil {
		return Request{}, err
	}
	if !ok {
		return Request{}, errHidden("request", id)
	}
	return r, nil
}

// errHidden is what a caller gets for an item it may not see: the same
// ErrNotFound as for an id that does not exist.
func errHidden(what, id string) error {
	return fmt.Errorf("%s %q: %w", what, ClipID(id), ErrNotFound)
}

// ClipID bounds an id (caller input) before it goes into an error: at most
// 64 bytes, cut on a rune boundary and marked with "…".
func ClipID(id string) string {
	const max = 64
	if len(id) <= max {
		return id
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(id[cut]) {
		cut--
	}
	return id[:cut] + "…"
}

// forbiddenOrHidden is the refusal of an action on a request the caller
// may not act on: ErrForbidden (err) when the caller may still see the
// request, else ErrNotFound (errHidden).
func (s *Service) forbiddenOrHidden(ctx context.Context, lp *lazyPolicies, c Caller, r Request, err error) error {
	ok, verr := s.canView(ctx, lp, c, r)
	if verr != nil {
		return verr
	}
	if !ok {
		return errHidden("request", r.ID)
	}
	return err
}

func validRequestStatus(s string) bool {
	switch s {
	case "", StatusPending, StatusApproved, StatusDenied, StatusExpired, StatusCancelled:
		return true
	}
	return false
}

func validGrantStatus(s string) bool {
	switch s {
	case "", GrantProvisioning, GrantActive, GrantExpired, GrantRevoked, GrantFailed, GrantRevokeFailed:
		return true
	}
	return false
}

// List lists requests newest first. Admins and API keys see every request
// matching the filter. Other users see their own requests and the pending
// ones policy lets them approve: pages are read from the index and
// filtered in code, reading on (up to maxFilteredReads store pages) until
// the page is full or the list ends, so a page holds fewer than Limit
// items with a next cursor only when that read budget ran out (follow the
// cursor until it is empty). Cursors are sealed to the caller: the key of
// a request the caller may not see never shows.
func (s *Service) List(ctx context.Context, c Caller, f ListFilter, p Page) ([]Request, string, error) {
	if err := checkCaller(c); err != nil {
		return nil, "", err
	}
	if !validRequestStatus(f.Status) {
		return nil, "", &ValidationError{Fields: []FieldError{{Field: "status", Message: "must be pending, approved, denied, expired or cancelled"}}}
	}
	q := RequestQuery{Status: f.Status, RequesterID: f.RequesterID}
	if f.Reviewable {
		switch {
		case f.Status != "" && f.Status != StatusPending:
			return nil, "", &ValidationError{Fields: []FieldError{{Field: "status", Message: "conflicts with reviewable (only pending requests can be reviewed)"}}}
		case f.Mine:
			return nil, "", &ValidationError{Fields: []FieldError{{Field: "mine", Message: "conflicts with reviewable (nobody reviews their own requests)"}}}
		}
		q.Status = StatusPending
	}
	if f.Mine {
		if f.RequesterID != "" && f.RequesterID != c.ID {
			return nil, "", &ValidationError{Fields: []FieldError{{Field: "requester", Message: "conflicts with mine"}}}
		}
		q.RequesterID = c.ID
	}
	p.Viewer = c.ID
	items, next, err := s.Repo.ListRequests(ctx, c.TenantID, q, p)
	if err != nil {
		return nil, "", err
	}
	if !f.Reviewable && (c.Admin || c.Type == ActorTypeAPIKey || q.RequesterID == c.ID) {
		return items, next, nil
	}
	lp := &lazyPolicies{s: s, tenant: c.TenantID}
	keep := func(r Request) (bool, error) {
		if r.RequesterID == c.ID {
			return true, nil
		}
		if r.Status != StatusPending {
			return false, nil
		}
		return s.mayApprove(ctx, lp, c, r)
	}
	if f.Reviewable {
		keep = func(r Request) (bool, error) {
			if r.Status != StatusPending || isRequester(c, r) {
				return false, nil
			}
			if _, done := reviewedBy(r, c); done {
				return false, nil
			}
			return s.mayApprove(ctx, lp, c, r)
		}
	}
	want := p.Limit // valid: the store checked it
	if want == 0 {
		want = defaultPageLimit
	}
	out := make([]Request, 0, len(items))
	for reads := 1; ; reads++ {
		for _, r := range items {
			ok, err := keep(r)
			if err != nil {
				return nil, "", err
			}
			if ok {
				out = append(out, r)
			}
		}
		if next == "" || len(out) >= want || reads >= maxFilteredReads {
			return out, next, nil
		}
		// Read only what still fits: the cursor then stays exact.
		items, next, err = s.Repo.ListRequests(ctx, c.TenantID, q, Page{Limit: want - len(out), Cursor: next, Viewer: c.ID})
		if err != nil {
			return nil, "", err
		}
	}
}

// ---------------------------------------------------------------- reviews

// Approve records c's approval of a pending request. The requester can
// never approve (ErrSelfApproval, checked before policy), under any
// spelling of their subject or with another token carrying their verified
// email (person.go); others need policy's approve_request permission
// (ErrForbidden). A person approves once (ErrAlreadyReviewed), whatever
// token they use. When the required number of distinct persons approved,
// the request becomes approved and
// its grant (provisioning) is created in the same transaction, and the
// waiting workflow is resumed.
func (s *Service) Approve(ctx context.Context, c Caller, id, reasoning string) (Request, error) {
	return s.review(ctx, c, id, reasoning, true)
}

// Deny ends a pending request: one deny suffices.
func (s *Service) Deny(ctx context.Context, c Caller, id, reasoning string) (Request, error) {
	return s.review(ctx, c, id, reasoning, false)
}

func cleanReasoning(reasoning string) (string, error) {
	reasoning = strings.TrimSpace(reasoning)
	if reasoning == "" {
		return "", nil
	}
	r, msg := cleanText(reasoning, MaxReasoningChars)
	if msg != "" {
		return "", &ValidationError{Fields: []FieldError{{Field: "reasoning", Message: msg}}}
	}
	return r, nil
}

func (s *Service) review(ctx context.Context, c Caller, id, reasoning string, approve bool) (Request, error) {
	if err := checkCaller(c); err != nil {
		return Request{}, err
	}
	reasoning, err := cleanReasoning(reasoning)
	if err != nil {
		return Request{}, err
	}
	if err := s.checkProviderIdentity(ctx, c); err != nil {
		return Request{}, err
	}
	lp := &lazyPolicies{s: s, tenant: c.TenantID}
	for attempt := 0; attempt < maxStateAttempts; attempt++ {
		r, err := s.Repo.GetRequestWithToken(ctx, c.TenantID, id)
		if err != nil {
			return Request{}, err
		}
		if isRequester(c, r) {
			return Request{}, ErrSelfApproval
		}
		ok, err := s.mayApprove(ctx, lp, c, r)
		if err != nil {
			return Request{}, err
		}
		if !ok {
			return Request{}, s.forbiddenOrHidden(ctx, lp, c, r, fmt.Errorf("%w: policy does not allow you to review this request", ErrForbidden))
		}
		if r.Status != StatusPending {
			return Request{}, requestState(r)
		}
		now := s.now()
		if pastDeadline(r, now) {
			what := "deny"
			if approve {
				what = "approve"
			}
			if retry, err := s.expireLate(ctx, c, r, what, now); retry {
				continue
			} else {
				return Request{}, err
			}
		}
		if _, ok := reviewedBy(r, c); ok {
			return Request{}, ErrAlreadyReviewed
		}
		rv, err := s.reviewChange(ctx, c, lp, r, reasoning, approve, now)
		if err != nil {
			return Request{}, err
		}
		r = rv.request
		rv.change.Request.Request = r
		if _, err := s.Repo.Commit(ctx, c.TenantID, rv.change); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) && (cf.Has(PartRequest) || cf.Has(PartGrant)) {
				continue // changed meanwhile: re-read (decided → ErrConflict)
			}
			return Request{}, fmt.Errorf("access: review request %s: %w", id, err)
		}
		if rv.outcome != nil {
			s.resume(ctx, r, *rv.outcome)
		}
		return r, rv.refused
	}
	return Request{}, fmt.Errorf("%w: request %s keeps changing", ErrConflict, id)
}

// reviewed is what a review makes of a pending request: the request as it
// becomes, the change that commits it (conditional on the request's status
// and version), what its waiting execution is told (nil while approvals
// are missing) and, for an extension denied at its final approval because
// it no longer fits, why (the review's answer once committed).
type reviewed struct {
	request Request
	change  Change
	outcome *WorkflowOutcome
	refused error
}

// reviewChange records c's review of the pending request r at now: one
// approval of several, the final approval (with its grant, or an
// extension's new end — refused when it no longer fits), or a denial.
func (s *Service) reviewChange(ctx context.Context, c Caller, lp *lazyPolicies, r Request, reasoning string, approve bool, now time.Time) (reviewed, error) {
	old := r.Version
	decision := StatusApproved
	if !approve {
		decision = StatusDenied
	}
	r.Reviews = append(r.Reviews, Review{ReviewerID: c.ID, Decision: decision, Reasoning: reasoning, At: now, Person: new(PersonOf(c))})
	r.Version, r.UpdatedAt = old+1, now
	ch := Change{Request: &RequestWrite{Request: r, ExpectStatus: StatusPending, ExpectVersion: old}}
	if !approve {
		r.Status, r.DecidedBy, r.DecisionReasoning, r.DecidedAt = StatusDenied, c.ID, reasoning, &now
		ch.LockRelease = requestLockKey(r)
		ch.Messages = []Message{systemMessage(r, withReasoning("denied by "+c.ID, reasoning), now)}
		ch.Audit = []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditRequestDenied, auditResourceRequest, r.ID, reasoning, requestMeta(r), now)}
		return reviewed{request: r, change: ch, outcome: &WorkflowOutcome{Status: OutcomeDenied}}, nil
	}
	approvals := distinctApprovals(r)
	need := max(1, r.ApprovalsRequired)
	if approvals < need {
		ch.Messages = []Message{systemMessage(r, withReasoning(fmt.Sprintf("approval %d of %d by %s", approvals, need, c.ID), reasoning), now)}
		md := requestMeta(r)
		md["approvals"], md["approvals_required"] = approvals, need
		ch.Audit = []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditRequestReviewed, auditResourceRequest, r.ID, reasoning, md, now)}
		return reviewed{request: r, change: ch}, nil
	}
	r.Status, r.DecidedBy, r.DecisionReasoning, r.DecidedAt = StatusApproved, c.ID, reasoning, &now
	ch.Messages = []Message{systemMessage(r, withReasoning("approved by "+c.ID, reasoning), now)}
	ev := s.event(c.TenantID, c.ID, actorType(c), AuditRequestApproved, auditResourceRequest, r.ID, reasoning, requestMeta(r), now)
	ev.Severity = severityOf(r.BreakGlass)
	ch.Audit = []AuditEvent{ev}
	if r.ExtendsGrantID != "" {
		// An extension: the grant's end moves; the workflow of this
		// request ends (no grant of its own). Unless it no longer fits:
		// then it is denied instead.
		refused, err := s.approveExtension(ctx, c, lp, &r, &ch, reasoning, now)
		if err != nil {
			return reviewed{}, err
		}
		outcome := &WorkflowOutcome{Status: OutcomeApproved}
		if refused != nil {
			outcome = &WorkflowOutcome{Status: OutcomeDenied}
		}
		return reviewed{request: r, change: ch, outcome: outcome, refused: refused}, nil
	}
	r.GrantID = GrantIDFor(r.ID)
	g := newGrant(r, now)
	ch.Grant = &GrantWrite{Grant: g, Create: true}
	return reviewed{request: r, change: ch, outcome: &WorkflowOutcome{Status: OutcomeApproved, GrantID: g.ID}}, nil
}

// Cancel withdraws a pending request; only its requester may.
func (s *Service) Cancel(ctx context.Context, c Caller, id string) (Request, error) {
	if err := checkCaller(c); err != nil {
		return Request{}, err
	}
	for attempt := 0; attempt < maxStateAttempts; attempt++ {
		r, err := s.Repo.GetRequestWithToken(ctx, c.TenantID, id)
		if err != nil {
			return Request{}, err
		}
		if r.RequesterID != c.ID {
			return Request{}, s.forbiddenOrHidden(ctx, &lazyPolicies{s: s, tenant: c.TenantID}, c, r, fmt.Errorf("%w: only the requester may cancel a request", ErrForbidden))
		}
		if r.Status != StatusPending {
			return Request{}, requestState(r)
		}
		now := s.now()
		if pastDeadline(r, now) {
			if retry, err := s.expireLate(ctx, c, r, "cancel", now); retry {
				continue
			} else {
				return Request{}, err
			}
		}
		old := r.Version
		r.Status, r.DecidedBy, r.DecidedAt, r.UpdatedAt, r.Version = StatusCancelled, c.ID, &now, now, old+1
		ch := Change{
			Request:     &RequestWrite{Request: r, ExpectStatus: StatusPending, ExpectVersion: old},
			LockRelease: requestLockKey(r),
			Messages:    []Message{systemMessage(r, "cancelled by "+c.ID, now)},
			Audit:       []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditRequestCancelled, auditResourceRequest, r.ID, "", requestMeta(r), now)},
		}
		if _, err := s.Repo.Commit(ctx, c.TenantID, ch); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) && cf.Has(PartRequest) {
				continue
			}
			return Request{}, fmt.Errorf("access: cancel request %s: %w", id, err)
		}
		s.resume(ctx, r, WorkflowOutcome{Status: OutcomeCancelled})
		return r, nil
	}
	return Request{}, fmt.Errorf("%w: request %s keeps changing", ErrConflict, id)
}

// ---------------------------------------------------------------- workflow side

// StoreTaskToken stores the approval wait's callback token while the
// request is pending, and returns the request (with TaskToken). If it is
// already decided the token is not used and the request is returned without
// it; the caller resumes the workflow itself according to the returned
// request's status. The token is written before the request is read, and
// deciders read it after committing, so a decision racing with this call
// is always followed by a resume (at worst two: the second is refused by
// Step Functions).
func (s *Service) StoreTaskToken(ctx context.Context, tenantID, requestID, token string) (Request, error) {
	if token == "" {
		return Request{}, &ValidationError{Fields: []FieldError{{Field: "task_token", Message: "is required"}}}
	}
	r, _, err := s.Repo.SetTaskToken(ctx, tenantID, requestID, token)
	if err != nil {
		return Request{}, fmt.Errorf("access: store task token of %s: %w", requestID, err)
	}
	return r, nil
}

// ExpireRequest is the approval timeout: pending → expired (conditionally).
// A request decided meanwhile is returned unchanged, without error.
func (s *Service) ExpireRequest(ctx context.Context, tenantID, requestID string) (Request, error) {
	for attempt := 0; attempt < maxStateAttempts; attempt++ {
		r, err := s.Repo.GetRequest(ctx, tenantID, requestID)
		if err != nil {
			return Request{}, err
		}
		if r.Status != StatusPending {
			return r, nil
		}
		r, ch := s.expiry(r, s.now(), nil)
		if _, err := s.Repo.Commit(ctx, tenantID, ch); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) && cf.Has(PartRequest) {
				continue
			}
			return Request{}, fmt.Errorf("access: expire request %s: %w", requestID, err)
		}
		return r, nil
	}
	return Request{}, fmt.Errorf("%w: request %s keeps changing", ErrConflict, requestID)
}

// expiry is the change that expires pending r at now, conditioned on its
// status and version: what the ApprovalTimeoutWorker commits, and what a
// decision arriving after the deadline commits instead (late: its metadata
// names who tried what).
func (s *Service) expiry(r Request, now time.Time, late map[string]any) (Request, Change) {
	old := r.Version
	r.Status, r.DecidedBy, r.DecidedAt, r.UpdatedAt, r.Version = StatusExpired, DecidedByTimeout, &now, now, old+1
	r.DecisionReasoning = fmt.Sprintf("no decision within the approval timeout (%ds)", r.ApprovalTimeout)
	md := requestMeta(r)
	for k, v := range late {
		md[k] = v
	}
	return r, Change{
		Request:     &RequestWrite{Request: r, ExpectStatus: StatusPending, ExpectVersion: old},
		LockRelease: requestLockKey(r),
		Messages:    []Message{systemMessage(r, "expired: "+r.DecisionReasoning, now)},
		Audit:       []AuditEvent{s.event(r.TenantID, DecidedByTimeout, ActorTypeSystem, AuditRequestExpired, auditResourceRequest, r.ID, r.DecisionReasoning, md, now)},
	}
}

// pastDeadline reports whether pending r's approval deadline has passed at
// now: no decision may be taken on it any more.
func pastDeadline(r Request, now time.Time) bool {
	return r.Status == StatusPending && r.ApprovalDeadline != nil && !now.Before(*r.ApprovalDeadline)
}

// expireLate handles a decision (what: approve, deny, cancel) by c that
// arrived after pending r's approval deadline: the request is expired in
// one conditional write, audited like the ApprovalTimeoutWorker's expiry,
// the waiting execution told (fast path; the workflow driver is the
// guarantee), and the caller gets a *StateError (expired, At = deadline).
// retry is true when r changed meanwhile (the caller re-reads).
func (s *Service) expireLate(ctx context.Context, c Caller, r Request, what string, now time.Time) (retry bool, err error) {
	r, ch := s.expiry(r, now, map[string]any{"late_decision": what, "late_decision_by": c.ID})
	if _, err := s.Repo.Commit(ctx, r.TenantID, ch); err != nil {
		var cf *ConditionFailedError
		if errors.As(err, &cf) && cf.Has(PartRequest) {
			return true, nil
		}
		return false, fmt.Errorf("access: expire request %s: %w", r.ID, err)
	}
	s.log().InfoContext(ctx, "decision after the approval deadline: request expired", "tenant_id", r.TenantID, "request_id", r.ID, "decision", what)
	s.resume(ctx, r, WorkflowOutcome{Status: StatusExpired})
	return false, &StateError{What: "request", ID: r.ID, Status: StatusExpired, At: r.ApprovalDeadline}
}
