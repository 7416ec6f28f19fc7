package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AssignmentOf is the provider assignment of a grant: the account is the
// resource itself for aws_account, else its account_id (or, for an RDS ARN,
// the account in the ARN); the permission set is permission_set_arn, or
// the resource itself for aws_permission_set.
func AssignmentOf(g Grant) Assignment {
	a := Assignment{
		TenantID: g.TenantID, GrantID: g.ID, PrincipalID: g.GranteeID, PrincipalEmail: g.GranteeEmail,
		AccountID: g.Resource.AccountID, PermissionSetARN: g.PermissionSetARN, Resource: g.Resource,
	}
	switch g.Resource.Type {
	case "aws_account":
		a.AccountID = g.Resource.ID
	case "aws_permission_set":
		if a.PermissionSetARN == "" {
			a.PermissionSetARN = g.Resource.ID
		}
	case "aws_rds_instance":
		if a.AccountID == "" {
			if f := strings.Split(g.Resource.ID, ":"); len(f) >= 5 {
				a.AccountID = f[4]
			}
		}
	}
	return a
}

func grantLockKey(g Grant) string { return LockKey(g.GranteeID, g.Resource, g.PermissionSetARN) }

func grantEnded(status string) bool {
	return status == GrantExpired || status == GrantRevoked || status == GrantFailed
}

// ProvisionGrant provisions a grant: provider assignment, then
// provisioning → active with expires_at = now + duration. An active grant
// is returned as is; a grant that ended before it was provisioned
// (revoked, failed) is returned unchanged — the workflow should check the
// status and skip to its end. Provider errors are returned wrapped
// (errors.Is(err, ErrRetryable) for throttling/transient ones). If the
// grant was revoked while the provider call ran, the assignment is undone.
func (s *Service) ProvisionGrant(ctx context.Context, tenantID, grantID string) (Grant, error) {
	for attempt := 0; attempt < maxStateAttempts; attempt++ {
		g, err := s.Repo.GetGrant(ctx, tenantID, grantID)
		if err != nil {
			return Grant{}, err
		}
		if g.Status != GrantProvisioning {
			return g, nil
		}
		a := AssignmentOf(g)
		if err := s.Provider.Provision(ctx, a); err != nil {
			return g, fmt.Errorf("access: provision grant %s: %w", g.ID, err)
		}
		now := s.now()
		old := g.Version
		exp := now.Add(time.Duration(g.DurationSeconds) * time.Second)
		g.Status, g.ProvisioningStatus, g.GrantedAt, g.ExpiresAt = GrantActive, "succeeded", &now, &exp
		g.UpdatedAt, g.Version = now, old+1
		ev := s.event(tenantID, ActorTypeSystem, ActorTypeSystem, AuditGrantActive, auditResourceGrant, g.ID, "", grantMeta(g), now)
		ev.Severity = severityOf(g.BreakGlass)
		ch := Change{Grant: &GrantWrite{Grant: g, ExpectStatus: GrantProvisioning, ExpectVersion: old}, Audit: []AuditEvent{ev}}
		if _, err := s.Repo.Commit(ctx, tenantID, ch); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) && cf.Has(PartGrant) {
				cur, gerr := s.Repo.GetGrant(ctx, tenantID, grantID)
				if gerr != nil {
					return Grant{}, gerr
				}
				if grantEnded(cur.Status) {
					// Revoked (or failed) while we provisioned: undo.
					if rerr := s.Provider.Revoke(ctx, a); rerr != nil {
						return cur, fmt.Errorf("access: undo provisioning of ended grant %s: %w", g.ID, rerr)
					}
					return cur, nil
				}
				continue
			}
			return Grant{}, fmt.Errorf("access: activate grant %s: %w", grantID, err)
		}
		return g, nil
	}
	return Grant{}, fmt.Errorf("%w: grant %s keeps changing", ErrConflict, grantID)
}

// LoadGrant reads a grant for the workflow (no caller: the workflow acts
// for the system).
func (s *Service) LoadGrant(ctx context.Context, tenantID, grantID string) (Grant, error) {
	return s.Repo.GetGrant(ctx, tenantID, grantID)
}

