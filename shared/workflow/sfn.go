package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// ErrTaskGone: the task token no longer belongs to a waiting task (Step
// Functions answered TaskTimedOut, TaskDoesNotExist or InvalidToken). For
// an approval decision this means the approval timeout already took over:
// the ApprovalTimeoutWorker reads the request, finds it decided and routes
// the execution accordingly, so the decision is not lost.
var ErrTaskGone = errors.New("workflow: the task is no longer waiting (the approval timeout took over)")

// Error names the execution fails the approval wait with (SendTaskFailure),
// caught by the state machine's WaitForApproval state.
const (
	ErrorDenied    = "Denied"
	ErrorCancelled = "Cancelled"
	ErrorExpired   = "Expired"
)

// SFN is access.Workflow over AWS Step Functions (or the local shim).
type SFN struct {
	client          *sfn.Client
	stateMachineARN string
}

var _ access.Workflow = (*SFN)(nil)

// New returns the workflow of the state machine stateMachineARN.
func New(client *sfn.Client, stateMachineARN string) *SFN {
	return &SFN{client: client, stateMachineARN: stateMachineARN}
}

// StateMachineARN is the state machine executions are started on.
func (w *SFN) StateMachineARN() string { return w.stateMachineARN }

// Start starts the request's execution, named after the request id. An
// execution of that name that exists already (ExecutionAlreadyExists, or
// AWS's idempotent answer for a running one with the same input) is
// success: the request's workflow is running or ran.
func (w *SFN) Start(ctx context.Context, in access.WorkflowInput) error {
	if in.TenantID == "" || in.RequestID == "" || in.Mode == "" {
		return fmt.Errorf("workflow: start: tenant_id, request_id and mode are required (got %+v)", in)
	}
	input, err := json.Marshal(in)
	if err != nil {
		return err
	}
	_, err = w.client.StartExecution(ctx, &sfn.StartExecutionInput{
		StateMachineArn: aws.String(w.stateMachineARN),
		Name:            aws.String(in.RequestID),
		Input:           aws.String(string(input)),
	})
	var exists *types.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("workflow: start execution %s: %w", in.RequestID, err)
	}
	return nil
}

// Resume completes the approval wait: approved → SendTaskSuccess with
// {status, grant_id}; denied / cancelled (and expired) → SendTaskFailure
// with the error Denied / Cancelled (Expired). A token that no longer
// belongs to a waiting task → an error wrapping ErrTaskGone.
func (w *SFN) Resume(ctx context.Context, taskToken string, out access.WorkflowOutcome) error {
	if taskToken == "" {
		return fmt.Errorf("%w: empty task token", ErrTaskGone)
	}
	var err error
	switch out.Status {
	case access.OutcomeApproved:
		// grant_id is empty for an approved extension request: its
		// approval moved the end of the grant it extends, and the
		// execution closes (ApprovedMeanwhile).
		output, merr := json.Marshal(Decision{Status: out.Status, GrantID: out.GrantID})
		if merr != nil {
			return merr
		}
		_, err = w.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(taskToken), Output: aws.String(string(output))})
	case access.OutcomeDenied, access.OutcomeCancelled, access.StatusExpired:
		name := map[string]string{access.OutcomeDenied: ErrorDenied, access.OutcomeCancelled: ErrorCancelled, access.StatusExpired: ErrorExpired}[out.Status]
		_, err = w.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{
			TaskToken: aws.String(taskToken),
			Error:     aws.String(name),
			Cause:     aws.String("the request was " + out.Status),
		})
	default:
		return fmt.Errorf("workflow: resume: unknown outcome %q", out.Status)
	}
	if err == nil {
		return nil
	}
	var (
		timedOut *types.TaskTimedOut
		missing  *types.TaskDoesNotExist
		invalid  *types.InvalidToken
	)
	if errors.As(err, &timedOut) || errors.As(err, &missing) || errors.As(err, &invalid) {
		return fmt.Errorf("%w: %w", ErrTaskGone, err)
	}
	return fmt.Errorf("workflow: resume (%s): %w", out.Status, err)
}
