package workflow

// The workflow driver (one half of functions/relay-outbox, shared/outbox): the guarantee behind the
// API functions' synchronous Step Functions calls. Every transition
// commits its audit event in the same transaction as the state change, so
// the table's stream is an outbox of committed transitions; the driver
// consumes its audit inserts and performs each one's workflow effect,
// idempotently:
//
//	request.created (pending)             StartExecution {mode: require, approval_timeout_seconds} (from the event)
//	request.approved (auto), .break_glass StartExecution {mode, grant_id} (provisioning)
//	request.approved (after review)       SendTaskSuccess {status: approved, grant_id}
//	request.denied (after review)         SendTaskFailure Denied
//	request.cancelled                     SendTaskFailure Cancelled
//	request.expired                       SendTaskFailure Expired
//
// Idempotent: the execution is named after the request and started with
// the input the API function starts it with (the same bytes, so Step
// Functions treats a repeat on a running execution as the same start, and
// ExecutionAlreadyExists as done); a resume of a task token that was used
// or timed out already (TaskTimedOut, InvalidToken, TaskDoesNotExist)
// counts as done, and so does a resume with no token stored yet
// (StoreTaskToken then finds the request decided and resumes the wait
// itself). Anything else fails the record: Lambda delivers it again
// (ReportBatchItemFailures), in order, until it is done or its retries run
// out (then the on-failure destination, and the approval timeout is the
// last resort). See docs/workflow-effects.md.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// DriverRepo is what the driver reads: a request (for the approval timeout
// of a pending one) and the stored task token.
type DriverRepo interface {
	GetRequest(ctx context.Context, tenantID, id string) (access.Request, error)
	GetTaskToken(ctx context.Context, tenantID, requestID string) (string, error)
}

// DriverActions are the audit actions the driver acts on: its event source
// mapping's filter (template.yaml) lets only these through.
var DriverActions = []string{
	access.AuditRequestCreated, access.AuditRequestApproved, access.AuditRequestBreakGlass,
	access.AuditRequestDenied, access.AuditRequestCancelled, access.AuditRequestExpired,
}

// Driver performs the workflow effect of committed transitions. Repo and
// Workflow are required; Logger defaults to slog.Default.
type Driver struct {
	Repo     DriverRepo
	Workflow access.Workflow
	Logger   *slog.Logger
	// Attempts and Backoff bound the tries of one effect within an
	// invocation before its record is reported failed (defaults 3, 200ms,
	// doubled per attempt; the wait ends with ctx).
	Attempts int
	Backoff  time.Duration
}

func (d *Driver) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// HandleRecord performs one stream record's workflow effect (none for
// records that are not audit inserts of a request transition): one half
// of the outbox consumer (shared/outbox). An error means the record must
// be delivered again.
func (d *Driver) HandleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.EventName != string(lambdaevents.DynamoDBOperationTypeInsert) {
		return nil
	}
	a, ok, err := events.AuditFromStreamImage(rec.Change.NewImage)
	if errors.Is(err, events.ErrMalformed) {
		d.log().ErrorContext(ctx, "workflow driver: undecodable audit record; skipped", "event_id", rec.EventID, "error", err)
		return nil
	}
	if err != nil || !ok {
		return err
	}
	return d.Drive(ctx, a)
}

// Drive performs the workflow effect of one committed audit event (none
// for events that have none), retrying transient failures a few times.
func (d *Driver) Drive(ctx context.Context, a access.AuditEvent) error {
	effect, what := d.effect(a)
	if effect == nil {
		return nil
	}
	attempts, backoff := d.Attempts, d.Backoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(backoff << (i - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(err, ctx.Err())
			case <-t.C:
			}
		}
		if err = effect(ctx); err == nil {
			d.log().InfoContext(ctx, "workflow driver: done", "tenant_id", a.TenantID, "request_id", a.ResourceID, "action", a.Action, "effect", what)
			return nil
		}
		d.log().WarnContext(ctx, "workflow driver: attempt failed", "tenant_id", a.TenantID, "request_id", a.ResourceID,
			"action", a.Action, "effect", what, "attempt", i+1, "error", err)
	}
	return fmt.Errorf("workflow driver: %s of %s: %w", what, a.ResourceID, err)
}

