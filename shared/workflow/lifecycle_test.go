package workflow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/infra/testparallel"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// fakeService is a tiny in-memory request/grant lifecycle with the
// workflow-side methods of access.Service. It records every call.
type fakeService struct {
	mu       sync.Mutex
	requests map[string]*access.Request
	grants   map[string]*access.Grant
	calls    map[string][]string // request id → worker calls in order
	// provisionErrs are returned by ProvisionGrant, one per call, before it
	// succeeds.
	provisionErrs map[string][]error
	// expireErrs are returned by ExpireGrant, one per call.
	expireErrs map[string][]error
	// crashes: how many provision-grant invocations of a grant time out
	// after doing their work.
	crashes map[string]int
	// provisioned counts the provisioning side effects per grant.
	provisioned map[string]int
	// grantLife is how long a provisioned grant lives.
	grantLife time.Duration
	now       func() time.Time
}

func newFakeService() *fakeService {
	return &fakeService{
		requests: map[string]*access.Request{}, grants: map[string]*access.Grant{},
		calls: map[string][]string{}, provisionErrs: map[string][]error{}, expireErrs: map[string][]error{}, crashes: map[string]int{}, provisioned: map[string]int{},
		grantLife: 4 * time.Second, now: time.Now,
	}
}

func (f *fakeService) record(requestID, call string) {
	f.calls[requestID] = append(f.calls[requestID], call)
}

func (f *fakeService) Calls(requestID string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls[requestID])
}

func (f *fakeService) Request(id string) access.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.requests[id]
}

func (f *fakeService) Grant(id string) access.Grant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.grants[id]
}

// add creates a request (pending for require, approved with a provisioning
// grant otherwise) and returns the workflow input.
func (f *fakeService) add(tenant, id, mode string, timeout int64) access.WorkflowInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &access.Request{ID: id, TenantID: tenant, Status: access.StatusPending, ApprovalMode: mode, ApprovalTimeout: timeout}
	in := access.WorkflowInput{TenantID: tenant, RequestID: id, Mode: mode}
	if mode == "require" {
		in.ApprovalTimeoutSeconds = timeout
	} else {
		r.Status = access.StatusApproved
		r.GrantID = "g-" + id
		f.grants[r.GrantID] = &access.Grant{ID: r.GrantID, TenantID: tenant, RequestID: id, Status: access.GrantProvisioning}
		in.GrantID = r.GrantID
	}
	f.requests[id] = r
	return in
}

// decide is a reviewer's decision: like access.Service, it commits first
// and then resumes the waiting execution when a token was stored (resume
// false: the resume is lost, as when Step Functions could not be reached).
func (f *fakeService) decide(ctx context.Context, wf access.Workflow, id, status string, resume bool) error {
	f.mu.Lock()
	r := f.requests[id]
	if r.Status != access.StatusPending {
		f.mu.Unlock()
		return access.ErrConflict
	}
	r.Status = status
	if status == access.StatusApproved {
		r.GrantID = "g-" + id
		f.grants[r.GrantID] = &access.Grant{ID: r.GrantID, TenantID: r.TenantID, RequestID: id, Status: access.GrantProvisioning}
	}
	token, grant := r.TaskToken, r.GrantID
	f.mu.Unlock()
	if token == "" || !resume {
		return nil
	}
	return wf.Resume(ctx, token, access.WorkflowOutcome{Status: status, GrantID: grant})
}

func (f *fakeService) StoreTaskToken(_ context.Context, tenantID, requestID, token string) (access.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(requestID, "store-task-token")
	r, ok := f.requests[requestID]
	if !ok || r.TenantID != tenantID {
		return access.Request{}, access.ErrNotFound
	}
	if r.Status == access.StatusPending {
		r.TaskToken = token
	}
	return *r, nil
}

