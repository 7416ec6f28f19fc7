package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

// Service is what the workers need of *access.Service (the workflow-side
// methods); an interface so the workers can be tested without a table.
type Service interface {
	StoreTaskToken(ctx context.Context, tenantID, requestID, token string) (access.Request, error)
	ExpireRequest(ctx context.Context, tenantID, requestID string) (access.Request, error)
	ProvisionGrant(ctx context.Context, tenantID, grantID string) (access.Grant, error)
	FailGrant(ctx context.Context, tenantID, grantID, reason string) (access.Grant, error)
	ExpireGrant(ctx context.Context, tenantID, grantID string) (access.Grant, error)
	LoadGrant(ctx context.Context, tenantID, grantID string) (access.Grant, error)
	RecordRevokeFailure(ctx context.Context, tenantID, grantID, reason string) (access.Grant, error)
	RecordWorkflowFailure(ctx context.Context, tenantID, resourceType, id, step, reason string) error
}

// TaskInput is what the state machine sends every worker (the Lambda
// payload): the ids, plus the callback token for StoreTaskToken and the
// error that ended provisioning for FailGrant.
type TaskInput struct {
	TenantID  string `json:"tenant_id"`
	RequestID string `json:"request_id"`
	GrantID   string `json:"grant_id,omitempty"`
	TaskToken string `json:"task_token,omitempty"`
	Error     string `json:"error,omitempty"` // States Language error name (FailGrant)
	Cause     string `json:"cause,omitempty"` // its cause (FailGrant)
	// Step is the state whose failure RecordFailure records:
	// approval_wait, approval_timeout, fail_grant or expire_grant.
	Step string `json:"step,omitempty"`
}

// Decision is a request's outcome as the state machine reads it: the
// SendTaskSuccess output of an approval, and the ApprovalTimeoutWorker's
// result. Both fields are always present (the state machine's
// ResultSelector and Choice read them).
type Decision struct {
	Status  string `json:"status"`
	GrantID string `json:"grant_id"`
}

// GrantRef is the part of a grant the state machine reads.
type GrantRef struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// ExpiresAt (RFC 3339, UTC) is when WaitUntilExpiry ends. Always set:
	// a grant without an end (not active) gets the current time, so the
	// execution goes straight on to the idempotent ExpireGrant.
	ExpiresAt string `json:"expires_at"`
	// NotifyAt (RFC 3339, UTC) is when WaitUntilNotice ends: the grant's
	// end minus the expiring-soon lead, or ExpiresAt when the grant is
	// not active or not longer than the lead (no notice).
	NotifyAt string `json:"notify_at"`
}

// GrantOutput is the result of the grant workers.
type GrantOutput struct {
	Grant GrantRef `json:"grant"`
}

// Retryable is the error a worker returns for a transient failure (the
// service's access.ErrRetryable or ErrConflict, a deadline). aws-lambda-go reports a
// returned error's type name as the Lambda errorType, so the state machine
// sees the error "Retryable" and its Retry fields match it. Return it
// unwrapped: a wrapper would change the errorType.
type Retryable struct{ Err error }

func (e *Retryable) Error() string { return e.Err.Error() }
func (e *Retryable) Unwrap() error { return e.Err }

// Permanent is the error a worker returns for anything else (not found,
// conflict, invalid input); errorType "Permanent", which no Retry matches.
type Permanent struct{ Err error }

func (e *Permanent) Error() string { return e.Err.Error() }
func (e *Permanent) Unwrap() error { return e.Err }

// classify turns a service error into the worker's Lambda error.
func classify(err error) error {
	if err == nil {
		return nil
	}
	// Conflict: the state kept moving under the service's own retries;
	// every workflow step is idempotent, so trying again later is safe.
	if errors.Is(err, access.ErrRetryable) || errors.Is(err, access.ErrConflict) || errors.Is(err, context.DeadlineExceeded) {
		return &Retryable{Err: err}
	}
	var r *Retryable
	var p *Permanent
	if errors.As(err, &r) || errors.As(err, &p) {
		return err
	}
	return &Permanent{Err: err}
}

// Workers are the Lambda handlers the state machine's Task states invoke.
type Workers struct {
	Service  Service
	Workflow access.Workflow
	Logger   *slog.Logger
	// Now is the clock for GrantRef.ExpiresAt of grants without an end
	// (default time.Now).
	Now func() time.Time
	// Events publishes grant.expiring_soon (NotifyExpiringSoon); nil: the
	// notice is only logged.
	Events EventPublisher
	// Links makes the notice's API links (nil: none).
	Links events.LinkBuilder
	// NoticeLead is how long before a grant's end grant.expiring_soon is
	// published (0: DefaultNoticeLead).
	NoticeLead time.Duration
}

