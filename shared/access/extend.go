package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Extension of a live grant (POST /v1/grants/{id}/extend).
//
// The grantee asks for DurationSeconds more; the tenant's policies decide
// with action extend_grant on the grant's resource, with
// context.duration_seconds = the extension asked for (the increment),
// context.total_duration_seconds = the grant's total once extended (its
// end after the extension minus granted_at) and context.justification. So
// a rule bounds one extension with `when { context.duration_seconds <= … }`
// and the grant's whole life with `when { context.total_duration_seconds
// <= … }`. Both are computed from the grant as read in the same attempt
// whose write is conditioned on that grant's version: a concurrent
// extension makes the write fail and the loser reads and decides again, so
// parallel extensions can never add up beyond the bound. A permit's
// approval_mode decides how:
//
//   - auto (also a permit without approval_mode, and break_glass — an
//     extension is never an emergency of its own): the grant's end moves at
//     once, in one transaction with an approved extension request kept for
//     the record and the grant.extended audit event;
//   - require: a pending request with Action extend_grant and
//     ExtendsGrantID is created and reviewed like any request (N distinct
//     approvers, never the grantee, one deny ends it, approval timeout);
//     its final approval moves the grant's end in the same transaction.
//     One pending extension per grant (a second is a DuplicateError).
//   - deny: the extension request is stored as denied and
//     *PolicyDeniedError returned.
//
// The grant's workflow re-reads the end when its wait is over and waits
// again if it moved (ExpireGrant before the end is a no-op). Only active
// grants can be extended. Whatever policy says, the total duration never
// exceeds the tenant's maximum grant duration (maxGrantDuration: its
// settings' max_grant_duration_seconds, 7 days when unset):
// *DurationLimitError, checked on the same read as the decision. A
// `require` extension is checked again when its final approval commits
// (the grant may have been extended meanwhile): the tenant's maximum, then
// policy with the grant's total at that moment (the rest of the question as
// it was asked, `now` included). If either refuses, the request is denied
// by policy with the reason, in the transaction the approval would have
// been, and the approver gets the *DurationLimitError or
// *PolicyDeniedError.

// ExtendInput asks for more time on a grant.
type ExtendInput struct {
	DurationSeconds int64
	Justification   string
}

// ExtendResult is what ExtendGrant did: the extension request (approved,
// pending or denied) and the grant (with its new end when approved).
type ExtendResult struct {
	Request  Request
	Grant    Grant
	Decision policy.Decision
}

// ExtensionLockKey is the duplicate guard of a grant's pending extension.
func ExtensionLockKey(grantID string) string { return hashJoin("extend", grantID) }

// requestLockKey is the duplicate guard a request holds while pending.
func requestLockKey(r Request) string {
	if r.ExtendsGrantID != "" {
		return ExtensionLockKey(r.ExtendsGrantID)
	}
	return LockKey(r.RequesterID, r.Resource, r.PermissionSetARN)
}

func normalizeExtend(in ExtendInput) (ExtendInput, error) {
	var errs []FieldError
	var msg string
	if in.Justification, msg = cleanText(in.Justification, MaxReasonChars); msg != "" {
		errs = append(errs, FieldError{Field: "justification", Message: msg})
	}
	if in.DurationSeconds < MinDurationSeconds || in.DurationSeconds > MaxDurationSeconds {
		errs = append(errs, FieldError{Field: "duration_seconds", Message: fmt.Sprintf("must be from %d to %d (7 days)", MinDurationSeconds, MaxDurationSeconds)})
	}
	if len(errs) > 0 {
		return in, &ValidationError{Fields: errs}
	}
	return in, nil
}

// totalAfter is g's total duration in seconds (from granted_at) once its
// end moves by seconds (g must be active with an end).
func totalAfter(g Grant, seconds int64) int64 {
	if g.GrantedAt == nil {
		return g.DurationSeconds + seconds
	}
	return int64(g.ExpiresAt.Sub(*g.GrantedAt)/time.Second) + seconds
}