func (f *fakeService) ExpireRequest(_ context.Context, tenantID, requestID string) (access.Request, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(requestID, "approval-timeout-worker")
	r, ok := f.requests[requestID]
	if !ok || r.TenantID != tenantID {
		return access.Request{}, access.ErrNotFound
	}
	if r.Status == access.StatusPending {
		r.Status = access.StatusExpired
	}
	return *r, nil
}

func (f *fakeService) grant(tenantID, grantID, call string) (*access.Grant, error) {
	g, ok := f.grants[grantID]
	if !ok || g.TenantID != tenantID {
		return nil, access.ErrNotFound
	}
	f.record(g.RequestID, call)
	return g, nil
}

func (f *fakeService) ProvisionGrant(_ context.Context, tenantID, grantID string) (access.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.grant(tenantID, grantID, "provision-grant")
	if err != nil {
		return access.Grant{}, err
	}
	if errs := f.provisionErrs[grantID]; len(errs) > 0 {
		f.provisionErrs[grantID] = errs[1:]
		return access.Grant{}, errs[0]
	}
	if g.Status == access.GrantProvisioning {
		f.provisioned[grantID]++
		now := f.now().UTC()
		end := now.Add(f.grantLife)
		g.Status, g.GrantedAt, g.ExpiresAt = access.GrantActive, &now, &end
	}
	return *g, nil
}

func (f *fakeService) FailGrant(_ context.Context, tenantID, grantID, reason string) (access.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.grant(tenantID, grantID, "fail-grant")
	if err != nil {
		return access.Grant{}, err
	}
	g.Status, g.FailureReason = access.GrantFailed, reason
	return *g, nil
}

func (f *fakeService) ExpireGrant(_ context.Context, tenantID, grantID string) (access.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.grant(tenantID, grantID, "expire-grant")
	if err != nil {
		return access.Grant{}, err
	}
	if errs := f.expireErrs[grantID]; len(errs) > 0 {
		f.expireErrs[grantID] = errs[1:]
		return access.Grant{}, errs[0]
	}
	now := f.now().UTC()
	if g.Status == access.GrantActive && !now.Before(*g.ExpiresAt) { // before the end (extended): no-op
		g.Status, g.RevokedAt = access.GrantExpired, &now
	}
	return *g, nil
}

func (f *fakeService) RecordRevokeFailure(_ context.Context, tenantID, grantID, reason string) (access.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.grant(tenantID, grantID, "record-failure:expire_grant")
	if err != nil {
		return access.Grant{}, err
	}
	if g.Status == access.GrantActive || g.Status == access.GrantRevokeFailed {
		g.Status, g.RevokeFailure = access.GrantRevokeFailed, reason
		g.RevokeAttempts++
	}
	return *g, nil
}

func (f *fakeService) RecordWorkflowFailure(_ context.Context, tenantID, resourceType, id, step, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	reqID := id
	if resourceType == "grant" {
		g, ok := f.grants[id]
		if !ok {
			return access.ErrNotFound
		}
		reqID = g.RequestID
	}
	f.record(reqID, "record-failure:"+step)
	return nil
}

func (f *fakeService) LoadGrant(_ context.Context, tenantID, grantID string) (access.Grant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, err := f.grant(tenantID, grantID, "notify-expiring")
	if err != nil {
		return access.Grant{}, err
	}
	return *g, nil
}

// extend moves an active grant's end by d (what an approved extension does).
func (f *fakeService) extend(grantID string, d time.Duration) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.grants[grantID]
	if g == nil || g.Status != access.GrantActive {
		return false
	}
	end := g.ExpiresAt.Add(d)
	g.ExpiresAt = &end
	return true
}

// notices records the published events (the SNS edge; the real publisher
// is tested against goaws in shared/events).
type notices struct {
	mu  sync.Mutex
	evs []events.Event
}

func (n *notices) Publish(_ context.Context, ev events.Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.evs = append(n.evs, ev)
	return nil
}