// EventPublisher publishes one notification event (snspub.Publisher).
type EventPublisher interface {
	Publish(ctx context.Context, ev events.Event) error
}

// DefaultNoticeLead is the default expiring-soon lead (NOTICE_LEAD).
const DefaultNoticeLead = 15 * time.Minute

func (w *Workers) lead() time.Duration {
	if w.NoticeLead > 0 {
		return w.NoticeLead
	}
	return DefaultNoticeLead
}

func (w *Workers) log(in TaskInput) *slog.Logger {
	l := w.Logger
	if l == nil {
		l = slog.Default()
	}
	l = l.With("tenant_id", in.TenantID, "request_id", in.RequestID)
	if in.GrantID != "" {
		l = l.With("grant_id", in.GrantID)
	}
	return l
}

func (w *Workers) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func need(fields map[string]string) error {
	var missing []string
	for _, k := range []string{"tenant_id", "request_id", "grant_id", "task_token"} {
		if v, ok := fields[k]; ok && v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return &Permanent{Err: fmt.Errorf("workflow: task input lacks %s", strings.Join(missing, ", "))}
	}
	return nil
}

// StoreTaskToken is the approval wait's task: it stores the callback token
// on the pending request. A request decided before the token was stored
// (the decision found no token to resume) is resumed here, with its
// outcome. Its result is not used by the state machine (the wait ends with
// SendTaskSuccess/SendTaskFailure).
func (w *Workers) StoreTaskToken(ctx context.Context, in TaskInput) (Decision, error) {
	log := w.log(in)
	if err := need(map[string]string{"tenant_id": in.TenantID, "request_id": in.RequestID, "task_token": in.TaskToken}); err != nil {
		return Decision{}, err
	}
	r, err := w.Service.StoreTaskToken(ctx, in.TenantID, in.RequestID, in.TaskToken)
	if err != nil {
		log.ErrorContext(ctx, "store task token failed", "error", err.Error())
		return Decision{}, classify(err)
	}
	d := Decision{Status: r.Status, GrantID: r.GrantID}
	if r.Status == access.StatusPending {
		log.InfoContext(ctx, "task token stored, waiting for a decision")
		return d, nil
	}
	// Decided before the wait began: resume it ourselves.
	out := access.WorkflowOutcome{Status: r.Status, GrantID: r.GrantID}
	switch r.Status {
	case access.StatusApproved, access.StatusDenied, access.StatusCancelled, access.StatusExpired:
	default:
		return d, &Permanent{Err: fmt.Errorf("workflow: request %s has unknown status %q", r.ID, r.Status)}
	}
	if err := w.Workflow.Resume(ctx, in.TaskToken, out); err != nil {
		if errors.Is(err, ErrTaskGone) {
			log.WarnContext(ctx, "request decided before the wait; the wait is gone already", "status", r.Status, "error", err.Error())
			return d, nil
		}
		log.ErrorContext(ctx, "resume of an already decided request failed", "status", r.Status, "error", err.Error())
		return d, &Retryable{Err: err}
	}
	log.InfoContext(ctx, "request was decided before the wait; resumed", "status", r.Status)
	return d, nil
}

// ApprovalTimeout is the ApprovalTimeoutWorker: the approval wait timed
// out, so the request is expired if still pending. It returns the
// request's status and grant id; the state machine provisions when a
// decision won the race and the request is approved.
func (w *Workers) ApprovalTimeout(ctx context.Context, in TaskInput) (Decision, error) {
	log := w.log(in)
	if err := need(map[string]string{"tenant_id": in.TenantID, "request_id": in.RequestID}); err != nil {
		return Decision{}, err
	}
	r, err := w.Service.ExpireRequest(ctx, in.TenantID, in.RequestID)
	if err != nil {
		log.ErrorContext(ctx, "expire request failed", "error", err.Error())
		return Decision{}, classify(err)
	}
	d := Decision{Status: r.Status, GrantID: r.GrantID}
	if r.Status == access.StatusExpired {
		log.InfoContext(ctx, "approval timed out; request expired")
	} else {
		log.InfoContext(ctx, "approval timed out after a decision", "status", r.Status, "grant_id", r.GrantID)
	}
	return d, nil
}

