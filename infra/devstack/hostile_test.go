package devstack_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
)

func jsonBody(s string) rawBody { return rawBody{contentType: "application/json", data: []byte(s)} }

// withField returns a copy of the staging rule with extra fields set.
func withField(kv ...any) map[string]any {
	r := stagingRule("hostile", 600)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(r, kv[i].(string))
			continue
		}
		r[kv[i].(string)] = kv[i+1]
	}
	return r
}

// TestHostileInput: malformed, oversized and malicious input is a precise
// 4xx naming the field at fault, never a 500, and never changes anything.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, alice := e.admin(), e.alice()
	v0 := e.version(alice)

	big := fmt.Sprintf(`{"id":"big","description":%q}`, strings.Repeat("x", 65<<10))
	deep := `{"resource":{"type":"aws_account","id":"111111111111"},"context":{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`
	cases := []hostileCase{
		// Strict JSON.
		{"unknown field", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"x","bogus":1}`), 400, "validation_failed", []string{"bogus"}},
		{"unknown field in evaluate", "POST", "/v1/policies/evaluate", alice, jsonBody(`{"resource":{"type":"aws_account","id":"111111111111","extra":1}}`), 400, "validation_failed", []string{"resource.extra"}},
		{"field name in another case", "POST", "/v1/policy-rules", admin, jsonBody(`{"ID":"x"}`), 400, "validation_failed", []string{"ID"}},
		{"field name in upper case in evaluate", "POST", "/v1/policies/evaluate", alice, jsonBody(`{"resource":{"TYPE":"aws_account","id":"111111111111"}}`), 400, "validation_failed", []string{"resource.TYPE"}},
		{"duplicate key", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"x","effect":"forbid","effect":"permit"}`), 400, "validation_failed", []string{"effect"}},
		{"duplicate nested key", "POST", "/v1/policies/evaluate", alice, jsonBody(`{"resource":{"type":"aws_account","id":"111111111111","id":"222222222222"}}`), 400, "validation_failed", []string{"resource.id"}},
		{"wrong type", "POST", "/v1/policy-rules", admin, withField("priority", "high"), 400, "validation_failed", []string{"priority"}},
		{"wrong type: float priority", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"x","priority":1.5}`), 400, "validation_failed", []string{"priority"}},
		{"wrong type: huge priority", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"x","priority":1e300}`), 400, "validation_failed", []string{"priority"}},
		{"wrong type: enabled", "POST", "/v1/policy-rules", admin, withField("enabled", "yes"), 400, "validation_failed", []string{"enabled"}},
		{"wrong type: action_ids", "POST", "/v1/policy-rules", admin, withField("action_ids", "request_access"), 400, "validation_failed", []string{"action_ids"}},
		{"wrong type: duration", "POST", "/v1/policies/evaluate", alice, jsonBody(`{"resource":{"type":"aws_account","id":"111111111111"},"duration_seconds":"3600"}`), 400, "validation_failed", []string{"duration_seconds"}},
		{"two objects", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"a"}{"id":"b"}`), 400, "validation_failed", nil},
		{"trailing data", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"a"} x`), 400, "validation_failed", nil},
		{"trailing bracket", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"a"}]`), 400, "validation_failed", nil},
		{"empty body", "POST", "/v1/policy-rules", admin, jsonBody(``), 400, "validation_failed", nil},
		{"no body", "POST", "/v1/policy-rules", admin, nil, 400, "validation_failed", nil},
		{"whitespace body", "POST", "/v1/api-keys", admin, jsonBody(" \n\t "), 400, "validation_failed", nil},
		{"null", "POST", "/v1/policy-rules", admin, jsonBody(`null`), 400, "validation_failed", nil},
		{"array", "POST", "/v1/policy-rules", admin, jsonBody(`[{"id":"a"}]`), 400, "validation_failed", nil},
		{"truncated", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":"a",`), 400, "validation_failed", nil},
		{"syntax error", "POST", "/v1/policy-rules", admin, jsonBody(`{"id":'a'}`), 400, "validation_failed", nil},
		{"invalid UTF-8", "POST", "/v1/policy-rules", admin, rawBody{"application/json", []byte("{\"id\":\"\xff\xfe\"}")}, 400, "validation_failed", nil},
		{"nested too deep", "POST", "/v1/policies/evaluate", alice, jsonBody(deep), 400, "validation_failed", nil},
		{"text/plain", "POST", "/v1/policy-rules", admin, rawBody{"text/plain", []byte(`{"id":"a"}`)}, 415, "unsupported_media_type", nil},
		{"form", "POST", "/v1/api-keys", admin, rawBody{"application/x-www-form-urlencoded", []byte(`name=x`)}, 415, "unsupported_media_type", nil},
		{"malformed content type", "POST", "/v1/policies/evaluate", alice, rawBody{"application/json;;;", []byte(`{}`)}, 415, "unsupported_media_type", nil},
		{"over 64 KiB", "POST", "/v1/policy-rules", admin, jsonBody(big), 413, "body_too_large", nil},
		{"over 64 KiB to evaluate", "POST", "/v1/policies/evaluate", alice, jsonBody(`{"justification":"` + strings.Repeat("j", 70<<10) + `"}`), 413, "body_too_large", nil},

		// Rule validation.
		{"eq scope without id", "POST", "/v1/policy-rules", admin, withField("principal_scope_type", "eq", "principal_entity_type", "User", "principal_entity_id", nil), 400, "validation_failed", []string{"principal_entity_id"}},
		{"smuggled second policy", "POST", "/v1/policy-rules", admin, withField("conditions", `when { true }; permit(principal, action, resource);`), 400, "validation_failed", []string{"conditions"}},
		{"smuggled annotation", "POST", "/v1/policy-rules", admin, withField("conditions", `when { true }; @id("x") forbid(principal, action, resource) when { true }`), 400, "validation_failed", []string{"conditions"}},
		{"unbalanced braces", "POST", "/v1/policy-rules", admin, withField("conditions", `when { true }}`), 400, "validation_failed", []string{"conditions"}},
		{"bad effect", "POST", "/v1/policy-rules", admin, withField("effect", "allow"), 400, "validation_failed", []string{"effect"}},
		{"bad approval mode", "POST", "/v1/policy-rules", admin, withField("approval_mode", "yolo"), 400, "validation_failed", []string{"approval_mode"}},
		{"bad account id in scope", "POST", "/v1/policy-rules", admin, withField("resource_entity_id", "12345"), 400, "validation_failed", []string{"resource_entity_id"}},
		{"bad action", "POST", "/v1/policy-rules", admin, withField("action_ids", []string{"delete_everything"}), 400, "validation_failed", []string{"action_ids"}},
		{"control character in name", "POST", "/v1/policy-rules", admin, withField("name", "a\x07b"), 400, "validation_failed", []string{"name"}},
		{"bidi override in name", "POST", "/v1/policy-rules", admin, withField("name", "prod\u202E"), 400, "validation_failed", []string{"name"}},
		{"bad rule id", "POST", "/v1/policy-rules", admin, withField("id", "a b\n"), 400, "validation_failed", []string{"id"}},
		{"PUT id differs from path", "PUT", "/v1/policy-rules/dev-auto", admin, withField("id", "other"), 400, "validation_failed", []string{"id"}},
		{"PUT bad If-Match", "PUT", "/v1/policy-rules/dev-auto", merge(admin, map[string]string{"If-Match": "abc"}), stagingRule("dev-auto", 60), 400, "validation_failed", []string{"If-Match"}},
		{"PUT zero If-Match", "PUT", "/v1/policy-rules/dev-auto", merge(admin, map[string]string{"If-Match": "0"}), stagingRule("dev-auto", 60), 400, "validation_failed", []string{"If-Match"}},
		{"import garbage", "POST", "/v1/policy-rules/import", admin, "this is not cedar", 400, "validation_failed", []string{"document"}},
		{"import without @id", "POST", "/v1/policy-rules/import", admin, "permit(principal, action, resource);", 400, "validation_failed", nil},
		{"import duplicate ids", "POST", "/v1/policy-rules/import", admin, `@id("a") @name("a") permit(principal, action == Action::"request_access", resource);` + "\n" + `@id("a") @name("a") permit(principal, action == Action::"request_access", resource);`, 400, "validation_failed", nil},
		{"import bad replace", "POST", "/v1/policy-rules/import?replace=maybe", admin, "", 400, "validation_failed", []string{"replace"}},
		{"import invalid UTF-8", "POST", "/v1/policy-rules/import", admin, rawBody{"text/plain", []byte("@id(\"\xff\") permit(principal, action, resource);")}, 400, "validation_failed", nil},
		{"import over 1 MiB", "POST", "/v1/policy-rules/import", admin, strings.Repeat("/", 1<<20+1), 413, "body_too_large", nil},

		// Pagination.
		{"limit=0", "GET", "/v1/policy-rules?limit=0", admin, nil, 400, "validation_failed", []string{"limit"}},
		{"limit=251", "GET", "/v1/policy-rules?limit=251", admin, nil, 400, "validation_failed", []string{"limit"}},
		{"limit=abc", "GET", "/v1/policy-rules?limit=abc", admin, nil, 400, "validation_failed", []string{"limit"}},
		{"limit=-1", "GET", "/v1/policy-rules?limit=-1", admin, nil, 400, "validation_failed", []string{"limit"}},
		{"limit overflow", "GET", "/v1/policy-rules?limit=99999999999999999999", admin, nil, 400, "validation_failed", []string{"limit"}},
		{"garbage cursor", "GET", "/v1/policy-rules?cursor=garbage", admin, nil, 400, "validation_failed", []string{"cursor"}},
		{"base64 cursor", "GET", "/v1/policy-rules?cursor=eyJwayI6IlQjZ2xvYmV4I1JVTEVTIn0", admin, nil, 400, "validation_failed", []string{"cursor"}},
		{"huge cursor", "GET", "/v1/policy-rules?cursor=" + strings.Repeat("A", 5000), admin, nil, 400, "validation_failed", []string{"cursor"}},

		// Dry runs.
		{"short account id", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": account("12345")}, 400, "validation_failed", []string{"resource.id"}},
		{"bad ec2 id", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": map[string]any{"type": "aws_ec2_instance", "id": "x-1"}}, 400, "validation_failed", []string{"resource.id"}},
		{"bad resource type", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": map[string]any{"type": "gcp_project", "id": "x"}}, 400, "validation_failed", []string{"resource.type"}},
		{"bad account_id", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": map[string]any{"type": "aws_s3_bucket", "id": "my-bucket", "account_id": "1"}}, 400, "validation_failed", []string{"resource.account_id"}},
		{"no resource", "POST", "/v1/policies/evaluate", alice, map[string]any{}, 400, "validation_failed", []string{"resource"}},
		{"bad duration", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": account(devstack.DevAccount), "duration_seconds": 10}, 400, "validation_failed", []string{"duration_seconds"}},
		{"huge duration", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": account(devstack.DevAccount), "duration_seconds": int64(1) << 62}, 400, "validation_failed", []string{"duration_seconds"}},
		{"bad action", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": account(devstack.DevAccount), "action": "root"}, 400, "validation_failed", []string{"action"}},
		{"approve without requester", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": account(devstack.DevAccount), "action": "approve_request"}, 400, "validation_failed", []string{"requester", "mode"}},
		{"long justification", "POST", "/v1/policies/evaluate", alice, map[string]any{"resource": account(devstack.DevAccount), "justification": strings.Repeat("j", 2001)}, 400, "validation_failed", []string{"reason"}},
		{"dry run as another user", "POST", "/v1/policies/evaluate", alice, map[string]any{"principal": "bob", "resource": account(devstack.DevAccount)}, 403, "forbidden", nil},
		{"dry run with other groups", "POST", "/v1/policies/evaluate", alice, map[string]any{"groups": []string{"sre-leads"}, "resource": account(devstack.DevAccount)}, 403, "forbidden", nil},
		{"dry run with no groups", "POST", "/v1/policies/evaluate", alice, map[string]any{"groups": []string{}, "resource": account(devstack.DevAccount)}, 403, "forbidden", nil},
		{"admin key: empty group name", "POST", "/v1/policies/evaluate", admin, map[string]any{"principal": "bob", "groups": []string{""}, "resource": account(devstack.DevAccount)}, 400, "validation_failed", []string{"groups[0]"}},

		// AWS settings.
		{"settings: bad ARNs", "PUT", "/v1/settings/aws", admin, map[string]any{"instance_arn": "arn:aws:sso:::instance/x", "identity_store_id": "d-1", "region": "mars-1", "role_arn": "arn:aws:iam::1:user/x"}, 400, "validation_failed", []string{"instance_arn", "identity_store_id", "region", "role_arn"}},
		{"settings: external id is not the tenant's to choose", "PUT", "/v1/settings/aws", admin, map[string]any{"external_id": "mine"}, 400, "validation_failed", []string{"external_id"}},
		{"settings: bad user attribute", "PUT", "/v1/settings/aws", admin, map[string]any{"instance_arn": "arn:aws:sso:::instance/ssoins-1234567890abcdef", "identity_store_id": "d-1234567890", "region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/jitsudo-provisioner", "user_attribute": "sub"}, 400, "validation_failed", []string{"user_attribute"}},
		{"settings: not for requesters", "PUT", "/v1/settings/aws", alice, map[string]any{}, 403, "forbidden", nil},

		// Notification channels.
		{"channel: bidi override in name", "POST", "/v1/notification-channels", admin, map[string]any{"name": "ops\u202E", "type": "email", "config": map[string]any{"addresses": []string{"ops@example.com"}}}, 400, "validation_failed", []string{"name"}},
		{"channel: unknown type", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "pager", "config": map[string]any{}}, 400, "validation_failed", []string{"type"}},
		{"channel: ftp url", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "generic_webhook", "config": map[string]any{"url": "ftp://example.com/x"}}, 400, "validation_failed", []string{"config.url"}},
		{"channel: userinfo in url", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "generic_webhook", "config": map[string]any{"url": "https://user:pw@example.com/x"}}, 400, "validation_failed", []string{"config.url"}},
		{"channel: metadata service", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "generic_webhook", "config": map[string]any{"url": "http://169.254.169.254/latest/meta-data/"}}, 400, "validation_failed", []string{"config.url"}},
		{"channel: decimal loopback is not loopback's spelling", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "generic_webhook", "config": map[string]any{"url": "http://2852039166/"}}, 400, "validation_failed", []string{"config.url"}},
		{"channel: header injection", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "generic_webhook", "config": map[string]any{"url": "https://example.com/x", "headers": map[string]string{"X-A": "1\r\nHost: evil"}}}, 400, "validation_failed", nil},
		{"channel: signature header override", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "generic_webhook", "config": map[string]any{"url": "https://example.com/x", "headers": map[string]string{"X-Jitsudo-Signature": "v1=0"}}}, 400, "validation_failed", nil},
		{"channel: bad address", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "email", "config": map[string]any{"addresses": []string{"Bob <bob@example.com>"}}}, 400, "validation_failed", nil},
		{"channel: unknown filter", "POST", "/v1/notification-channels", admin, map[string]any{"name": "x", "type": "email", "event_filters": []string{"everything"}, "config": map[string]any{"addresses": []string{"a@example.com"}}}, 400, "validation_failed", nil},
		{"channel: unknown field", "POST", "/v1/notification-channels", admin, jsonBody(`{"name":"x","type":"email","secret":"y"}`), 400, "validation_failed", []string{"secret"}},
		{"channel: not for requesters", "POST", "/v1/notification-channels", alice, map[string]any{"name": "x"}, 403, "forbidden", nil},
		{"channel: long id", "GET", "/v1/notification-channels/" + strings.Repeat("c", 2000), admin, nil, 0, "", nil},
		{"channel: bad If-Match", "PUT", "/v1/notification-channels/nope", merge(admin, map[string]string{"If-Match": "v2"}), map[string]any{"name": "x"}, 400, "validation_failed", []string{"If-Match"}},
		{"settings: bad If-Match", "PUT", "/v1/settings/aws", merge(admin, map[string]string{"If-Match": "-1"}), map[string]any{}, 400, "validation_failed", []string{"If-Match"}},
		{"channel: test a missing channel", "POST", "/v1/notification-channels/nope/test", admin, nil, 404, "not_found", nil},

		// Grant extension.
		{"extend: missing grant", "POST", "/v1/grants/grt_nope/extend", alice, map[string]any{"duration_seconds": 600, "justification": "x"}, 404, "not_found", nil},
		{"extend: bad duration", "POST", "/v1/grants/grt_nope/extend", alice, map[string]any{"duration_seconds": -5, "justification": "x"}, 400, "validation_failed", []string{"duration_seconds"}},
		{"extend: huge duration", "POST", "/v1/grants/grt_nope/extend", alice, map[string]any{"duration_seconds": int64(1) << 62, "justification": "x"}, 400, "validation_failed", []string{"duration_seconds"}},
		{"extend: no justification", "POST", "/v1/grants/grt_nope/extend", alice, map[string]any{"duration_seconds": 600}, 400, "validation_failed", []string{"justification"}},
		{"extend: unknown field", "POST", "/v1/grants/grt_nope/extend", alice, jsonBody(`{"duration_seconds":600,"justification":"x","until":"forever"}`), 400, "validation_failed", []string{"until"}},

		// Paths.
		{"long rule id", "GET", "/v1/policy-rules/" + strings.Repeat("r", 2000), admin, nil, 0, "", nil},
		{"escaped slash in id", "GET", "/v1/policy-rules/a%2Fb", admin, nil, 404, "not_found", nil},
		{"hash in id", "GET", "/v1/policy-rules/" + url.PathEscape("x#RULE#dev-auto"), admin, nil, 404, "not_found", nil},
		{"dot-dot id", "DELETE", "/v1/policy-rules/..", admin, nil, 0, "", nil},
		{"long key id", "DELETE", "/v1/api-keys/" + strings.Repeat("k", 2000), admin, nil, 0, "", nil},
	}
	e.refuseAll(cases)
	// Nothing was written.
	if v := e.version(alice); v != v0 {
		t.Errorf("rule_set_version moved from %d to %d on refused input", v0, v)
	}
	if _, ok := e.allRules(admin, 50)["hostile"]; ok {
		t.Error("a refused rule was stored")
	}
	if d := e.eval(alice, devstack.DevAccount, 3600, false); !d.Permitted {
		t.Errorf("dev-auto damaged by refused input: %+v", d)
	}
	if chs := decodeAs[page[channelOut]](t, e.want(http.StatusOK, "GET", "/v1/notification-channels", admin, nil)); len(chs.Data) != 0 {
		t.Errorf("a refused channel was stored: %+v", chs.Data)
	}
	e.wantErr(http.StatusNotFound, "not_configured", "GET", "/v1/settings/aws", admin, nil)
}

