package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// Steps whose failure RecordFailure records (TaskInput.Step).
const (
	StepApprovalWait    = "approval_wait"
	StepApprovalTimeout = "approval_timeout"
	StepFailGrant       = "fail_grant"
	StepExpireGrant     = "expire_grant"
)

// FailureOutput is RecordFailure's result (the state machine ends failed
// after it, so nothing reads it but the execution history).
type FailureOutput struct {
	Step   string `json:"step"`
	Status string `json:"status,omitempty"` // the grant's, after expire_grant
	Reason string `json:"reason"`
}

// RecordFailure is the way out of every workflow step that failed for
// good (a permanent error, a worker timeout or crash once its bounded
// retries are spent): the state machine's Catch routes here, then ends
// the execution failed (ExecutionsFailed alarm).
//
//   - expire_grant: the revoke at the grant's end failed: the grant moves
//     to revoke_failed with the reason (audited; RevokeFailures metric),
//     and the sweeper retries the revoke with back-off until it ends
//     expired.
//   - approval_wait, approval_timeout, fail_grant: audited as workflow.step_failed on
//     the request or grant with the reason; the request stays pending (or
//     the grant provisioning) in the sweeper's index, and the sweeper
//     expires (or fails) it once it is overdue.
func (w *Workers) RecordFailure(ctx context.Context, in TaskInput) (FailureOutput, error) {
	log := w.log(in)
	reason := FailureReason(in.Error, in.Cause)
	out := FailureOutput{Step: in.Step, Reason: reason}
	switch in.Step {
	case StepExpireGrant:
		if err := need(map[string]string{"tenant_id": in.TenantID, "grant_id": in.GrantID}); err != nil {
			return out, err
		}
		g, err := w.Service.RecordRevokeFailure(ctx, in.TenantID, in.GrantID, reason)
		if err != nil {
			log.ErrorContext(ctx, "record revoke failure failed", "error", err.Error())
			return out, classify(err)
		}
		out.Status = g.Status
		if g.Status == access.GrantRevokeFailed {
			EmitMetrics(ctx, w.Logger, map[string]float64{MetricRevokeFailures: 1})
		}
		log.ErrorContext(ctx, "revoke at the grant's end failed; the sweeper retries it", "status", g.Status, "reason", reason)
		return out, nil
	case StepApprovalWait, StepApprovalTimeout, StepFailGrant:
		resType, id := "grant", in.GrantID
		if in.Step != StepFailGrant {
			resType, id = "request", in.RequestID
		}
		if err := need(map[string]string{"tenant_id": in.TenantID, "request_id": in.RequestID}); err != nil {
			return out, err
		}
		if id == "" {
			return out, &Permanent{Err: fmt.Errorf("workflow: record failure of %s lacks the %s id", in.Step, resType)}
		}
		if err := w.Service.RecordWorkflowFailure(ctx, in.TenantID, resType, id, in.Step, reason); err != nil {
			log.ErrorContext(ctx, "record workflow failure failed", "error", err.Error())
			return out, classify(err)
		}
		EmitMetrics(ctx, w.Logger, map[string]float64{MetricStepFailures: 1})
		log.ErrorContext(ctx, "workflow step failed; the sweeper finishes it", "step", in.Step, "reason", reason)
		return out, nil
	}
	return out, &Permanent{Err: fmt.Errorf("workflow: unknown failed step %q", in.Step)}
}

// Custom metrics (CloudWatch embedded metric format, namespace
// MetricNamespace) the alarms of template.yaml watch.
const (
	MetricNamespace = "jitsudo"
	// MetricRevokeFailures counts revokes at a grant's end that failed
	// (the workflow's, and each of the sweeper's retries).
	MetricRevokeFailures = "RevokeFailures"
	// MetricStepFailures counts workflow steps that failed for good.
	MetricStepFailures = "WorkflowStepFailures"
	// MetricSweeperFindings counts overdue items the sweeper found: work
	// the workflow should have done.
	MetricSweeperFindings = "SweeperFindings"
)

// EmitMetrics writes one CloudWatch embedded-metric-format log line
// (Lambda's log stream turns it into metrics; no API call, no
// permission): namespace MetricNamespace, no dimensions, unit Count.
func EmitMetrics(ctx context.Context, logger *slog.Logger, values map[string]float64) {
	if logger == nil {
		logger = slog.Default()
	}
	var defs []map[string]string
	attrs := []any{}
	for name, v := range values {
		defs = append(defs, map[string]string{"Name": name, "Unit": "Count"})
		attrs = append(attrs, slog.Float64(name, v))
	}
	emf := map[string]any{
		"Timestamp": time.Now().UnixMilli(),
		"CloudWatchMetrics": []map[string]any{{
			"Namespace": MetricNamespace, "Dimensions": [][]string{{}}, "Metrics": defs,
		}},
	}
	logger.InfoContext(ctx, "metrics", append(attrs, slog.Any("_aws", emf))...)
}
