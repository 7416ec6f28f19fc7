package devstack_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

const (
	icInstance = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
	icStore    = "d-1234567890"
	icPS       = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-1234567890abcdef"
)

// TestIdentityCenterWorkflow runs the real state machine (local Step
// Functions) with the workers on the Identity Center provider — the real
// STS, SSO Admin and Identity Store clients against moto behind
// infra/awsfault — under the
// faults Identity Center is known for, and proves that every grant ends
// active or failed (with its reason), never stuck in provisioning, with
// exactly the assignments it should have.
func TestIdentityCenterWorkflow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _, _ := dynamotest.New(t)

	endpoint := mototest.Endpoint(t)
	fake, err := awsfault.New(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ic, err := fake.AddTenant(ctx, endpoint, awsfault.TenantSpec{RoleName: "jitsudo-provisioner", ExternalID: "jitsudo-acme-ext",
		InstanceARN: icInstance, IdentityStoreID: icStore, Region: "eu-west-1", EmailDomain: "acme.example", Users: []string{"alice", "bob", "dave"}})
	if err != nil {
		t.Fatal(err)
	}
	fake.RequireSignatures(map[string]string{"AKIAPLATFORMKEY00001": "platform-secret"})
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	if _, err := st.PutAWSSettings(ctx, store.AWSSettings{TenantID: "acme", InstanceARN: icInstance, IdentityStoreID: icStore,
		Region: "eu-west-1", RoleARN: ic.RoleARN, ExternalID: "jitsudo-acme-ext", UserAttribute: "user_name"}, 0); err != nil {
		t.Fatal(err)
	}
	prov := identitycenter.New(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIAPLATFORMKEY00001", "platform-secret", "")},
		providers.Settings(st), st)
	prov.Endpoint = fakeSrv.URL
	prov.PollBudget = 5 * time.Second
	prov.Logger = slog.New(slog.DiscardHandler)

	var lambda atomic.Pointer[http.Handler]
	lambdas := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*lambda.Load()).ServeHTTP(w, r) }))
	t.Cleanup(lambdas.Close)
	wf, err := devstack.StartWorkflowWith(ctx, st, prov, lambdas.URL, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wf.Close)
	lambda.Store(&wf.Lambda)

	rule, err := policy.Normalize(policy.Rule{ID: "auto", Name: "auto", Enabled: true, Effect: policy.EffectPermit,
		PrincipalScopeType: policy.ScopeAny, ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
		ResourceScopeType: policy.ScopeAny, ApprovalMode: policy.ModeAuto})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := policy.Compile([]policy.Rule{rule})
	if err != nil {
		t.Fatal(err)
	}
	svc := &access.Service{Repo: st, Workflow: wf.SFN, Provider: prov, Logger: slog.New(slog.DiscardHandler),
		Policies: func(context.Context, string) (*policy.PolicySet, error) { return ps, nil }}

	request := func(user, account string) access.Grant {
		t.Helper()
		res, err := svc.Create(ctx, access.Caller{TenantID: "acme", ID: user, Type: "user", Email: user + "@acme.example"},
			access.CreateInput{Resource: access.Resource{Type: "aws_account", ID: account}, PermissionSetARN: icPS,
				Reason: "identity center test", DurationSeconds: 3600}, "")
		if err != nil {
			t.Fatal(err)
		}
		return *res.Grant
	}
	settle := func(g access.Grant, within time.Duration) access.Grant {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			cur, err := st.GetGrant(ctx, "acme", g.ID)
			if err != nil {
				t.Fatal(err)
			}
			if cur.Status != access.GrantProvisioning {
				return cur
			}
			if time.Now().After(deadline) {
				t.Fatalf("grant %s still provisioning after %s", g.ID, within)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	assigned := func(user, account string) bool {
		t.Helper()
		ok, err := ic.Has(ctx, ic.User(user, account, icPS))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}

	// 1. The plain case: active, and assigned in the tenant's instance.
	if g := settle(request("alice", "111111111111"), 20*time.Second); g.Status != access.GrantActive || !assigned("alice", "111111111111") {
		t.Fatalf("alice: %+v assigned=%v", g, assigned("alice", "111111111111"))
	}

	// 2. Identity Center accepts the creation, then reports it FAILED:
	// the grant fails with the reason; nothing stays assigned or held.
	fake.PlanCreation(2, "permission set is not provisioned to the account")
	g := settle(request("bob", "222222222222"), 30*time.Second)
	if g.Status != access.GrantFailed || !strings.Contains(g.FailureReason, "permission set is not provisioned") {
		t.Fatalf("bob: %+v", g)
	}
	if assigned("bob", "222222222222") {
		t.Fatal("bob's failed grant left an assignment")
	}
	if h, err := st.AssignmentHolders(ctx, store.AssignmentTarget{TenantID: "acme", AccountID: "222222222222", PermissionSetARN: icPS, PrincipalID: "bob"}); err != nil || len(h) != 0 {
		t.Fatalf("bob's failed grant still holds the assignment: %v %v", h, err)
	}

	// 3. A requester Identity Center does not know fails with a clear reason.
	if g := settle(request("carol", "333333333333"), 30*time.Second); g.Status != access.GrantFailed || !strings.Contains(g.FailureReason, "not a user in Identity Center") {
		t.Fatalf("carol: %+v", g)
	}

	// 4. A throttling burst longer than the provider's own retries: the
	// state machine retries the task, and the grant becomes active with
	// exactly one assignment.
	before := fake.Calls(awsfault.OpCreateAccountAssignment)
	fake.Throttle(awsfault.OpCreateAccountAssignment, identitycenter.DefaultRetryAttempts+2)
	if g := settle(request("dave", "444444444444"), 40*time.Second); g.Status != access.GrantActive || !assigned("dave", "444444444444") {
		t.Fatalf("dave: %+v", g)
	}
	var all []awsfault.Assignment
	for _, account := range []string{"111111111111", "222222222222", "333333333333", "444444444444"} {
		as, err := ic.Assignments(ctx, account, icPS)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, as...)
	}
	if len(all) != 2 {
		t.Fatalf("%d assignments, want alice's and dave's: %+v", len(all), all)
	}
	if calls := fake.Calls(awsfault.OpCreateAccountAssignment) - before; calls <= identitycenter.DefaultRetryAttempts {
		t.Fatalf("%d creation calls: the throttling burst was not retried by the state machine", calls)
	}
}
