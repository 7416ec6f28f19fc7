package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// TestAccountForbidCoversPermissionSetRequests is the reproduction:
// a priority-500 forbid written as `resource == AwsAccount::"<acct>"` must
// deny the request that names a permission set on that account, not only
// the bare account (before, the permission set became the resource and a
// lower-priority permit decided: 201 pending).
func TestAccountForbidCoversPermissionSetRequests(t *testing.T) {
	e := newEnv(t)
	rules := append(testRules(t), mustRule(t, policy.Rule{ID: "prod-eq-forbid", Priority: 500, Effect: policy.EffectForbid,
		ResourceScopeType: policy.ScopeEq, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: acctProd}))
	ps, err := policy.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Policies = func(context.Context, string) (*policy.PolicySet, error) { return ps, nil }

	bare := psInput(acctProd)
	bare.PermissionSetARN = ""
	for name, in := range map[string]access.CreateInput{"bare account": bare, "with permission set": psInput(acctProd)} {
		_, err := e.svc.Create(context.Background(), alice, in, "")
		var denied *access.PolicyDeniedError
		if !errors.As(err, &denied) || len(denied.Decision.DecidingRuleIDs) != 1 || denied.Decision.DecidingRuleIDs[0] != "prod-eq-forbid" {
			t.Errorf("%s: got %v, want denied by prod-eq-forbid", name, err)
		}
	}
	if starts := e.wf.Starts(); len(starts) != 0 {
		t.Fatalf("a denied request started a workflow: %+v", starts)
	}
}