// maxGrantDuration is the tenant's ceiling on a grant's total duration in
// seconds: its setting, MaxDurationSeconds (7 days) when unset; never more
// than that nor less than MinMaxGrantDurationSeconds.
func (s *Service) maxGrantDuration(ctx context.Context, tenantID string) (int64, error) {
	n, err := s.Repo.MaxGrantDurationSeconds(ctx, tenantID)
	if err != nil {
		return 0, fmt.Errorf("access: read the maximum grant duration: %w", err)
	}
	switch {
	case n <= 0 || n > MaxDurationSeconds:
		n = MaxDurationSeconds
	case n < MinMaxGrantDurationSeconds:
		n = MinMaxGrantDurationSeconds
	}
	return n, nil
}

// ended reports whether g's end has passed at now: it can no longer be
// extended, even while its workflow has not yet expired it (its stored
// status is still active).
func ended(g Grant, now time.Time) bool {
	return g.ExpiresAt != nil && !now.Before(*g.ExpiresAt)
}

// extendGrant moves g's end by seconds (g must be active with an end).
func extendGrant(g Grant, seconds int64, now time.Time) Grant {
	end := g.ExpiresAt.Add(time.Duration(seconds) * time.Second)
	g.ExpiresAt = &end
	g.DurationSeconds += seconds
	g.UpdatedAt, g.Version = now, g.Version+1
	return g
}

func (s *Service) extendedEvent(c Caller, g Grant, requestID, reasoning string, seconds int64, now time.Time) AuditEvent {
	md := grantMeta(g)
	md["extension_request_id"], md["extended_by_seconds"] = requestID, seconds
	ev := s.event(c.TenantID, c.ID, actorType(c), AuditGrantExtended, auditResourceGrant, g.ID, reasoning, md, now)
	ev.Severity = severityOf(g.BreakGlass)
	return ev
}

// extensionQuestion is what policy is asked about extending g by seconds
// to total seconds in all.
func extensionQuestion(p policy.Principal, g Grant, seconds, total int64, justification string, now time.Time) policy.Request {
	return policy.Request{
		Principal: p, Action: policy.ActionExtendGrant,
		Resource:        PolicyResource(g.Resource, g.PermissionSetARN),
		DurationSeconds: seconds, TotalDurationSeconds: total,
		Justification: justification, Now: now,
		Metadata: map[string]any{"grant_id": g.ID},
	}
}

