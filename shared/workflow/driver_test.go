package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// deadWorkflow is the API function's Step Functions edge when every call
// after the commit is lost (the endpoint refuses, or the function dies).
type deadWorkflow struct{}

func (deadWorkflow) Start(context.Context, access.WorkflowInput) error {
	return errors.New("states: connection refused")
}
func (deadWorkflow) Resume(context.Context, string, access.WorkflowOutcome) error {
	return errors.New("states: connection refused")
}

// drivenWorkflow records the driver's calls; it refuses the first refuse
// calls, and answers a resume of a token in gone as Step Functions does
// for a task no longer waiting.
type drivenWorkflow struct {
	mu      sync.Mutex
	refuse  int
	gone    map[string]bool
	starts  []access.WorkflowInput
	resumes []string // token=status/grant
}

func (w *drivenWorkflow) Start(_ context.Context, in access.WorkflowInput) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuse > 0 {
		w.refuse--
		return errors.New("states: ThrottlingException")
	}
	w.starts = append(w.starts, in)
	return nil
}

func (w *drivenWorkflow) Resume(_ context.Context, token string, out access.WorkflowOutcome) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.refuse > 0 {
		w.refuse--
		return errors.New("states: ThrottlingException")
	}
	if w.gone[token] {
		return fmt.Errorf("%w: TaskTimedOut", workflow.ErrTaskGone)
	}
	w.resumes = append(w.resumes, token+"="+out.Status+"/"+out.GrantID)
	return nil
}

func (w *drivenWorkflow) calls() ([]access.WorkflowInput, []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.starts), slices.Clone(w.resumes)
}

func driverRules(t *testing.T) *policy.PolicySet {
	t.Helper()
	raw := []policy.Rule{
		{ID: "eng-require", Priority: 10, Effect: policy.EffectPermit, ApprovalMode: policy.ModeRequire, ApprovalTimeout: "1h",
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: policy.EntityGroup, PrincipalEntityID: "engineering"},
		{ID: "dev-auto", Priority: 20, Effect: policy.EffectPermit, ApprovalMode: policy.ModeAuto,
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: "222222222222"},
		{ID: "frozen", Priority: 100, Effect: policy.EffectForbid,
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: "999999999999"},
		{ID: "approvers", Priority: 10, Effect: policy.EffectPermit, ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionApproveRequest},
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: policy.EntityGroup, PrincipalEntityID: "approvers"},
	}
	var rules []policy.Rule
	for _, r := range raw {
		r.Enabled, r.Name = true, r.ID
		if r.ActionScopeType == "" {
			r.ActionScopeType, r.ActionIDs = policy.ScopeEq, []string{policy.ActionRequestAccess}
		}
		if r.PrincipalScopeType == "" {
			r.PrincipalScopeType = policy.ScopeAny
		}
		if r.ResourceScopeType == "" {
			r.ResourceScopeType = policy.ScopeAny
		}
		n, err := policy.Normalize(r)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, n)
	}
	ps, err := policy.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestDriverPerformsLostEffects: every call of the API side to Step
// Functions is lost after its commit; the driver, fed by the table's
// (emulated) stream, performs each transition's workflow effect — with
// the very input the API side would have started with — even though Step
// Functions refuses its first calls too.
// readCounter is the store, counting the driver's reads of requests.
type readCounter struct {
	workflow.DriverRepo
	gets atomic.Int64
}

func (r *readCounter) GetRequest(ctx context.Context, tenantID, id string) (access.Request, error) {
	r.gets.Add(1)
	return r.DriverRepo.GetRequest(ctx, tenantID, id)
}