// effect is the workflow effect of a (nil: none).
func (d *Driver) effect(a access.AuditEvent) (func(context.Context) error, string) {
	if a.ResourceType != "request" || a.ResourceID == "" {
		return nil, ""
	}
	mode := metaString(a.Metadata, "approval_mode")
	tenant, id := a.TenantID, a.ResourceID
	switch a.Action {
	case access.AuditRequestCreated:
		if metaString(a.Metadata, "status") != access.StatusPending {
			return nil, ""
		}
		if timeout := events.MetaInt(a.Metadata, "approval_timeout_seconds"); timeout > 0 {
			// The event carries the start input (the API function's at
			// create): no read.
			if mode == "" {
				mode = policy.ModeRequire
			}
			in := access.WorkflowInput{TenantID: tenant, RequestID: id, Mode: mode, ApprovalTimeoutSeconds: timeout}
			return func(ctx context.Context) error { return d.Workflow.Start(ctx, in) }, "start"
		}
		// An event committed before request.created carried the timeout.
		return func(ctx context.Context) error { return d.startPending(ctx, tenant, id) }, "start"
	case access.AuditRequestApproved, access.AuditRequestBreakGlass:
		if mode == policy.ModeAuto || mode == policy.ModeBreakGlass {
			// Approved at create: start the execution, which provisions.
			// (An auto extension is audited as grant.extended: no effect.)
			in := access.WorkflowInput{TenantID: tenant, RequestID: id, GrantID: metaString(a.Metadata, "grant_id"), Mode: mode}
			if in.GrantID == "" {
				return nil, ""
			}
			return func(ctx context.Context) error { return d.Workflow.Start(ctx, in) }, "start"
		}
		if mode != policy.ModeRequire {
			return nil, ""
		}
		// The approval's event is built before the grant id is set: a
		// request's grant id derives from its id; an extension request
		// (extends_grant_id) has none of its own.
		out := access.WorkflowOutcome{Status: access.OutcomeApproved, GrantID: metaString(a.Metadata, "grant_id")}
		if out.GrantID == "" && metaString(a.Metadata, "extends_grant_id") == "" {
			out.GrantID = access.GrantIDFor(id)
		}
		return func(ctx context.Context) error { return d.resume(ctx, tenant, id, out) }, "resume approved"
	case access.AuditRequestDenied:
		if mode != policy.ModeRequire { // denied at create: no execution
			return nil, ""
		}
		return func(ctx context.Context) error {
			return d.resume(ctx, tenant, id, access.WorkflowOutcome{Status: access.OutcomeDenied})
		}, "resume denied"
	case access.AuditRequestCancelled:
		return func(ctx context.Context) error {
			return d.resume(ctx, tenant, id, access.WorkflowOutcome{Status: access.OutcomeCancelled})
		}, "resume cancelled"
	case access.AuditRequestExpired:
		return func(ctx context.Context) error {
			return d.resume(ctx, tenant, id, access.WorkflowOutcome{Status: access.StatusExpired})
		}, "resume expired"
	}
	return nil, ""
}

// startPending starts a pending request's execution with the input the
// API function starts it with (access: workflowInput at create).
func (d *Driver) startPending(ctx context.Context, tenant, id string) error {
	r, err := d.Repo.GetRequest(ctx, tenant, id)
	if errors.Is(err, access.ErrNotFound) {
		d.log().ErrorContext(ctx, "workflow driver: request not found; nothing to start", "tenant_id", tenant, "request_id", id)
		return nil
	}
	if err != nil {
		return err
	}
	mode := r.ApprovalMode
	if mode == "" {
		mode = policy.ModeRequire
	}
	return d.Workflow.Start(ctx, access.WorkflowInput{TenantID: tenant, RequestID: id, Mode: mode, ApprovalTimeoutSeconds: r.ApprovalTimeout})
}

// resume hands out to the request's waiting execution. No token stored:
// done (the execution's StoreTaskToken will find the request decided and
// resume itself). A token no longer waiting: done.
func (d *Driver) resume(ctx context.Context, tenant, id string, out access.WorkflowOutcome) error {
	token, err := d.Repo.GetTaskToken(ctx, tenant, id)
	if err != nil {
		return err
	}
	if token == "" {
		return nil
	}
	err = d.Workflow.Resume(ctx, token, out)
	if errors.Is(err, ErrTaskGone) {
		return nil
	}
	return err
}

func metaString(md map[string]any, k string) string {
	s, _ := md[k].(string)
	return s
}