// ExtendGrant asks for more time on an active grant; see the section
// comment above. Only the grantee may ask.
func (s *Service) ExtendGrant(ctx context.Context, c Caller, grantID string, in ExtendInput) (ExtendResult, error) {
	if err := checkCaller(c); err != nil {
		return ExtendResult{}, err
	}
	in, err := normalizeExtend(in)
	if err != nil {
		return ExtendResult{}, err
	}
	if err := s.takeRate(ctx, c, RateKindExtension, s.Limits.Extensions); err != nil {
		return ExtendResult{}, err
	}
	if err := s.checkProviderIdentity(ctx, c); err != nil {
		return ExtendResult{}, err
	}
	ps, err := s.policySet(ctx, c.TenantID)
	if err != nil {
		return ExtendResult{}, err
	}
	ceiling, err := s.maxGrantDuration(ctx, c.TenantID)
	if err != nil {
		return ExtendResult{}, err
	}
	for attempt := 0; attempt < maxStateAttempts; attempt++ {
		g, err := s.Repo.GetGrant(ctx, c.TenantID, grantID)
		if err != nil {
			return ExtendResult{}, err
		}
		if g.GranteeID != c.ID {
			if ok, merr := s.mayManageGrant(ctx, &lazyPolicies{s: s, tenant: c.TenantID, ps: ps}, c, g); merr != nil {
				return ExtendResult{}, merr
			} else if !ok {
				return ExtendResult{}, errHidden("grant", grantID) // do not reveal others' grants
			}
			return ExtendResult{}, fmt.Errorf("%w: only the grantee may ask to extend a grant", ErrForbidden)
		}
		if g.Status != GrantActive || g.ExpiresAt == nil {
			return ExtendResult{}, &StateError{What: "grant", ID: g.ID, Status: g.Status, Want: GrantActive}
		}
		if ended(g, s.now()) {
			return ExtendResult{}, &StateError{What: "grant", ID: g.ID, Status: g.Status, At: g.ExpiresAt}
		}
		// The ceiling, the policy's context and the write all work from
		// this read of g: the write is conditioned on g.Version.
		total := totalAfter(g, in.DurationSeconds)
		if total > ceiling {
			return ExtendResult{}, &DurationLimitError{TotalSeconds: total, MaxSeconds: ceiling}
		}
		now := s.now()
		r := Request{
			ID: newID("req_", now), TenantID: c.TenantID, RequesterID: c.ID, RequesterGroups: c.Groups,
			RequesterEmail: c.Email, Requester: new(PersonOf(c)), Resource: g.Resource, PermissionSetARN: g.PermissionSetARN,
			Action: policy.ActionExtendGrant, Reason: in.Justification, DurationSeconds: in.DurationSeconds,
			BreakGlass: g.BreakGlass, ExtendsGrantID: g.ID, CreatedAt: now, UpdatedAt: now, Version: 1,
		}
		dec := ps.Decide(extensionQuestion(principalOf(c), g, in.DurationSeconds, total, in.Justification, now))
		r.DecidingRuleIDs, r.Notices = dec.DecidingRuleIDs, dec.Notices
		ch := Change{}
		start := false
		switch {
		case !dec.Allowed:
			r.Status, r.DecidedBy, r.DecisionReasoning, r.DecidedAt = StatusDenied, DecidedByPolicy, dec.Reason, &now
			ch.Audit = []AuditEvent{s.event(c.TenantID, DecidedByPolicy, ActorTypePolicy, AuditRequestDenied, auditResourceRequest, r.ID, dec.Reason, requestMeta(r), now)}
		case dec.Mode == policy.ModeRequire:
			holdForReview(&r, dec, now)
			ch.LockAcquire = &TargetLock{Key: ExtensionLockKey(g.ID), RequestID: r.ID, GrantID: g.ID, CreatedAt: now}
			ch.Audit = []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditRequestCreated, auditResourceRequest, r.ID, r.Reason, pendingMeta(r), now)}
			start = true
		default: // auto (or a permit without a mode, or break_glass): extend now
			r.Status, r.ApprovalMode = StatusApproved, policy.ModeAuto
			r.DecidedBy, r.DecisionReasoning, r.DecidedAt = DecidedByPolicy, dec.Reason, &now
			old := g.Version
			g = extendGrant(g, in.DurationSeconds, now)
			ch.Grant = &GrantWrite{Grant: g, ExpectStatus: GrantActive, ExpectVersion: old}
			ch.Audit = []AuditEvent{s.extendedEvent(c, g, r.ID, in.Justification, in.DurationSeconds, now)}
		}
		ch.Request = &RequestWrite{Request: r, Create: true}
		if _, err := s.Repo.Commit(ctx, c.TenantID, ch); err != nil {
			var cf *ConditionFailedError
			if errors.As(err, &cf) {
				if cf.Has(PartLock) {
					lock, lerr := s.Repo.GetLock(ctx, c.TenantID, ExtensionLockKey(g.ID))
					if lerr == nil {
						return ExtendResult{}, &DuplicateError{RequestID: lock.RequestID}
					}
					continue
				}
				if cf.Has(PartGrant) || cf.Has(PartRequest) {
					continue // the grant moved meanwhile: decide again
				}
			}
			return ExtendResult{}, fmt.Errorf("access: extend grant %s: %w", grantID, err)
		}
		res := ExtendResult{Request: r, Grant: g, Decision: dec}
		if !dec.Allowed {
			return res, &PolicyDeniedError{Request: r, Decision: dec}
		}
		if start {
			s.startWorkflow(ctx, r)
		}
		return res, nil
	}
	return ExtendResult{}, fmt.Errorf("%w: grant %s keeps changing", ErrConflict, grantID)
}