// ceilSecond rounds t up to a whole second, in RFC 3339 UTC: what the Wait
// states' TimestampPath reads (a wait must never end before its time).
func ceilSecond(t time.Time) string {
	if s := t.Truncate(time.Second); s.Before(t) {
		t = s.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}

func (w *Workers) grantOutput(g access.Grant) GrantOutput {
	end := w.now()
	if g.ExpiresAt != nil && (g.Status == access.GrantActive || g.Status == access.GrantExpired) {
		end = *g.ExpiresAt
	}
	notify := end
	if g.Status == access.GrantActive && g.ExpiresAt != nil && g.GrantedAt != nil {
		if n := g.ExpiresAt.Add(-w.lead()); n.After(*g.GrantedAt) {
			notify = n
		}
	}
	return GrantOutput{Grant: GrantRef{ID: g.ID, Status: g.Status, ExpiresAt: ceilSecond(end), NotifyAt: ceilSecond(notify)}}
}

// ProvisionGrant provisions the grant (provisioning → active) and returns
// it with its end. Transient failures are Retryable (the state machine
// retries with backoff); others end provisioning (FailGrant).
func (w *Workers) ProvisionGrant(ctx context.Context, in TaskInput) (GrantOutput, error) {
	log := w.log(in)
	if err := need(map[string]string{"tenant_id": in.TenantID, "grant_id": in.GrantID}); err != nil {
		return GrantOutput{}, err
	}
	g, err := w.Service.ProvisionGrant(ctx, in.TenantID, in.GrantID)
	if err != nil {
		err = classify(err)
		log.ErrorContext(ctx, "provision grant failed", "error", err.Error(), "retryable", isRetryable(err))
		return GrantOutput{}, err
	}
	if g.Status == access.GrantActive && g.ExpiresAt == nil {
		err := &Permanent{Err: fmt.Errorf("workflow: grant %s is active without expires_at", g.ID)}
		log.ErrorContext(ctx, "provision grant failed", "error", err.Error())
		return GrantOutput{}, err
	}
	out := w.grantOutput(g)
	log.InfoContext(ctx, "grant provisioned", "status", g.Status, "expires_at", out.Grant.ExpiresAt)
	return out, nil
}

// FailGrant marks the grant failed (provisioning → failed) with the error
// that ended provisioning.
func (w *Workers) FailGrant(ctx context.Context, in TaskInput) (GrantOutput, error) {
	log := w.log(in)
	if err := need(map[string]string{"tenant_id": in.TenantID, "grant_id": in.GrantID}); err != nil {
		return GrantOutput{}, err
	}
	reason := FailureReason(in.Error, in.Cause)
	g, err := w.Service.FailGrant(ctx, in.TenantID, in.GrantID, reason)
	if err != nil {
		log.ErrorContext(ctx, "fail grant failed", "error", err.Error())
		return GrantOutput{}, classify(err)
	}
	log.WarnContext(ctx, "grant provisioning failed", "status", g.Status, "reason", reason)
	return w.grantOutput(g), nil
}

// ExpireGrant is the scheduled revoke at the grant's end; idempotent (a
// grant revoked early, or expired already, is returned unchanged).
func (w *Workers) ExpireGrant(ctx context.Context, in TaskInput) (GrantOutput, error) {
	log := w.log(in)
	if err := need(map[string]string{"tenant_id": in.TenantID, "grant_id": in.GrantID}); err != nil {
		return GrantOutput{}, err
	}
	g, err := w.Service.ExpireGrant(ctx, in.TenantID, in.GrantID)
	if err != nil {
		log.ErrorContext(ctx, "expire grant failed", "error", err.Error())
		return GrantOutput{}, classify(err)
	}
	log.InfoContext(ctx, "grant expired", "status", g.Status)
	return w.grantOutput(g), nil
}

// noticeSkew: a notice is due this much before its time (the Wait state
// ends on whole seconds, the clocks of Step Functions and Lambda differ).
const noticeSkew = time.Second

// NotifyExpiringSoon publishes grant.expiring_soon when the grant is active
// and within the lead of its end (and the grant is longer than the lead).
// It returns the grant re-read: when the grant was extended before its
// notice was due, ExpiresAt is the new notice time, so the execution comes
// back through ExpireGrant (a no-op before the end) to WaitUntilNotice. A
// failed publish is Retryable; the state machine moves on to the expiry
// wait when the retries are spent (a lost notice must not keep access).
func (w *Workers) NotifyExpiringSoon(ctx context.Context, in TaskInput) (GrantOutput, error) {
	log := w.log(in)
	if err := need(map[string]string{"tenant_id": in.TenantID, "grant_id": in.GrantID}); err != nil {
		return GrantOutput{}, err
	}
	g, err := w.Service.LoadGrant(ctx, in.TenantID, in.GrantID)
	if err != nil {
		log.ErrorContext(ctx, "load grant failed", "error", err.Error())
		return GrantOutput{}, classify(err)
	}
	out := w.grantOutput(g)
	if g.Status != access.GrantActive || g.ExpiresAt == nil {
		return out, nil
	}
	now := w.now()
	noticeAt := g.ExpiresAt.Add(-w.lead())
	if now.Add(noticeSkew).Before(noticeAt) {
		out.Grant.ExpiresAt = out.Grant.NotifyAt // extended: come back for the new notice
		log.InfoContext(ctx, "grant extended; notice rescheduled", "notify_at", out.Grant.NotifyAt)
		return out, nil
	}
	if g.GrantedAt != nil && !noticeAt.After(*g.GrantedAt) || !now.Before(*g.ExpiresAt) {
		return out, nil // shorter than the lead, or over already: no notice
	}
	ev := events.ExpiringSoon(g, w.Links, now)
	if w.Events == nil {
		log.InfoContext(ctx, "grant expiring soon (no publisher configured)", "expires_at", out.Grant.ExpiresAt)
		return out, nil
	}
	if err := w.Events.Publish(ctx, ev); err != nil {
		log.ErrorContext(ctx, "publish grant.expiring_soon failed", "error", err.Error())
		return GrantOutput{}, &Retryable{Err: err}
	}
	log.InfoContext(ctx, "grant.expiring_soon published", "event_id", ev.ID, "expires_at", out.Grant.ExpiresAt)
	return out, nil
}

// maxReasonLen bounds the failure reason stored on the grant.
const maxReasonLen = 500

// FailureReason is a short, readable reason from a States Language error
// and cause: a Lambda error's cause is its JSON payload, of which the
// errorMessage is kept.
func FailureReason(errName, cause string) string {
	msg := strings.TrimSpace(cause)
	var payload struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(msg), &payload) == nil && payload.ErrorMessage != "" {
		msg = payload.ErrorMessage
	}
	reason := strings.TrimSpace(errName)
	switch {
	case reason == "" && msg == "":
		reason = "provisioning failed"
	case reason == "":
		reason = msg
	case msg != "":
		reason += ": " + msg
	}
	if len(reason) > maxReasonLen {
		reason = strings.ToValidUTF8(reason[:maxReasonLen], "") + "…"
	}
	return reason
}

