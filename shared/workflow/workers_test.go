package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// The errorType Step Functions sees is what the state machine's Retry
// matches: "Retryable" exactly.
func TestClassifyErrorTypes(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("throttled: %w", access.ErrRetryable), "Retryable"},
		{fmt.Errorf("keeps changing: %w", access.ErrConflict), "Retryable"},
		{context.DeadlineExceeded, "Retryable"},
		{fmt.Errorf("x: %w", access.ErrNotFound), "Permanent"},
		{errors.New("boom"), "Permanent"},
		{&Retryable{Err: errors.New("already")}, "Retryable"},
	}
	for _, c := range cases {
		if got := stepfunctions.ErrorType(classify(c.err)); got != c.want {
			t.Errorf("classify(%v): errorType %q, want %q", c.err, got, c.want)
		}
	}
	if classify(nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}

func TestFailureReason(t *testing.T) {
	cases := []struct{ errName, cause, want string }{
		{"Permanent", `{"errorType":"Permanent","errorMessage":"no such permission set"}`, "Permanent: no such permission set"},
		{"States.Timeout", "", "States.Timeout"},
		{"", "plain cause", "plain cause"},
		{"", "", "provisioning failed"},
	}
	for _, c := range cases {
		if got := FailureReason(c.errName, c.cause); got != c.want {
			t.Errorf("FailureReason(%q, %q) = %q, want %q", c.errName, c.cause, got, c.want)
		}
	}
	if got := FailureReason("E", strings.Repeat("x", 2000)); len(got) > maxReasonLen+len("…") {
		t.Errorf("reason not bounded: %d bytes", len(got))
	}
}

func TestWorkersRejectIncompleteInput(t *testing.T) {
	w := &Workers{}
	ctx := context.Background()
	if _, err := w.StoreTaskToken(ctx, TaskInput{TenantID: "acme", RequestID: "r"}); stepfunctions.ErrorType(err) != "Permanent" {
		t.Errorf("store without token: %v", err)
	}
	if _, err := w.ProvisionGrant(ctx, TaskInput{TenantID: "acme", RequestID: "r"}); stepfunctions.ErrorType(err) != "Permanent" {
		t.Errorf("provision without grant: %v", err)
	}
	if _, err := w.ApprovalTimeout(ctx, TaskInput{RequestID: "r"}); stepfunctions.ErrorType(err) != "Permanent" {
		t.Errorf("timeout without tenant: %v", err)
	}
}