func (n *notices) For(grantID string) []events.Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []events.Event
	for _, ev := range n.evs {
		if ev.Grant != nil && ev.Grant.ID == grantID {
			out = append(out, ev)
		}
	}
	return out
}

// harness: the real ASL in the shim, the real sfn client, the workers over
// the fake service behind LambdaInvokeHandler.
type harness struct {
	svc      *fakeService
	notices  *notices
	wf       *workflow.SFN
	endpoint string
	stop     func()
}

// TestMain runs the lifecycle tests, which wait on the state machine's
// timers and retry intervals rather than on CPU, 16 at a time.
func TestMain(m *testing.M) {
	testparallel.AtLeast(16)
	code := m.Run()
	if theHarness != nil {
		theHarness.stop()
	}
	os.Exit(code)
}

var (
	harnessOnce sync.Once
	theHarness  *harness
	harnessErr  error
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// substitutions maps every worker's placeholder to a local function ARN.
func substitutions() map[string]string {
	subs := map[string]string{}
	for _, w := range routes.Workers {
		subs[routes.LogicalID(w)+"Arn"] = stepfunctions.FunctionARN(w)
	}
	return subs
}

func startHarness(t *testing.T) *harness {
	t.Helper()
	harnessOnce.Do(func() {
		svc := newFakeService()
		h := &harness{svc: svc, notices: &notices{}}
		logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		workers := &workflow.Workers{Service: svc, Logger: logger, Events: h.notices, NoticeLead: 2 * time.Second}
		handlers := workers.Handlers()
		// A worker that times out or crashes after doing its work (the
		// response is lost): Lambda reports Sandbox.Timedout.
		provision := handlers[workflow.FnProvisionGrant]
		handlers[workflow.FnProvisionGrant] = func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
			out, err := provision(ctx, payload)
			var in workflow.TaskInput
			_ = json.Unmarshal(payload, &in)
			svc.mu.Lock()
			n := svc.crashes[in.GrantID]
			svc.crashes[in.GrantID] = max(n-1, 0)
			svc.mu.Unlock()
			if n > 0 {
				return nil, messages.InvokeResponse_Error{Type: "Sandbox.Timedout", Message: "Task timed out after 120.00 seconds"}
			}
			return out, err
		}
		lambdas := httptest.NewServer(stepfunctions.LambdaInvokeHandler(handlers))
		endpoint, stop, err := stepfunctions.Start(context.Background(), stepfunctions.Config{
			ASLFiles:       []string{filepath.Join(repoRoot(t), "statemachines", "access-request.asl.json")},
			Substitutions:  substitutions(),
			LambdaEndpoint: lambdas.URL,
		})
		if err != nil {
			lambdas.Close()
			harnessErr = err
			return
		}
		// The shim and the Lambda server live until TestMain stops them.
		h.endpoint = endpoint
		h.stop = func() { stop(); lambdas.Close() }
		h.wf = workflow.New(sfn.NewFromConfig(wiring.AWSConfig(endpoint, stepfunctions.Region)), stepfunctions.StateMachineARN("access-request"))
		workers.Workflow = h.wf
		theHarness = h
	})
	if harnessErr != nil {
		t.Fatal(harnessErr)
	}
	return theHarness
}

