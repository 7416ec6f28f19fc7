package access_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

const (
	tenantA    = "acme"
	tenantB    = "globex"
	acctDev    = "222222222222"
	acctProd   = "111122223333"
	acctFrozen = "999999999999"
	acctTwo    = "333333333333"
	psARN      = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
)

// recWorkflow records Start/Resume calls (the Step Functions edge).
type recWorkflow struct {
	mu        sync.Mutex
	starts    []access.WorkflowInput
	resumes   []resumeCall
	failStart int // fail this many Start calls
}

type resumeCall struct {
	Token   string
	Outcome access.WorkflowOutcome
}

func (w *recWorkflow) Start(_ context.Context, in access.WorkflowInput) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failStart > 0 {
		w.failStart--
		return errors.New("states: service unavailable")
	}
	w.starts = append(w.starts, in)
	return nil
}

func (w *recWorkflow) Resume(_ context.Context, token string, out access.WorkflowOutcome) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.resumes = append(w.resumes, resumeCall{token, out})
	return nil
}

func (w *recWorkflow) Starts() []access.WorkflowInput {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]access.WorkflowInput(nil), w.starts...)
}

func (w *recWorkflow) Resumes() []resumeCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]resumeCall(nil), w.resumes...)
}

func mustRule(t testing.TB, r policy.Rule) policy.Rule {
	t.Helper()
	r.Enabled = true
	if r.Name == "" {
		r.Name = r.ID
	}
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
		t.Fatalf("Normalize(%s): %v", r.ID, err)
	}
	return n
}

// testRules: engineering needs one approval (1h timeout); the dev account
// is automatic; acctTwo needs two approvals; break-glass is allowed for
// everyone; acctFrozen is forbidden; group approvers (and alice, who is in
// it too) may approve.
func testRules(t testing.TB) []policy.Rule {
	return []policy.Rule{
		mustRule(t, policy.Rule{ID: "eng-require", Priority: 10, Effect: policy.EffectPermit,
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: policy.EntityGroup, PrincipalEntityID: "engineering",
			ApprovalMode: policy.ModeRequire, ApprovalTimeout: "1h"}),
		mustRule(t, policy.Rule{ID: "dev-auto", Priority: 20, Effect: policy.EffectPermit,
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: acctDev,
			ApprovalMode: policy.ModeAuto}),
		mustRule(t, policy.Rule{ID: "two-approvers", Priority: 50, Effect: policy.EffectPermit,
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: acctTwo,
			ApprovalMode: policy.ModeRequire, ApprovalTimeout: "2h", ApprovalsRequired: 2}),
		mustRule(t, policy.Rule{ID: "break-glass", Priority: 30, Effect: policy.EffectPermit,
			ApprovalMode: policy.ModeBreakGlass, Notice: "break-glass use is reviewed"}),
		mustRule(t, policy.Rule{ID: "frozen", Priority: 100, Effect: policy.EffectForbid,
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: acctFrozen}),
		mustRule(t, policy.Rule{ID: "approvers", Priority: 10, Effect: policy.EffectPermit,
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: policy.EntityGroup, PrincipalEntityID: "approvers",
			ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionApproveRequest}}),
	}
}

type env struct {
	chain *audit.Extender
	svc   *access.Service
	store *store.Store
	wf    *recWorkflow
	prov  *recording.Provider
	table string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, _, table := dynamotest.New(t)
	return newEnvOn(t, st, table)
}

func newEnvOn(t testing.TB, st *store.Store, table string) *env {
	ps, err := policy.Compile(testRules(t))
	if err != nil {
		t.Fatal(err)
	}
	wf := &recWorkflow{}
	prov := recording.New(st)
	svc := &access.Service{
		Repo:     st,
		Policies: func(context.Context, string) (*policy.PolicySet, error) { return ps, nil },
		Workflow: wf, Provider: prov,
	}
	signer := audit.HMACSigner{Key: []byte("access-tests-chain-key-32-bytes!")}
	anchors := audit.DirAnchors{Dir: t.TempDir()}
	svc.AuditVerifier = &audit.Verifier{Repo: st, Signer: signer, Anchors: anchors}
	chain := &audit.Extender{Repo: st, Signer: signer, Anchors: anchors}
	return &env{svc: svc, store: st, wf: wf, prov: prov, table: table, chain: chain}
}

func user(tenant, id string, groups ...string) access.Caller {
	return access.Caller{TenantID: tenant, ID: id, Type: "user", Groups: groups, Email: id + "@example.com"}
}

var (
	alice   = user(tenantA, "alice", "engineering", "approvers") // requester (and an approver)
	bob     = user(tenantA, "bob", "approvers")
	carol   = user(tenantA, "carol", "approvers")
	mallory = user(tenantA, "mallory")
	admin   = access.Caller{TenantID: tenantA, ID: "root", Type: "user", Admin: true}
	bobB    = user(tenantB, "bob", "approvers")
	adminB  = access.Caller{TenantID: tenantB, ID: "root", Type: "user", Admin: true}
)

func psInput(account string) access.CreateInput {
	return access.CreateInput{
		Resource:         access.Resource{Type: "aws_account", ID: account},
		PermissionSetARN: psARN,
		Reason:           "JIRA-42: deploy hotfix to production",
		DurationSeconds:  3600,
	}
}

func mustCreate(t testing.TB, e *env, c access.Caller, in access.CreateInput) access.CreateResult {
	t.Helper()
	res, err := e.svc.Create(context.Background(), c, in, "")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return res
}

// verify chains the tenant's committed events (what the stream-driven
// extender does after commit) and verifies the whole chain from genesis.
func verify(t testing.TB, e *env, tenant string) access.VerifyResult {
	t.Helper()
	ctx := context.Background()
	if _, err := e.chain.CatchUp(ctx, tenant); err != nil {
		t.Fatalf("extend the chain: %v", err)
	}
	res, err := audit.VerifyAll(ctx, e.svc.AuditVerifier, tenant, access.VerifyOptions{Genesis: true})
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return res
}