func isRetryable(err error) bool {
	var r *Retryable
	return errors.As(err, &r)
}

// Handler names (routes.Workers) → the worker method, as raw-JSON Lambda
// handlers, for local stacks and tests (LambdaInvokeHandler).
func (w *Workers) Handlers() map[string]func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return map[string]func(context.Context, json.RawMessage) (json.RawMessage, error){
		FnStoreTaskToken:  raw(w.StoreTaskToken),
		FnApprovalTimeout: raw(w.ApprovalTimeout),
		FnProvisionGrant:  raw(w.ProvisionGrant),
		FnFailGrant:       raw(w.FailGrant),
		FnExpireGrant:     raw(w.ExpireGrant),
		FnNotifyExpiring:  raw(w.NotifyExpiringSoon),
		FnRecordFailure:   raw(w.RecordFailure),
	}
}

// Function directories of the workers (routes.Workers).
const (
	FnStoreTaskToken  = "store-task-token"
	FnApprovalTimeout = "approval-timeout-worker"
	FnProvisionGrant  = "provision-grant"
	FnFailGrant       = "fail-grant"
	FnExpireGrant     = "expire-grant"
	FnNotifyExpiring  = "notify-expiring"
	FnRecordFailure   = "record-failure"
)

// raw adapts a typed worker to raw JSON like lambda.Start does (the input
// is decoded leniently, as aws-lambda-go's json.Unmarshal does).
func raw[O any](fn func(context.Context, TaskInput) (O, error)) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		var in TaskInput
		if err := json.Unmarshal(payload, &in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}