// FailGrant marks a grant whose provisioning failed for good:
// provisioning → failed (audited, duplicate guard released, any partial
// assignment revoked best-effort). Other states are returned unchanged.
func (s *Service) FailGrant(ctx context.Context, tenantID, grantID, reason string) (Grant, error) {
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxReasoningChars {
		reason = reason[:MaxReasoningChars]
	}
	return s.updateGrant(ctx, tenantID, grantID, "fail", func(g Grant) (*Change, Grant, error) {
		if g.Status != GrantProvisioning {
			return nil, g, nil
		}
		if rerr := s.Provider.Revoke(ctx, AssignmentOf(g)); rerr != nil {
			s.log().WarnContext(ctx, "cleanup of failed grant", "tenant_id", tenantID, "grant_id", grantID, "error", rerr)
		}
		now := s.now()
		old := g.Version
		g.Status, g.ProvisioningStatus, g.FailureReason, g.UpdatedAt, g.Version = GrantFailed, "failed", reason, now, old+1
		return &Change{
			Grant:       &GrantWrite{Grant: g, ExpectStatus: GrantProvisioning, ExpectVersion: old},
			LockRelease: grantLockKey(g),
			Audit:       []AuditEvent{s.event(tenantID, ActorTypeSystem, ActorTypeSystem, AuditGrantFailed, auditResourceGrant, g.ID, reason, grantMeta(g), now)},
		}, g, nil
	})
}

// ExpireGrant is the scheduled end of a grant: provider revoke first, then
// active (or still provisioning, or revoke_failed: a retry) → expired,
// releasing the duplicate guard. A failed revoke is returned (the caller
// records it with RecordRevokeFailure).
// An ended grant (revoked, expired, failed) is returned unchanged, and so is
// an active grant whose end has not come yet (it was extended after the
// workflow began waiting: the workflow waits again for the new end).
//
// An extension can commit between this call's read and its write (it read
// the grant just before the end). Then the revoke already made is undone:
// the grant, active with its new end, gets its assignment back
// (Provider.Provision is idempotent); if that fails, the drift reconciler
// re-creates the assignment of a live grant on its next run.
func (s *Service) ExpireGrant(ctx context.Context, tenantID, grantID string) (Grant, error) {
	revoked := false
	return s.updateGrant(ctx, tenantID, grantID, "expire", func(g Grant) (*Change, Grant, error) {
		if grantEnded(g.Status) {
			return nil, g, nil
		}
		if g.Status == GrantActive && g.ExpiresAt != nil && s.now().Before(*g.ExpiresAt) {
			if revoked {
				s.log().WarnContext(ctx, "grant extended while it was being expired: restoring its assignment",
					"tenant_id", tenantID, "grant_id", g.ID, "expires_at", g.ExpiresAt)
				if err := s.Provider.Provision(ctx, AssignmentOf(g)); err != nil {
					return nil, g, fmt.Errorf("%w: restore the assignment of grant %s, extended while it expired: %w", ErrRetryable, g.ID, err)
				}
			}
			return nil, g, nil
		}
		if err := s.Provider.Revoke(ctx, AssignmentOf(g)); err != nil {
			return nil, g, fmt.Errorf("access: revoke expired grant %s: %w", g.ID, err)
		}
		revoked = true
		now := s.now()
		old, oldStatus := g.Version, g.Status
		g.Status, g.UpdatedAt, g.Version = GrantExpired, now, old+1
		ev := s.event(tenantID, ActorTypeSystem, ActorTypeSystem, AuditGrantExpired, auditResourceGrant, g.ID, "", grantMeta(g), now)
		ev.Severity = severityOf(g.BreakGlass)
		return &Change{
			Grant:       &GrantWrite{Grant: g, ExpectStatus: oldStatus, ExpectVersion: old},
			LockRelease: grantLockKey(g),
			Audit:       []AuditEvent{ev},
		}, g, nil
	})
}

// Defaults of the revoke retry back-off (Service.RevokeRetryBase/Max).
const (
	DefaultRevokeRetryBase = time.Minute
	DefaultRevokeRetryMax  = 30 * time.Minute
)