// approveExtension completes the final approval of a pending extension
// request *r (already updated to approved in ch): it moves the grant's end
// in the same change. A grant that is no longer active cannot be extended:
// ErrConflict (the request stays pending until it is denied, cancelled or
// times out). If the grant was extended meanwhile so far that this
// extension would take it beyond the tenant's maximum grant duration, or
// policy (asked again with the grant's total as it is now) no longer
// permits it, the change becomes the request's denial by policy instead
// (lock released, audited, reason in decision_reasoning) and refused is
// the error to hand the approver once it is committed. The grant write
// is conditioned on the version read here, so the check holds when the
// change commits (a lost race re-reads and checks again).
func (s *Service) approveExtension(ctx context.Context, c Caller, lp *lazyPolicies, r *Request, ch *Change, reasoning string, now time.Time) (refused error, err error) {
	g, err := s.Repo.GetGrant(ctx, r.TenantID, r.ExtendsGrantID)
	if err != nil {
		return nil, err
	}
	// A grant that is no longer active cannot be extended: the extension
	// is denied now (its lock released, its wait ended), not left pending
	// for every later approver to meet the same 409.
	if g.Status != GrantActive || g.ExpiresAt == nil {
		s.denyExtensionAtApproval(c, r, ch, g, "the grant is "+g.Status, reasoning, now)
		return &StateError{What: "grant", ID: g.ID, Status: g.Status, Want: GrantActive}, nil
	}
	if ended(g, now) {
		s.denyExtensionAtApproval(c, r, ch, g, "the grant ended at "+g.ExpiresAt.UTC().Format(time.RFC3339), reasoning, now)
		return &StateError{What: "grant", ID: g.ID, Status: g.Status, At: g.ExpiresAt}, nil
	}
	ceiling, err := s.maxGrantDuration(ctx, r.TenantID)
	if err != nil {
		return nil, err
	}
	total := totalAfter(g, r.DurationSeconds)
	if total > ceiling {
		lim := &DurationLimitError{TotalSeconds: total, MaxSeconds: ceiling, RequestID: r.ID}
		s.denyExtensionAtApproval(c, r, ch, g, "the grant was extended meanwhile: "+lim.Reason(), reasoning, now)
		return lim, nil
	}
	ps, err := lp.get(ctx)
	if err != nil {
		return nil, err
	}
	dec := ps.Decide(extensionQuestion(requesterOf(*r), g, r.DurationSeconds, total, r.Reason, r.CreatedAt))
	if !dec.Allowed {
		reason := "the grant was extended meanwhile and policy no longer permits this extension: " + dec.Reason
		s.denyExtensionAtApproval(c, r, ch, g, reason, reasoning, now)
		dec.Reason = reason
		return &PolicyDeniedError{Request: *r, Decision: dec}, nil
	}
	old := g.Version
	g = extendGrant(g, r.DurationSeconds, now)
	ch.Grant = &GrantWrite{Grant: g, ExpectStatus: GrantActive, ExpectVersion: old}
	ch.LockRelease = ExtensionLockKey(g.ID)
	ch.Audit = append(ch.Audit, s.extendedEvent(c, g, r.ID, reasoning, r.DurationSeconds, now))
	return nil, nil
}

// denyExtensionAtApproval turns the final approval in ch into the
// request's denial by policy with reason: the approver's review stays in
// the request and is audited, the request is denied and its guard
// released. The grant is not written.
func (s *Service) denyExtensionAtApproval(c Caller, r *Request, ch *Change, g Grant, reason, reasoning string, now time.Time) {
	r.Status, r.DecidedBy, r.DecisionReasoning, r.DecidedAt = StatusDenied, DecidedByPolicy, reason, &now
	ch.LockRelease = ExtensionLockKey(g.ID)
	ch.Messages = []Message{systemMessage(*r, "approved by "+c.ID+", but denied: "+reason, now)}
	md := requestMeta(*r)
	md["approvals"] = len(r.Reviews)
	ch.Audit = []AuditEvent{
		s.event(r.TenantID, c.ID, actorType(c), AuditRequestReviewed, auditResourceRequest, r.ID, reasoning, md, now),
		s.event(r.TenantID, DecidedByPolicy, ActorTypePolicy, AuditRequestDenied, auditResourceRequest, r.ID, reason, requestMeta(*r), now),
	}
}
