package access

import (
	"errors"
	"fmt"
	"github.com/jitsudo/jitsudo-serverless/shared/validation"
	"strconv"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Errors of the Service. Test them with errors.Is / errors.As.
var (
	ErrNotFound = errors.New("access: not found")
	// ErrConflict: the state does not allow the transition (the loser of a
	// race, or a transition from a state that does not allow it); a
	// *StateError says what the state is now. An API 409.
	ErrConflict = errors.New("access: conflict")
	// ErrForbidden: the caller may not do this (policy or role). An API 403.
	ErrForbidden = errors.New("access: forbidden")
	// ErrSelfApproval: a requester tried to review their own request (by
	// any of their identity keys, person.go).
	ErrSelfApproval = errors.New("access: self-approval is not allowed")
	// ErrAlreadyReviewed: the same reviewer (the same person, person.go)
	// reviewed this request already.
	ErrAlreadyReviewed = errors.New("access: already reviewed by this reviewer")
	// ErrEmailUnverified: the tenant maps people to their provider user by
	// email and the caller's token has no verified email. An API 403.
	ErrEmailUnverified = errors.New("access: this tenant maps people to Identity Center users by email, and the caller's email is not verified")
	// ErrIdempotencyMismatch: an Idempotency-Key reused with another body.
	ErrIdempotencyMismatch = errors.New("access: idempotency key reused with a different request")
	// ErrRetryable: a transient failure of the provider (throttling, an
	// assignment still in progress); the same call may be retried. An API
	// 503 (revoke-grant); the workers' Retry and the sweeper retry it.
	ErrRetryable = errors.New("access: transient failure, retry")
)

// PolicyDeniedError: the tenant's policy denied the request. The denied
// request is stored (Request) and audited.
type PolicyDeniedError struct {
	Request  Request
	Decision policy.Decision
}

func (e *PolicyDeniedError) Error() string {
	return "access: denied by policy: " + e.Decision.Reason
}

// DurationLimitError: the grant would last longer in total (its end minus
// its start) than the tenant allows: max_grant_duration_seconds of its
// settings, MaxDurationSeconds (7 days) when unset. Nothing was granted or
// extended. RequestID is set when a pending extension was denied for it at
// its final approval (the grant was extended meanwhile). An API 403
// duration_limit.
type DurationLimitError struct {
	TotalSeconds int64 // the grant's total duration had it gone through
	MaxSeconds   int64 // the tenant's maximum
	RequestID    string
}

func (e *DurationLimitError) Error() string { return "access: " + e.Reason() }

// Reason says what was refused, for people.
func (e *DurationLimitError) Reason() string {
	return fmt.Sprintf("the grant would last %s (%d seconds) in total, beyond the tenant's maximum grant duration of %s (%d seconds)",
		time.Duration(e.TotalSeconds)*time.Second, e.TotalSeconds, time.Duration(e.MaxSeconds)*time.Second, e.MaxSeconds)
}

// StateError: a transition refused because of the item's current state
// (a request no longer pending, a grant that ended). It wraps ErrConflict.
type StateError struct {
	What   string // "request", "grant"
	ID     string
	Status string // the status it has now
	// Want, if set, is the status the transition needs ("active").
	Want string
	// At, if set, is when the item's time ran out: the request's approval
	// deadline (Status expired), the grant's end (a grant past its end,
	// whatever its stored status).
	At *time.Time
	// By and ChangedAt, if set, say who moved it to Status and when (a
	// request's decider: a reviewer, "policy", "approval_timeout"; a
	// grant's revoker).
	By        string
	ChangedAt *time.Time
}

// requestState is the StateError of a request no longer pending: what it
// is, who decided it and when.
func requestState(r Request) *StateError {
	return &StateError{What: "request", ID: r.ID, Status: r.Status, By: r.DecidedBy, ChangedAt: r.DecidedAt}
}

func (e *StateError) Error() string {
	msg := "access: " + e.What + " " + ClipID(e.ID) + " is " + e.Status
	if e.By != "" {
		msg += " (by " + e.By + ")"
	}
	if e.Want != "" {
		msg += ", not " + e.Want
	}
	if e.At != nil {
		msg += ", its time ran out at " + e.At.UTC().Format(time.RFC3339)
	}
	return msg
}

// Unwrap makes a StateError an ErrConflict.
func (e *StateError) Unwrap() error { return ErrConflict }

// RequesterReason is the reason of a decision as its requester may read
// it: an evaluation error names the failing rules, not the error's text
// (Decision.Errors, for admins, the audit log and the dry run).
func RequesterReason(d policy.Decision) string {
	if len(d.Errors) == 0 {
		return d.Reason
	}
	ids := make([]string, len(d.DecidingRuleIDs))
	for i, id := range d.DecidingRuleIDs {
		ids[i] = strconv.Quote(ClipID(id))
	}
	return "denied: rule " + strings.Join(ids, ", ") + " could not be evaluated (an admin can see why in the policy dry run)"
}

// DuplicateError: the requester already has a pending request (RequestID)
// or a live grant (GrantID, with its RequestID) for the same target.
type DuplicateError struct {
	RequestID string
	GrantID   string
}

func (e *DuplicateError) Error() string {
	if e.GrantID != "" {
		return "access: a live grant exists for this target: " + e.GrantID
	}
	return "access: a pending request exists for this target: " + e.RequestID
}

// FieldError is one invalid input field ("resource.id", "reason").
type FieldError = validation.FieldError

// ValidationError lists every invalid field of an input. An API 400.
type ValidationError = validation.Error