// revokeRetryIn is the wait before the n-th retry of a failed revoke
// (n ≥ 1): base·2^(n-1), at most max.
func (s *Service) revokeRetryIn(n int) time.Duration {
	base, limit := s.RevokeRetryBase, s.RevokeRetryMax
	if base <= 0 {
		base = DefaultRevokeRetryBase
	}
	if limit <= 0 {
		limit = DefaultRevokeRetryMax
	}
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// RecordRevokeFailure records that revoking a grant at its end failed:
// active (past its end) or provisioning → revoke_failed with the reason,
// audited as grant.revoke_failed; a grant already revoke_failed gets the
// new reason, one more attempt counted and its next retry moved back
// (NextRevokeAt, doubling from RevokeRetryBase up to RevokeRetryMax) —
// no audit event for a retry that failed again, the first one said it.
// Ended grants, and active grants whose end has not come (extended
// meanwhile), are returned unchanged: there is nothing to record.
func (s *Service) RecordRevokeFailure(ctx context.Context, tenantID, grantID, reason string) (Grant, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "revoke failed"
	}
	if len(reason) > MaxReasoningChars {
		reason = strings.ToValidUTF8(reason[:MaxReasoningChars], "")
	}
	return s.updateGrant(ctx, tenantID, grantID, "record revoke failure of", func(g Grant) (*Change, Grant, error) {
		now := s.now()
		switch {
		case grantEnded(g.Status):
			return nil, g, nil
		case g.Status == GrantActive && g.ExpiresAt != nil && now.Before(*g.ExpiresAt):
			return nil, g, nil
		}
		old, oldStatus := g.Version, g.Status
		g.RevokeAttempts++
		next := now.Add(s.revokeRetryIn(g.RevokeAttempts))
		g.Status, g.RevokeFailure, g.NextRevokeAt, g.UpdatedAt, g.Version = GrantRevokeFailed, reason, &next, now, old+1
		ch := &Change{Grant: &GrantWrite{Grant: g, ExpectStatus: oldStatus, ExpectVersion: old}}
		if oldStatus != GrantRevokeFailed {
			meta := grantMeta(g)
			meta["revoke_attempts"] = g.RevokeAttempts
			ev := s.event(tenantID, ActorTypeSystem, ActorTypeSystem, AuditGrantRevokeFailed, auditResourceGrant, g.ID, reason, meta, now)
			ev.Severity = SeverityCritical // access that should have ended may still be assigned
			ch.Audit = []AuditEvent{ev}
		}
		return ch, g, nil
	})
}

// Sweep kinds: what a table item is overdue for (SweepDue).
const (
	SweepApproval     = "approval"     // a pending request: its approval deadline
	SweepProvisioning = "provisioning" // a provisioning grant: since it was last written
	SweepEnd          = "end"          // an active grant: its expires_at
	SweepRevokeRetry  = "revoke_retry" // a revoke_failed grant: its next retry
)

// GrantSweepDue is when a grant becomes something the sweeper looks at,
// and as what (kind ""/zero time: never, it ended). The sweeper adds its
// own grace per kind; the store indexes items by these (a sparse index of
// only what can become overdue).
func GrantSweepDue(g Grant) (kind string, at time.Time) {
	switch g.Status {
	case GrantProvisioning:
		return SweepProvisioning, g.UpdatedAt
	case GrantActive:
		if g.ExpiresAt != nil {
			return SweepEnd, *g.ExpiresAt
		}
		return SweepEnd, g.UpdatedAt // active without an end: overdue at once
	case GrantRevokeFailed:
		if g.NextRevokeAt != nil {
			return SweepRevokeRetry, *g.NextRevokeAt
		}
		return SweepRevokeRetry, g.UpdatedAt
	}
	return "", time.Time{}
}

// RequestSweepDue is GrantSweepDue for requests: a pending request with an
// approval deadline.
func RequestSweepDue(r Request) (kind string, at time.Time) {
	if r.Status == StatusPending && r.ApprovalDeadline != nil {
		return SweepApproval, *r.ApprovalDeadline
	}
	return "", time.Time{}
}

// updateGrant is one grant transition: read the grant, let change decide
// (nil Change: return the grant as change says, no write), commit the
// change conditioned on the state read, and start over when the grant
// moved meanwhile (the loser of a race re-reads, e.g. to find it ended).
func (s *Service) updateGrant(ctx context.Context, tenantID, grantID, what string, change func(Grant) (*Change, Grant, error)) (Grant, error) {
	for attempt := 0; attempt < maxStateAttempts; attempt++ {
		g, err := s.Repo.GetGrant(ctx, tenantID, grantID)
		if err != nil {
			return Grant{}, err
		}
		ch, next, err := change(g)
		if err != nil || ch == nil {
			return next, err
		}
		if _, err := s.Repo.Commit(ctx, tenantID, *ch); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) && cf.Has(PartGrant) {
				continue
			}
			return Grant{}, fmt.Errorf("access: %s grant %s: %w", what, grantID, err)
		}
		return next, nil
	}
	return Grant{}, fmt.Errorf("%w: grant %s keeps changing", ErrConflict, grantID)
}

