package events_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

const (
	acme       = "acme"
	globex     = "globex"
	acctReq    = "111122223333" // one approval, channel ch_security
	acctTwo    = "333333333333" // two approvals, channel ch_two
	acctAuto   = "222222222222" // automatic, channel ch_auto
	acctFrozen = "999999999999" // forbidden
	psARN      = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
	apiBase    = "https://jitsudo.example.com"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testRules are stored through the store (so RuleChannels reads their
// channels) and compiled from it.
func testRules() []policy.Rule {
	acct := func(id string) policy.Rule {
		return policy.Rule{ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: id}
	}
	with := func(r policy.Rule, f func(*policy.Rule)) policy.Rule { f(&r); return r }
	return []policy.Rule{
		with(acct(acctReq), func(r *policy.Rule) {
			r.ID, r.Priority, r.Effect, r.ApprovalMode, r.ApprovalTimeout, r.NotificationChannel = "require", 10, policy.EffectPermit, policy.ModeRequire, "1h", "ch_security"
		}),
		with(acct(acctTwo), func(r *policy.Rule) {
			r.ID, r.Priority, r.Effect, r.ApprovalMode, r.ApprovalTimeout, r.ApprovalsRequired, r.NotificationChannel = "two", 10, policy.EffectPermit, policy.ModeRequire, "2h", 2, "ch_two"
		}),
		with(acct(acctAuto), func(r *policy.Rule) {
			r.ID, r.Priority, r.Effect, r.ApprovalMode, r.NotificationChannel = "auto", 20, policy.EffectPermit, policy.ModeAuto, "ch_auto"
		}),
		{ID: "break-glass", Priority: 30, Effect: policy.EffectPermit, ResourceScopeType: policy.ScopeAny, ApprovalMode: policy.ModeBreakGlass, NotificationChannel: "ch_oncall"},
		with(acct(acctFrozen), func(r *policy.Rule) { r.ID, r.Priority, r.Effect = "frozen", 100, policy.EffectForbid }),
		with(acct(acctAuto), func(r *policy.Rule) {
			r.ID, r.Priority, r.Effect, r.ApprovalMode, r.NotificationChannel = "extend", 20, policy.EffectPermit, policy.ModeAuto, "ch_extend"
			r.ActionScopeType, r.ActionIDs = policy.ScopeEq, []string{policy.ActionExtendGrant}
		}),
		{ID: "approvers", Priority: 10, Effect: policy.EffectPermit, ResourceScopeType: policy.ScopeAny,
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: policy.EntityGroup, PrincipalEntityID: "approvers",
			ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionApproveRequest}},
	}
}

type noWorkflow struct{}

func (noWorkflow) Start(context.Context, access.WorkflowInput) error { return nil }
func (noWorkflow) Resume(context.Context, string, access.WorkflowOutcome) error {
	return nil
}

// setupTenant creates tenant id with testRules in st, and returns the real
// access.Service over st with the tenant's compiled rules.
func setupTenant(t testing.TB, st *store.Store, ids ...string) *access.Service {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	sets := map[string]*policy.PolicySet{}
	for i, id := range ids {
		k := store.APIKey{ID: "k1", Name: "first", Hash: fmt.Sprintf("%064x", i+1), Prefix: "jsk_k1", Scopes: []string{"requests:write"}, CreatedBy: "test", CreatedAt: now}
		if err := st.CreateTenant(ctx, store.Tenant{ID: id, Name: id, CreatedAt: now}, k); err != nil {
			t.Fatal(err)
		}
		for _, r := range testRules() {
			r.Name, r.Enabled = r.ID, true
			if r.PrincipalScopeType == "" {
				r.PrincipalScopeType = policy.ScopeAny
			}
			if r.ActionScopeType == "" {
				r.ActionScopeType, r.ActionIDs = policy.ScopeEq, []string{policy.ActionRequestAccess}
			}
			n, err := policy.Normalize(r)
			if err != nil {
				t.Fatalf("Normalize(%s): %v", r.ID, err)
			}
			if _, err := st.CreateRule(ctx, id, n, now); err != nil {
				t.Fatal(err)
			}
		}
		rules, _, err := st.LoadRuleSet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if sets[id], err = policy.Compile(rules); err != nil {
			t.Fatal(err)
		}
	}
	return &access.Service{
		Repo: st,
		Policies: func(_ context.Context, tenant string) (*policy.PolicySet, error) {
			if ps := sets[tenant]; ps != nil {
				return ps, nil
			}
			return nil, fmt.Errorf("no tenant %s", tenant)
		},
		Workflow: noWorkflow{},
		Provider: recording.New(st),
		Logger:   testLogger(t),
	}
}

func user(tenant, id string, groups ...string) access.Caller {
	return access.Caller{TenantID: tenant, ID: id, Type: access.ActorTypeUser, Groups: groups, Email: id + "@example.com"}
}

func input(account string) access.CreateInput {
	return access.CreateInput{
		Resource:         access.Resource{Type: "aws_account", ID: account},
		PermissionSetARN: psARN,
		Reason:           "JIRA-42: deploy hotfix to production",
		DurationSeconds:  3600,
	}
}

// startGoaws runs a goaws for the test.
func startGoaws(t testing.TB) *goaws.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := goaws.Start(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("goaws output:\n%s", s.Logs())
		}
	})
	return s
}

// within is a context that ends after d (and with the test).
func within(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