// TestEntityIDsAreEscaped: an entity id that tries to close the scope and
// append a policy is just an odd group name, escaped in the Cedar text; it
// widens nothing and survives export/import.
func TestEntityIDsAreEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()
	weird := `engineering", action, resource) when { true }; permit(principal`
	r := e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, withField("principal_entity_id", weird))
	if got := decodeRule(t, r); got.PrincipalEntityID != weird || !strings.Contains(got.CedarText, `Group::"engineering\", action`) {
		t.Fatalf("stored: %s", r.Body)
	}
	// alice is in engineering, not in the odd group: staging stays closed.
	if d := e.eval(e.alice(), stagingAccount, 300, false); d.Permitted {
		t.Fatalf("the odd group id widened the rule: %+v", d)
	}
	// A member of the odd group gets exactly what the rule says.
	asWeird := map[string]any{"principal": "zed", "groups": []string{weird}, "resource": account(stagingAccount), "duration_seconds": 300, "reason": "odd group test"}
	if r := e.want(http.StatusOK, "POST", "/v1/policies/evaluate", admin, asWeird); !strings.Contains(string(r.Body), `"permitted":true`) {
		t.Fatalf("member of the odd group: %s", r.Body)
	}
	asWeird["resource"] = account(devstack.ProdAccount)
	if r := e.want(http.StatusOK, "POST", "/v1/policies/evaluate", admin, asWeird); !strings.Contains(string(r.Body), `"permitted":false`) {
		t.Fatalf("member of the odd group on prod: %s", r.Body)
	}
	doc := string(e.want(http.StatusOK, "GET", "/v1/policy-rules/export", admin, nil).Body)
	before := e.allRules(admin, 50)
	e.want(http.StatusOK, "POST", "/v1/policy-rules/import?replace=true", admin, doc)
	after := e.allRules(admin, 50)
	if len(after) != len(before) || after["hostile"].CedarText != before["hostile"].CedarText {
		t.Fatalf("round trip changed the rule set: %d → %d rules; %q → %q", len(before), len(after), before["hostile"].CedarText, after["hostile"].CedarText)
	}
}