// mayManageGrant: the grantee, admins, and reviewers policy allows for the
// grant's request.
func (s *Service) mayManageGrant(ctx context.Context, lp *lazyPolicies, c Caller, g Grant) (bool, error) {
	if c.Admin || c.ID == g.GranteeID {
		return true, nil
	}
	r, err := s.Repo.GetRequest(ctx, c.TenantID, g.RequestID)
	if err != nil {
		return false, err
	}
	return s.mayApprove(ctx, lp, c, r)
}

// GetGrant returns a grant to its grantee, admins, API keys and reviewers
// policy allows for its request.
func (s *Service) GetGrant(ctx context.Context, c Caller, id string) (Grant, error) {
	if err := checkCaller(c); err != nil {
		return Grant{}, err
	}
	g, err := s.Repo.GetGrant(ctx, c.TenantID, id)
	if err != nil {
		return Grant{}, err
	}
	if c.Type == ActorTypeAPIKey {
		return g, nil
	}
	ok, err := s.mayManageGrant(ctx, &lazyPolicies{s: s, tenant: c.TenantID}, c, g)
	if err != nil {
		return Grant{}, err
	}
	if !ok {
		return Grant{}, errHidden("grant", id) // like an unknown id
	}
	return g, nil
}

// ListGrants lists grants newest first. Admins and API keys see all; other
// users only their own (GranteeID defaults to the caller; another grantee
// is ErrForbidden) — a simplification: reviewers read others' grants one
// by one with GetGrant.
func (s *Service) ListGrants(ctx context.Context, c Caller, f GrantFilter, p Page) ([]Grant, string, error) {
	if err := checkCaller(c); err != nil {
		return nil, "", err
	}
	if !validGrantStatus(f.Status) {
		return nil, "", &ValidationError{Fields: []FieldError{{Field: "status", Message: "must be provisioning, active, revoke_failed, expired, revoked or failed"}}}
	}
	if !c.Admin && c.Type != ActorTypeAPIKey {
		if f.GranteeID == "" {
			f.GranteeID = c.ID
		}
		if f.GranteeID != c.ID {
			return nil, "", fmt.Errorf("%w: you may list only your own grants", ErrForbidden)
		}
	}
	p.Viewer = c.ID
	return s.Repo.ListGrants(ctx, c.TenantID, GrantQuery(f), p)
}

// RevokeGrant ends a live (active or provisioning) grant early: provider
// revoke, then → revoked (RevokedBy), duplicate guard released, audited.
// The grantee, admins and reviewers policy allows may revoke. An ended
// grant is ErrConflict; the workflow's later ExpireGrant is a no-op.
func (s *Service) RevokeGrant(ctx context.Context, c Caller, id, reasoning string) (Grant, error) {
	if err := checkCaller(c); err != nil {
		return Grant{}, err
	}
	reasoning, err := cleanReasoning(reasoning)
	if err != nil {
		return Grant{}, err
	}
	lp := &lazyPolicies{s: s, tenant: c.TenantID}
	return s.updateGrant(ctx, c.TenantID, id, "revoke", func(g Grant) (*Change, Grant, error) {
		ok, err := s.mayManageGrant(ctx, lp, c, g)
		if err != nil {
			return nil, Grant{}, err
		}
		if !ok {
			if c.Type == ActorTypeAPIKey { // may read it (GetGrant), not revoke it
				return nil, Grant{}, fmt.Errorf("%w: you may not revoke this grant", ErrForbidden)
			}
			return nil, Grant{}, errHidden("grant", id)
		}
		if grantEnded(g.Status) {
			return nil, Grant{}, &StateError{What: "grant", ID: g.ID, Status: g.Status, By: g.RevokedBy, ChangedAt: g.RevokedAt}
		}
		if err := s.Provider.Revoke(ctx, AssignmentOf(g)); err != nil {
			return nil, Grant{}, fmt.Errorf("access: revoke grant %s: %w", g.ID, err)
		}
		now := s.now()
		old, oldStatus := g.Version, g.Status
		g.Status, g.RevokedAt, g.RevokedBy, g.UpdatedAt, g.Version = GrantRevoked, &now, c.ID, now, old+1
		ev := s.event(c.TenantID, c.ID, actorType(c), AuditGrantRevoked, auditResourceGrant, g.ID, reasoning, grantMeta(g), now)
		ev.Severity = severityOf(g.BreakGlass)
		return &Change{
			Grant:       &GrantWrite{Grant: g, ExpectStatus: oldStatus, ExpectVersion: old},
			LockRelease: grantLockKey(g),
			Audit:       []AuditEvent{ev},
		}, g, nil
	})
}

