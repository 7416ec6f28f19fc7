package access

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Extension of a live grant (POST /v1/grants/{id}/extend).
//
// The grantee asks for DurationSeconds more; the tenant's policies decide
// with action extend_grant on the grant's resource, with
// context.duration_seconds = the extension asked for (so a rule bounds
// extensions with a `when { context.duration_seconds <= … }` condition) and
// context.justification. A permit's approval_mode decides how:
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
// grants can be extended; the total duration stays ≤ MaxDurationSeconds
// measured from granted_at.

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
	in.Justification = strings.TrimSpace(in.Justification)
	j, ok := cleanText(in.Justification, MaxReasonChars)
	switch {
	case in.Justification == "":
		errs = append(errs, FieldError{Field: "justification", Message: "is required"})
	case !ok:
		errs = append(errs, FieldError{Field: "justification", Message: fmt.Sprintf("must be at most %d characters of text", MaxReasonChars)})
	default:
		in.Justification = j
	}
	if in.DurationSeconds < MinDurationSeconds || in.DurationSeconds > MaxDurationSeconds {
		errs = append(errs, FieldError{Field: "duration_seconds", Message: fmt.Sprintf("must be from %d to %d (7 days)", MinDurationSeconds, MaxDurationSeconds)})
	}
	if len(errs) > 0 {
		return in, &ValidationError{Fields: errs}
	}
	return in, nil
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
	ps, err := s.policySet(ctx, c.TenantID)
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
		if g.GrantedAt != nil && g.ExpiresAt.Add(time.Duration(in.DurationSeconds)*time.Second).Sub(*g.GrantedAt) > MaxDurationSeconds*time.Second {
			return ExtendResult{}, &ValidationError{Fields: []FieldError{{Field: "duration_seconds", Message: fmt.Sprintf("would make the grant longer than %d seconds (7 days) in total", int64(MaxDurationSeconds))}}}
		}
		now := s.now()
		r := Request{
			ID: newID("req_", now), TenantID: c.TenantID, RequesterID: c.ID, RequesterGroups: c.Groups,
			RequesterEmail: c.Email, Resource: g.Resource, PermissionSetARN: g.PermissionSetARN,
			Action: policy.ActionExtendGrant, Reason: in.Justification, DurationSeconds: in.DurationSeconds,
			BreakGlass: g.BreakGlass, ExtendsGrantID: g.ID, CreatedAt: now, UpdatedAt: now, Version: 1,
		}
		dec := ps.Decide(policy.Request{
			Principal: principalOf(c), Action: policy.ActionExtendGrant,
			Resource:        PolicyResource(g.Resource, g.PermissionSetARN),
			DurationSeconds: in.DurationSeconds, Justification: in.Justification, Now: now,
			Metadata: map[string]any{"grant_id": g.ID},
		})
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
			ch.Audit = []AuditEvent{s.event(c.TenantID, c.ID, actorType(c), AuditRequestCreated, auditResourceRequest, r.ID, r.Reason, requestMeta(r), now)}
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
			if err := s.startWorkflow(ctx, r); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	return ExtendResult{}, fmt.Errorf("%w: grant %s keeps changing", ErrConflict, grantID)
}

// approveExtension completes the final approval of a pending extension
// request r (already updated to approved in ch): it moves the grant's end
// in the same change. A grant that is no longer active cannot be extended:
// ErrConflict (the request stays pending until it is denied, cancelled or
// times out).
func (s *Service) approveExtension(ctx context.Context, c Caller, r Request, ch *Change, reasoning string, now time.Time) error {
	g, err := s.Repo.GetGrant(ctx, r.TenantID, r.ExtendsGrantID)
	if err != nil {
		return err
	}
	if g.Status != GrantActive || g.ExpiresAt == nil {
		return &StateError{What: "grant", ID: g.ID, Status: g.Status, Want: GrantActive}
	}
	old := g.Version
	g = extendGrant(g, r.DurationSeconds, now)
	ch.Grant = &GrantWrite{Grant: g, ExpectStatus: GrantActive, ExpectVersion: old}
	ch.LockRelease = ExtensionLockKey(g.ID)
	ch.Audit = append(ch.Audit, s.extendedEvent(c, g, r.ID, reasoning, r.DurationSeconds, now))
	return nil
}