func TestDriverPerformsLostEffects(t *testing.T) {
	ctx := context.Background()
	wf := &drivenWorkflow{refuse: 4, gone: map[string]bool{"tok-timed-out": true}}
	var driver *workflow.Driver
	sink := ddbstream.Lambda(func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		return outbox.New(nil, outbox.Named{Name: "test", Half: driver}).HandleStream(ctx, ev)
	})
	stream := ddbstream.TapWithOptions(dynamolocal.Handler(), sink, slog.New(slog.DiscardHandler),
		ddbstream.Options{Backoff: 10 * time.Millisecond, MaxAttempts: 20})
	srv := httptest.NewServer(stream)
	t.Cleanup(func() { srv.Close(); stream.Close() })
	c := dynamolocal.Client(srv.URL)
	if err := store.CreateTable(ctx, c, "jitsudo"); err != nil {
		t.Fatal(err)
	}
	st := store.New(c, "jitsudo")
	reads := &readCounter{DriverRepo: st}
	driver = &workflow.Driver{Repo: reads, Workflow: wf, Logger: slog.New(slog.DiscardHandler), Backoff: time.Millisecond}
	ps := driverRules(t)
	svc := &access.Service{Repo: st, Workflow: deadWorkflow{}, Provider: workflow.NoProvider{}, Logger: slog.New(slog.DiscardHandler),
		Policies: func(context.Context, string) (*policy.PolicySet, error) { return ps, nil }}
	alice := access.Caller{TenantID: "acme", ID: "alice", Type: "user", Groups: []string{"engineering"}}
	bob := access.Caller{TenantID: "acme", ID: "bob", Type: "user", Groups: []string{"approvers"}}
	in := func(acct string) access.CreateInput {
		return access.CreateInput{Resource: access.Resource{Type: "aws_account", ID: acct}, Reason: "JIRA-1 fix", DurationSeconds: 3600}
	}
	create := func(acct string) access.Request {
		t.Helper()
		res, err := svc.Create(ctx, alice, in(acct), "")
		if err != nil {
			t.Fatalf("create on %s: %v", acct, err)
		}
		return res.Request
	}
	token := func(r access.Request, tok string) {
		t.Helper()
		if _, _, err := st.SetTaskToken(ctx, "acme", r.ID, tok); err != nil {
			t.Fatal(err)
		}
	}

	approved, denied, cancelled, auto := create("111111111111"), create("333333333333"), create("444444444444"), create("222222222222")
	if _, err := svc.Create(ctx, alice, in("999999999999"), ""); err == nil {
		t.Fatal("frozen account not denied")
	}
	late := create("555555555555")
	token(approved, "tok-a")
	token(denied, "tok-d")
	token(cancelled, "tok-c")
	token(late, "tok-timed-out")
	ra, err := svc.Approve(ctx, bob, approved.ID, "ok")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Deny(ctx, bob, denied.ID, "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Cancel(ctx, alice, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ExpireRequest(ctx, "acme", late.ID); err != nil { // its task timed out already
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := stream.Flush(fctx); err != nil {
		t.Fatal(err)
	}

	starts, resumes := wf.calls()
	pending := func(r access.Request) access.WorkflowInput {
		return access.WorkflowInput{TenantID: "acme", RequestID: r.ID, Mode: policy.ModeRequire, ApprovalTimeoutSeconds: 3600}
	}
	want := []access.WorkflowInput{pending(approved), pending(denied), pending(cancelled),
		{TenantID: "acme", RequestID: auto.ID, Mode: policy.ModeAuto, GrantID: auto.GrantID}, pending(late)}
	if !slices.Equal(starts, want) {
		t.Errorf("starts:\n got %+v\nwant %+v", starts, want)
	}
	wantResumes := []string{"tok-a=approved/" + ra.GrantID, "tok-d=denied/", "tok-c=cancelled/"}
	if !slices.Equal(resumes, wantResumes) {
		t.Errorf("resumes:\n got %v\nwant %v", resumes, wantResumes)
	}
	// request.created carries the approval timeout: no start read the request.
	if n := reads.gets.Load(); n != 0 {
		t.Errorf("the driver read %d requests to start their executions, want none", n)
	}
	// An event without it (committed before it was carried) is read for it.
	old := access.AuditEvent{TenantID: "acme", Action: access.AuditRequestCreated, ResourceType: "request", ResourceID: approved.ID,
		Metadata: map[string]any{"status": access.StatusPending, "approval_mode": policy.ModeRequire}}
	if err := driver.Drive(ctx, old); err != nil {
		t.Fatal(err)
	}
	if starts, _ := wf.calls(); reads.gets.Load() != 1 || starts[len(starts)-1] != pending(approved) {
		t.Errorf("start from an event without the timeout: %d reads, started %+v; want 1, %+v", reads.gets.Load(), starts[len(starts)-1], pending(approved))
	}
}