// ---------------------------------------------------------------- messages

// messageRole: the requester writes as "user", reviewers policy allows and
// admins as "approver"; anyone else may not read or post.
func (s *Service) messageRole(ctx context.Context, c Caller, r Request) (string, error) {
	if c.ID == r.RequesterID {
		return "user", nil
	}
	ok, err := s.mayApprove(ctx, &lazyPolicies{s: s, tenant: c.TenantID}, c, r)
	if err != nil {
		return "", err
	}
	if ok || c.Admin {
		return "approver", nil
	}
	if c.Type != ActorTypeAPIKey { // an API key may read the request itself (Get)
		return "", errHidden("request", r.ID)
	}
	return "", fmt.Errorf("%w: only the requester, its reviewers and admins may use this conversation", ErrForbidden)
}

// PostMessage adds a message (1..4000 characters after trimming) to a
// request's conversation; audited as message.posted.
func (s *Service) PostMessage(ctx context.Context, c Caller, requestID, body string) (Message, error) {
	if err := checkCaller(c); err != nil {
		return Message{}, err
	}
	body, msg := cleanText(body, MaxMessageChars)
	if msg != "" {
		return Message{}, &ValidationError{Fields: []FieldError{{Field: "body", Message: msg}}}
	}
	// Counted before anything is read: a flood is refused with one write.
	if err := s.takeRate(ctx, c, RateKindMessage, s.Limits.Messages); err != nil {
		return Message{}, err
	}
	r, err := s.Repo.GetRequest(ctx, c.TenantID, requestID)
	if err != nil {
		return Message{}, err
	}
	role, err := s.messageRole(ctx, c, r)
	if err != nil {
		return Message{}, err
	}
	now := s.now()
	m := Message{ID: newID("msg_", now), RequestID: r.ID, AuthorType: role, AuthorID: c.ID, Body: body, CreatedAt: now}
	ch := Change{
		Messages: []Message{m},
		Audit: []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditMessagePosted, auditResourceRequest, r.ID, "",
			map[string]any{"message_id": m.ID, "author_type": role, "length": len([]rune(body))}, now)},
	}
	if limit := s.Limits.MaxMessagesPerRequest; limit > 0 {
		ch.MessageCap = &MessageCap{RequestID: r.ID, Max: limit}
	}
	if _, err := s.Repo.Commit(ctx, c.TenantID, ch); err != nil {
		var cf *ConditionFailedError
		if errors.As(err, &cf) && cf.Has(PartMessageCap) {
			return Message{}, &MessageCapError{RequestID: r.ID, Max: s.Limits.MaxMessagesPerRequest}
		}
		return Message{}, fmt.Errorf("access: post message: %w", err)
	}
	return m, nil
}

// ListMessages lists a request's conversation, oldest first.
func (s *Service) ListMessages(ctx context.Context, c Caller, requestID string, p Page) ([]Message, string, error) {
	if err := checkCaller(c); err != nil {
		return nil, "", err
	}
	r, err := s.Repo.GetRequest(ctx, c.TenantID, requestID)
	if err != nil {
		return nil, "", err
	}
	if _, err := s.messageRole(ctx, c, r); err != nil {
		return nil, "", err
	}
	p.Viewer = c.ID
	return s.Repo.ListMessages(ctx, c.TenantID, requestID, p)
}

// ---------------------------------------------------------------- audit

func mayReadAudit(c Caller) error {
	if c.Admin || c.Type == ActorTypeAPIKey {
		return nil
	}
	return fmt.Errorf("%w: the audit log is for admins and API keys", ErrForbidden)
}

// AuditLog lists the tenant's audit events, newest first (admins and API
// keys; handlers check scopes).
func (s *Service) AuditLog(ctx context.Context, c Caller, f AuditFilter, p Page) ([]AuditEvent, string, error) {
	if err := checkCaller(c); err != nil {
		return nil, "", err
	}
	if err := mayReadAudit(c); err != nil {
		return nil, "", err
	}
	if f.From != nil && f.To != nil && f.To.Before(*f.From) {
		return nil, "", &ValidationError{Fields: []FieldError{{Field: "to", Message: "must not be before from"}}}
	}
	p.Viewer = c.ID
	return s.Repo.ListAudit(ctx, c.TenantID, AuditQuery(f), p)
}