// wait polls the execution until it is no longer RUNNING.
func (h *harness) wait(t *testing.T, name string, within time.Duration) stepfunctions.Execution {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		e, err := stepfunctions.DebugExecution(context.Background(), h.endpoint, name)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != "RUNNING" {
			t.Logf("%s: %s after %d state transitions (%d retries): %v", name, e.Status, e.StateTransitions, e.Retries, e.States)
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still RUNNING after %s (states %v)", name, within, e.States)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func uniq(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name())) + fmt.Sprintf("-%d", time.Now().UnixNano()%1e6)
}

func checkCalls(t *testing.T, h *harness, id string, want ...string) {
	t.Helper()
	if got := h.svc.Calls(id); !slices.Equal(got, want) {
		t.Errorf("worker calls %v, want %v", got, want)
	}
}

func checkRun(t *testing.T, e stepfunctions.Execution, status string, transitions int, states ...string) {
	t.Helper()
	if e.Status != status {
		t.Errorf("status %s (error %s: %s), want %s", e.Status, e.Error, e.Cause, status)
	}
	if e.StateTransitions != transitions {
		t.Errorf("%d state transitions, want %d", e.StateTransitions, transitions)
	}
	if states != nil && !slices.Equal(e.States, states) {
		t.Errorf("states %v, want %v", e.States, states)
	}
}

const maxRequireTransitions = 12

func TestAutoProvisionsWaitsAndExpires(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	for _, mode := range []string{"auto", "break_glass"} {
		id := uniq(t) + "-" + strings.ReplaceAll(mode, "_", "-")
		in := h.svc.add("acme", id, mode, 0)
		if err := h.wf.Start(ctx, in); err != nil {
			t.Fatal(err)
		}
		e := h.wait(t, id, 20*time.Second)
		checkRun(t, e, "SUCCEEDED", 8, "ChooseMode", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
		checkCalls(t, h, id, "provision-grant", "notify-expiring", "expire-grant")
		if n := h.notices.For(in.GrantID); len(n) != 1 || n[0].Type != events.GrantExpiringSoon {
			t.Errorf("expiring-soon notices %+v, want one", n)
		}
		g := h.svc.Grant(in.GrantID)
		if g.Status != access.GrantExpired {
			t.Errorf("grant %s, want expired", g.Status)
		}
		// The Wait state held until the grant's end.
		if g.RevokedAt == nil || g.RevokedAt.Before(g.ExpiresAt.Truncate(time.Second)) {
			t.Errorf("expired at %v, before its end %v", g.RevokedAt, g.ExpiresAt)
		}
	}
}

func TestRequireApproved(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "require", 60)
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task token", 10*time.Second, func() bool { return h.svc.Request(id).TaskToken != "" })
	token := h.svc.Request(id).TaskToken
	if err := h.svc.decide(ctx, h.wf, id, access.StatusApproved, true); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 20*time.Second)
	checkRun(t, e, "SUCCEEDED", 10, "ChooseMode", "WaitForApproval", "ApprovedMeanwhile", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
	checkCalls(t, h, id, "store-task-token", "provision-grant", "notify-expiring", "expire-grant")
	if g := h.svc.Grant("g-" + id); g.Status != access.GrantExpired {
		t.Errorf("grant %s, want expired", g.Status)
	}
	if e.StateTransitions > maxRequireTransitions {
		t.Errorf("require lifecycle takes %d transitions, budget %d", e.StateTransitions, maxRequireTransitions)
	}
	// The token is spent: a second decision is refused as ErrTaskGone.
	err := h.wf.Resume(ctx, token, access.WorkflowOutcome{Status: access.OutcomeDenied})
	if !errors.Is(err, workflow.ErrTaskGone) {
		t.Errorf("resume with a spent token: %v, want ErrTaskGone", err)
	}
}

func TestRequireDeniedOrCancelledCloses(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	for _, status := range []string{access.StatusDenied, access.StatusCancelled} {
		id := uniq(t) + "-" + status
		if err := h.wf.Start(ctx, h.svc.add("acme", id, "require", 60)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the task token", 10*time.Second, func() bool { return h.svc.Request(id).TaskToken != "" })
		if err := h.svc.decide(ctx, h.wf, id, status, true); err != nil {
			t.Fatal(err)
		}
		e := h.wait(t, id, 10*time.Second)
		checkRun(t, e, "SUCCEEDED", 3, "ChooseMode", "WaitForApproval", "Closed")
		checkCalls(t, h, id, "store-task-token")
	}
}

func TestRequireTimeoutExpires(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	if err := h.wf.Start(ctx, h.svc.add("acme", id, "require", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task token", 10*time.Second, func() bool { return h.svc.Request(id).TaskToken != "" })
	token := h.svc.Request(id).TaskToken
	start := time.Now()
	e := h.wait(t, id, 15*time.Second)
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("closed %s after the token was stored, timeout is 2s", d)
	}
	checkRun(t, e, "SUCCEEDED", 5, "ChooseMode", "WaitForApproval", "ApprovalTimeout", "ApprovedMeanwhile", "Closed")
	checkCalls(t, h, id, "store-task-token", "approval-timeout-worker")
	if r := h.svc.Request(id); r.Status != access.StatusExpired {
		t.Errorf("request %s, want expired", r.Status)
	}
	// A decision arriving now finds the wait gone.
	err := h.wf.Resume(ctx, token, access.WorkflowOutcome{Status: access.OutcomeApproved, GrantID: "g-late"})
	if !errors.Is(err, workflow.ErrTaskGone) {
		t.Errorf("late resume: %v, want ErrTaskGone", err)
	}
}

// A decision was committed but its resume never reached Step Functions:
// the timeout worker finds the request approved and the grant is
// provisioned all the same.
func TestTimeoutWorkerFindsApproved(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	if err := h.wf.Start(ctx, h.svc.add("acme", id, "require", 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the task token", 10*time.Second, func() bool { return h.svc.Request(id).TaskToken != "" })
	if err := h.svc.decide(ctx, h.wf, id, access.StatusApproved, false); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 20*time.Second)
	checkRun(t, e, "SUCCEEDED", 11, "ChooseMode", "WaitForApproval", "ApprovalTimeout", "ApprovedMeanwhile", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
	checkCalls(t, h, id, "store-task-token", "approval-timeout-worker", "provision-grant", "notify-expiring", "expire-grant")
	if r := h.svc.Request(id); r.Status != access.StatusApproved {
		t.Errorf("request %s, want approved (not expired)", r.Status)
	}
	if e.StateTransitions > maxRequireTransitions {
		t.Errorf("require lifecycle takes %d transitions, budget %d", e.StateTransitions, maxRequireTransitions)
	}
}

// Decided before StoreTaskToken ran: the worker resumes the wait itself.
func TestDecidedBeforeTokenStored(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	for _, status := range []string{access.StatusApproved, access.StatusDenied} {
		id := uniq(t) + "-" + status
		in := h.svc.add("acme", id, "require", 60)
		if err := h.svc.decide(ctx, h.wf, id, status, true); err != nil { // no token yet: nothing resumed
			t.Fatal(err)
		}
		if err := h.wf.Start(ctx, in); err != nil {
			t.Fatal(err)
		}
		e := h.wait(t, id, 20*time.Second)
		if status == access.StatusApproved {
			checkRun(t, e, "SUCCEEDED", 10, "ChooseMode", "WaitForApproval", "ApprovedMeanwhile", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
			checkCalls(t, h, id, "store-task-token", "provision-grant", "notify-expiring", "expire-grant")
		} else {
			checkRun(t, e, "SUCCEEDED", 3, "ChooseMode", "WaitForApproval", "Closed")
			checkCalls(t, h, id, "store-task-token")
		}
	}
}

func TestProvisionRetriesRetryable(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "auto", 0)
	h.svc.mu.Lock()
	h.svc.provisionErrs[in.GrantID] = []error{
		fmt.Errorf("provider throttled: %w", access.ErrRetryable),
		fmt.Errorf("conflicting operation: %w", access.ErrRetryable),
	}
	h.svc.mu.Unlock()
	start := time.Now()
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 30*time.Second)
	checkRun(t, e, "SUCCEEDED", 10, "ChooseMode", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
	if e.Retries != 2 {
		t.Errorf("%d retries, want 2", e.Retries)
	}
	checkCalls(t, h, id, "provision-grant", "provision-grant", "provision-grant", "notify-expiring", "expire-grant")
	// Backoff 2s then 4s before the grant even started its life.
	if d := time.Since(start); d < 6*time.Second {
		t.Errorf("finished after %s: the retries did not back off (2s, 4s)", d)
	}
}

func TestProvisionFailsPermanently(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "break_glass", 0)
	h.svc.mu.Lock()
	h.svc.provisionErrs[in.GrantID] = []error{errors.New("permission set arn:aws:sso:::permissionSet/x does not exist")}
	h.svc.mu.Unlock()
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 20*time.Second)
	checkRun(t, e, "FAILED", 4, "ChooseMode", "Provision", "FailGrant", "ProvisioningFailed")
	if e.Error != "ProvisioningFailed" {
		t.Errorf("execution error %q, want ProvisioningFailed", e.Error)
	}
	checkCalls(t, h, id, "provision-grant", "fail-grant")
	g := h.svc.Grant(in.GrantID)
	if g.Status != access.GrantFailed || !strings.Contains(g.FailureReason, "Permanent: ") || !strings.Contains(g.FailureReason, "does not exist") {
		t.Errorf("grant %s with reason %q, want failed with the provisioning error", g.Status, g.FailureReason)
	}
}

func TestDuplicateStartIsHarmless(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "require", 60)
	for i := 0; i < 3; i++ {
		if err := h.wf.Start(ctx, in); err != nil {
			t.Fatalf("start #%d: %v", i+1, err)
		}
	}
	// Another input under the same name (ExecutionAlreadyExists) is success too.
	other := in
	other.ApprovalTimeoutSeconds = 99
	if err := h.wf.Start(ctx, other); err != nil {
		t.Fatalf("start with other input: %v", err)
	}
	waitFor(t, "the task token", 10*time.Second, func() bool { return h.svc.Request(id).TaskToken != "" })
	if err := h.svc.decide(ctx, h.wf, id, access.StatusDenied, true); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 10*time.Second)
	checkRun(t, e, "SUCCEEDED", 3, "ChooseMode", "WaitForApproval", "Closed")
	checkCalls(t, h, id, "store-task-token") // one execution, one wait
	if err := h.wf.Start(ctx, in); err != nil {
		t.Errorf("start after the execution closed: %v", err)
	}
}

func TestResumeErrors(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	for _, token := range []string{"", "not-a-token", "lsfn1.unknown"} {
		err := h.wf.Resume(ctx, token, access.WorkflowOutcome{Status: access.OutcomeDenied})
		if !errors.Is(err, workflow.ErrTaskGone) {
			t.Errorf("resume with token %q: %v, want ErrTaskGone", token, err)
		}
	}
	if err := h.wf.Resume(ctx, "lsfn1.x", access.WorkflowOutcome{Status: "maybe"}); err == nil {
		t.Error("unknown outcome accepted")
	}
	if err := h.wf.Resume(ctx, "lsfn1.x", access.WorkflowOutcome{Status: access.OutcomeApproved}); err == nil {
		t.Error("approved without grant id accepted")
	}
	if err := h.wf.Start(ctx, access.WorkflowInput{TenantID: "acme"}); err == nil {
		t.Error("start without request id accepted")
	}
}

// A grant extended before its notice: the notice worker reschedules, the
// expiry at the old end is a no-op, and the execution waits for the new
// end — with one notice, for the new end.
func TestExtendedGrantWaitsForNewEnd(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "auto", 0)
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the grant to be active", 10*time.Second, func() bool { return h.svc.Grant(in.GrantID).Status == access.GrantActive })
	if !h.svc.extend(in.GrantID, 4*time.Second) {
		t.Fatal("extend")
	}
	extended := *h.svc.Grant(in.GrantID).ExpiresAt
	e := h.wait(t, id, 20*time.Second)
	checkRun(t, e, "SUCCEEDED", 13, "ChooseMode", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive",
		"WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
	g := h.svc.Grant(in.GrantID)
	if g.Status != access.GrantExpired || g.RevokedAt.Before(extended.Truncate(time.Second)) {
		t.Errorf("grant %s at %v, extended end %v", g.Status, g.RevokedAt, extended)
	}
	n := h.notices.For(in.GrantID)
	if len(n) != 1 || n[0].Grant.ExpiresAt == nil || !n[0].Grant.ExpiresAt.Equal(extended) {
		t.Errorf("notices %+v, want one for the new end %v", n, extended)
	}
}

// TestWorkerTimeoutMidProvisionIsRetried: a provision-grant invocation
// that times out after provisioning (Sandbox.Timedout, not retried
// before) is retried; the grant ends active, provisioned exactly once.
func TestWorkerTimeoutMidProvisionIsRetried(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "auto", 0)
	h.svc.mu.Lock()
	h.svc.crashes[in.GrantID] = 1
	h.svc.mu.Unlock()
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 30*time.Second)
	checkRun(t, e, "SUCCEEDED", 9, "ChooseMode", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done")
	checkCalls(t, h, id, "provision-grant", "provision-grant", "notify-expiring", "expire-grant")
	h.svc.mu.Lock()
	n := h.svc.provisioned[in.GrantID]
	h.svc.mu.Unlock()
	if n != 1 {
		t.Errorf("provisioned %d times, want exactly once", n)
	}
	if g := h.svc.Grant(in.GrantID); g.Status != access.GrantExpired {
		t.Errorf("grant %s, want expired", g.Status)
	}
}

