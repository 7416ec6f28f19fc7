package devstack_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// TestExtensionCeiling: the tenant's maximum grant duration is a setting
// (PUT /v1/settings/aws max_grant_duration_seconds, kept when absent); an
// extension beyond it is a 403 duration_limit naming both durations; the
// dry run takes context.total_duration_seconds.
func TestExtensionCeiling(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()
	body := map[string]any{
		"instance_arn": "arn:aws:sso:::instance/ssoins-1234567890abcdef", "identity_store_id": "d-1234567890",
		"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/jitsudo-provisioner",
		"max_grant_duration_seconds": 600,
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "PUT", "/v1/settings/aws", admin, body, "max_grant_duration_seconds")
	body["max_grant_duration_seconds"] = 7200
	if s := decodeAs[store.AWSSettings](t, e.want(http.StatusOK, "PUT", "/v1/settings/aws", admin, body)); s.MaxGrantDurationSeconds != 7200 {
		t.Fatalf("saved: %+v", s)
	}
	delete(body, "max_grant_duration_seconds") // absent: kept
	if s := decodeAs[store.AWSSettings](t, e.want(http.StatusOK, "PUT", "/v1/settings/aws", admin, body)); s.MaxGrantDurationSeconds != 7200 || s.Version != 2 {
		t.Fatalf("saved without the field: %+v", s)
	}

	e.wantErr(http.StatusForbidden, "duration_limit", "POST", "/v1/requests", alice, accessRequest(devstack.DevAccount, 3*3600, "too long for this tenant"))
	r := e.create(alice, accessRequest(devstack.DevAccount, 3600, "a debugging session"))
	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	e.want(http.StatusOK, "POST", "/v1/grants/"+g.ID+"/extend", alice, map[string]any{"duration_seconds": 3000, "justification": "still debugging"})
	res := e.do("POST", "/v1/grants/"+g.ID+"/extend", alice, map[string]any{"duration_seconds": 1200, "justification": "more"})
	var out struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Details map[string]any `json:"details"`
	}
	_ = json.Unmarshal(res.Body, &out)
	if res.Status != http.StatusForbidden || out.Code != "duration_limit" || out.Details["max_grant_duration_seconds"] != float64(7200) ||
		out.Details["total_duration_seconds"] != float64(7800) || !strings.Contains(out.Message, "maximum grant duration of 2h0m0s") {
		t.Fatalf("extension beyond the tenant's maximum: %s", res)
	}

	var ev struct {
		Permitted bool `json:"permitted"`
	}
	rule := map[string]any{"id": "dev-extend-4h", "name": "dev extensions up to 4h in all", "priority": 200,
		"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq", "action_ids": []string{"extend_grant"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": devstack.DevAccount,
		"conditions": "when { context.total_duration_seconds <= 14400 }", "approval_mode": "auto"}
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, rule)
	for total, want := range map[int]bool{14400: true, 14401: false} {
		ev.Permitted = !want
		_ = json.Unmarshal(e.want(http.StatusOK, "POST", "/v1/policies/evaluate", admin, map[string]any{"principal": "alice", "action": "extend_grant",
			"resource": account(devstack.DevAccount), "duration_seconds": 1800, "total_duration_seconds": total,
			"justification": "the deploy is still running"}).Body, &ev)
		if ev.Permitted != want {
			t.Errorf("dry run with total %d: permitted %v", total, ev.Permitted)
		}
	}
}