// VerifyAudit checks one page of the tenant's hash chain against its
// anchors and reports the first broken link (admins and API keys).
func (s *Service) VerifyAudit(ctx context.Context, c Caller, o VerifyOptions) (VerifyResult, error) {
	if err := checkCaller(c); err != nil {
		return VerifyResult{}, err
	}
	if err := mayReadAudit(c); err != nil {
		return VerifyResult{}, err
	}
	if s.AuditVerifier == nil {
		return VerifyResult{}, fmt.Errorf("access: audit verification is not configured")
	}
	return s.AuditVerifier.Verify(ctx, c.TenantID, o)
}

// RecordRuleChange appends a policy-rule change to the audit log on its
// own. The API writes rule changes with their audit event in one
// transaction; this remains for tests that need a standalone audit event.
func (s *Service) RecordRuleChange(ctx context.Context, c Caller, action, ruleID string, meta map[string]any) error {
	switch action {
	case AuditRuleCreated, AuditRuleUpdated, AuditRuleDeleted, AuditRulesImported:
	default:
		return &ValidationError{Fields: []FieldError{{Field: "action", Message: "must be rule.created, rule.updated, rule.deleted or rules.imported"}}}
	}
	return s.recordChange(ctx, c, action, auditResourcePolicyRule, ruleID, meta)
}

// Audit resource types of configuration changes (their handlers write
// the event in the change's own transaction).
const (
	AuditResourceSettings = "settings"
	AuditResourceChannel  = "notification_channel"
	// AuditResourceAssignments: the tenant's provider assignments as a
	// whole (drift.detected; resource id = the tenant id).
	AuditResourceAssignments = "assignments"
)

func (s *Service) recordChange(ctx context.Context, c Caller, action, resourceType, resourceID string, meta map[string]any) error {
	if err := checkCaller(c); err != nil {
		return err
	}
	now := s.now()
	ev := s.event(c.TenantID, c.ID, actorType(c), action, resourceType, resourceID, "", meta, now)
	if _, err := s.Repo.Commit(ctx, c.TenantID, Change{Audit: []AuditEvent{ev}}); err != nil {
		return fmt.Errorf("access: record %s: %w", action, err)
	}
	return nil
}

// RecordWorkflowFailure audits that a workflow step failed for good on a
// request or grant (workflow.step_failed, by the system, severity
// warning): the execution ends failed and the sweeper finishes what the
// step left (the item keeps its place in the sweeper's index).
// resourceType is "request" or "grant".
func (s *Service) RecordWorkflowFailure(ctx context.Context, tenantID, resourceType, id, step, reason string) error {
	if resourceType != auditResourceRequest && resourceType != auditResourceGrant {
		return &ValidationError{Fields: []FieldError{{Field: "resource_type", Message: "must be request or grant"}}}
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > MaxReasoningChars {
		reason = strings.ToValidUTF8(reason[:MaxReasoningChars], "")
	}
	now := s.now()
	ev := s.event(tenantID, ActorTypeSystem, ActorTypeSystem, AuditWorkflowStepFailed, resourceType, id, reason, map[string]any{"step": step}, now)
	ev.Severity = SeverityWarning
	if _, err := s.Repo.Commit(ctx, tenantID, Change{Audit: []AuditEvent{ev}}); err != nil {
		return fmt.Errorf("access: record workflow failure: %w", err)
	}
	return nil
}

// RecordDrift appends what the drift reconciler found in the tenant's AWS
// organization (drift.detected, by the system; severity warning when
// access was repaired or removed behind jitsudo's back).
func (s *Service) RecordDrift(ctx context.Context, tenantID string, meta map[string]any) error {
	now := s.now()
	ev := s.event(tenantID, ActorTypeSystem, ActorTypeSystem, AuditDriftDetected, AuditResourceAssignments, tenantID, "", meta, now)
	ev.Severity = SeverityWarning
	if _, err := s.Repo.Commit(ctx, tenantID, Change{Audit: []AuditEvent{ev}}); err != nil {
		return fmt.Errorf("access: record drift: %w", err)
	}
	return nil
}
