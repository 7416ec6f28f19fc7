package devstack_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

type shadowWarning struct {
	Code       string   `json:"code"`
	RuleID     string   `json:"rule_id"`
	ShadowedBy []string `json:"shadowed_by"`
	Message    string   `json:"message"`
}

// TestForbidPriorityAndShadows: a forbid created without a priority gets
// policy.DefaultForbidPriority and decides against the seed's priority-100
// (and 150) permits; one created at priority 0 is answered with a
// shadowed_forbid warning and listed with shadowed_by; an import says the
// same.
func TestForbidPriorityAndShadows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, alice := e.admin(), e.alice()
	forbid := func(id string) map[string]any {
		return map[string]any{"id": id, "name": id, "effect": "forbid", "principal_scope_type": "any",
			"action_scope_type": "eq", "action_ids": []string{"request_access"},
			"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": devstack.DevAccount}
	}
	change := func(r resp) (ruleView, []shadowWarning) {
		t.Helper()
		var out struct {
			ruleView
			Warnings []shadowWarning `json:"warnings"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil || out.Warnings == nil {
			t.Fatalf("rule change answer: %v: %s", err, r.Body)
		}
		return out.ruleView, out.Warnings
	}

	if d := e.eval(alice, devstack.DevAccount, 3600, false); !d.Permitted {
		t.Fatalf("dev is not permitted to begin with: %+v", d)
	}
	v, warns := change(e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, forbid("no-dev")))
	if v.Priority != policy.DefaultForbidPriority || len(warns) != 0 || len(v.ShadowedBy) != 0 {
		t.Fatalf("forbid without priority: priority %d, warnings %+v, shadowed_by %v", v.Priority, warns, v.ShadowedBy)
	}
	if d := e.eval(alice, devstack.DevAccount, 3600, false); d.Permitted || !slices.Equal(d.MatchingPolicyIDs, []string{"no-dev"}) {
		t.Fatalf("forbid at the default priority does not decide against dev-auto (100): %+v", d)
	}
	if d := e.eval(alice, devstack.DevAccount, 3600, true); d.Permitted {
		t.Fatalf("nor against break-glass (150): %+v", d)
	}
	e.want(http.StatusNoContent, "DELETE", "/v1/policy-rules/no-dev", admin, nil)

	low := forbid("no-dev-low")
	low["priority"] = 0
	v, warns = change(e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, low))
	want := []string{"oncall-break-glass", "dev-auto"} // 150, 100; prod and sandbox permits are other accounts
	if v.Priority != 0 || len(warns) != 1 || warns[0].Code != "shadowed_forbid" || warns[0].RuleID != "no-dev-low" ||
		!slices.Equal(warns[0].ShadowedBy, want) || warns[0].Message == "" || !slices.Equal(v.ShadowedBy, want) {
		t.Fatalf("low forbid: priority %d, warnings %+v, shadowed_by %v", v.Priority, warns, v.ShadowedBy)
	}
	if d := e.eval(alice, devstack.DevAccount, 3600, false); !d.Permitted {
		t.Fatalf("the shadowed forbid decided after all: %+v", d)
	}
	rules := e.allRules(admin, 2)
	if got := rules["no-dev-low"].ShadowedBy; !slices.Equal(got, want) {
		t.Fatalf("list: no-dev-low shadowed_by %v, want %v", got, want)
	}
	if got := rules["dev-auto"].ShadowedBy; got == nil || len(got) != 0 {
		t.Fatalf("list: a permit's shadowed_by is %v, want []", got)
	}
	if got := rules["prod-max-8h"].ShadowedBy; len(got) != 0 {
		t.Fatalf("list: prod-max-8h (200) is above every permit, shadowed_by %v", got)
	}
	var one ruleView
	if err := json.Unmarshal(e.want(http.StatusOK, "GET", "/v1/policy-rules/no-dev-low", admin, nil).Body, &one); err != nil || !slices.Equal(one.ShadowedBy, want) {
		t.Fatalf("get: %+v %v", one, err)
	}

	// Raising the permit above it on update warns about the forbid too.
	upd := forbid("no-dev-low")
	upd["priority"] = 500
	v, warns = change(e.want(http.StatusOK, "PUT", "/v1/policy-rules/no-dev-low", admin, upd))
	if v.Priority != 500 || len(warns) != 0 {
		t.Fatalf("update to 500: priority %d, warnings %+v", v.Priority, warns)
	}

	// Import: a forbid without @priority gets the default; one at 0 warns.
	doc := `@id("imp-default") forbid(principal, action == Action::"request_access", resource in AwsAccount::"` + devstack.DevAccount + `");` + "\n" +
		`@id("imp-low") @priority("0") forbid(principal, action == Action::"request_access", resource in AwsAccount::"` + devstack.DevAccount + `");`
	var imp struct {
		Imported int             `json:"imported"`
		Warnings []shadowWarning `json:"warnings"`
	}
	if err := json.Unmarshal(e.want(http.StatusOK, "POST", "/v1/policy-rules/import", admin, doc).Body, &imp); err != nil {
		t.Fatal(err)
	}
	if imp.Imported != 2 || len(imp.Warnings) != 1 || imp.Warnings[0].RuleID != "imp-low" || !slices.Equal(imp.Warnings[0].ShadowedBy, want) {
		t.Fatalf("import: %+v", imp)
	}
	if got := e.allRules(admin, 50)["imp-default"].Priority; got != policy.DefaultForbidPriority {
		t.Fatalf("imported forbid without @priority has priority %d", got)
	}
}