// TestConcurrentCreate: ten racing creates of one id leave exactly one
// winner, the rest 409, and bump the rule set version once.
func TestConcurrentCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()
	v0 := e.version(e.alice())

	const n = 10
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			rule := stagingRule("racy", 600+i)
			status, body, err := devstack.Call(t.Context(), e.st.URL, "POST", "/v1/policy-rules", admin, rule)
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			}
			if status >= 500 {
				t.Errorf("create %d: %d %s", i, status, body)
			}
			statuses[i] = status
		})
	}
	close(start)
	wg.Wait()
	var created, conflicts, winner int
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
			winner = i
		case http.StatusConflict:
			conflicts++
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("statuses %v: want one 201 and %d 409s", statuses, n-1)
	}
	if v := e.version(e.alice()); v != v0+1 {
		t.Fatalf("rule_set_version %d after one create, want %d", v, v0+1)
	}
	got := decodeRule(t, e.want(http.StatusOK, "GET", "/v1/policy-rules/racy", admin, nil))
	if !strings.Contains(got.Conditions, fmt.Sprint(600+winner)) || got.Revision != 1 {
		t.Fatalf("stored rule is not the winner's (%d): %+v", winner, got)
	}

	// Racing conditional updates on one revision: one winner as well.
	start = make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			h := merge(admin, map[string]string{"If-Match": "1"})
			status, body, err := devstack.Call(t.Context(), e.st.URL, "PUT", "/v1/policy-rules/racy", h, stagingRule("racy", 1000+i))
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
			if status >= 500 {
				t.Errorf("update %d: %d %s", i, status, body)
			}
			statuses[i] = status
		})
	}
	close(start)
	wg.Wait()
	created, conflicts = 0, 0
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			created++
			winner = i
		case http.StatusConflict:
			conflicts++
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("update statuses %v: want one 200 and %d 409s", statuses, n-1)
	}
	if v := e.version(e.alice()); v != v0+2 {
		t.Fatalf("rule_set_version %d after one update, want %d", v, v0+2)
	}
	got = decodeRule(t, e.want(http.StatusOK, "GET", "/v1/policy-rules/racy", admin, nil))
	if !strings.Contains(got.Conditions, fmt.Sprint(1000+winner)) || got.Revision != 2 {
		t.Fatalf("stored rule is not the update winner's (%d): %+v", winner, got)
	}
}

// hostileCase is one call that must be refused: with status (and code and
// the fields named in details), or with any 4xx when status is 0.
type hostileCase struct {
	name         string
	method, path string
	headers      map[string]string
	body         any
	status       int
	code         string
	fields       []string
}

// refuseAll runs each case as a subtest on e's stack.
func (e *env) refuseAll(cases []hostileCase) {
	run := e.t.(*testing.T).Run // only tests refuse tables of calls
	for _, c := range cases {
		run(c.name, func(t *testing.T) {
			e := &env{t: t, st: e.st, demo: e.demo}
			if c.status == 0 { // any 4xx
				if r := e.do(c.method, c.path, c.headers, c.body); r.Status < 400 {
					t.Errorf("want a 4xx, got %s", r)
				}
				return
			}
			e.wantErr(c.status, c.code, c.method, c.path, c.headers, c.body, c.fields...)
		})
	}
}