// TestExpiryFailsPermanently: a permanent revoke error at the grant's end
// (AccessDenied after the tenant broke its role) is caught: the grant is
// recorded revoke_failed with the reason (the sweeper retries it) and the
// execution fails (alarmed) instead of leaving the grant active.
func TestExpiryFailsPermanently(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "auto", 0)
	h.svc.mu.Lock()
	h.svc.expireErrs[in.GrantID] = []error{errors.New("AccessDenied: not authorized to perform sts:AssumeRole")}
	h.svc.mu.Unlock()
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 30*time.Second)
	checkRun(t, e, "FAILED", 8, "ChooseMode", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "RecordRevokeFailure", "RevokeFailed")
	checkCalls(t, h, id, "provision-grant", "notify-expiring", "expire-grant", "record-failure:expire_grant")
	g := h.svc.Grant(in.GrantID)
	if g.Status != access.GrantRevokeFailed || !strings.Contains(g.RevokeFailure, "AccessDenied") {
		t.Errorf("grant %s (%q), want revoke_failed with the provider's reason", g.Status, g.RevokeFailure)
	}
}

// TestApprovalTimeoutWorkerFailureIsRecorded: the ApprovalTimeoutWorker
// failing for good is caught and audited on the request (the sweeper
// expires it); the execution fails instead of hanging.
func TestApprovalTimeoutWorkerFailureIsRecorded(t *testing.T) {
	t.Parallel()
	h := startHarness(t)
	ctx := context.Background()
	id := uniq(t)
	in := h.svc.add("acme", id, "require", 1)
	h.svc.mu.Lock()
	h.svc.requests[id].TenantID = "other" // the worker finds no such request: Permanent
	h.svc.mu.Unlock()
	in.TenantID = "acme"
	if err := h.wf.Start(ctx, in); err != nil {
		t.Fatal(err)
	}
	e := h.wait(t, id, 30*time.Second)
	if e.Status != "FAILED" || e.Error != "StepFailed" || !slices.Contains(e.States, "RecordApprovalWaitFailure") && !slices.Contains(e.States, "RecordApprovalTimeoutFailure") {
		t.Errorf("execution %s %s states %v, want FAILED StepFailed through a Record*Failure state", e.Status, e.Error, e.States)
	}
}
