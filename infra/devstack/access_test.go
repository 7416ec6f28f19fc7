package devstack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devissuer"
	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
)

func merge(hs ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = v
		}
	}
	return out
}

// TestGatewayAuth: the authorizer runs before every route but /healthz and
// refuses with the precise status and code.
func TestGatewayAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme := e.demo.TenantID

	// A token with the right claims signed by another key.
	forger, err := devissuer.New(e.st.Issuer.IssuerURL())
	if err != nil {
		t.Fatal(err)
	}
	forged, err := forger.Mint(map[string]any{"sub": "alice", "aud": e.st.Audience, "tenant_id": acme, "groups": []string{"jitsudo-admins"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := e.st.Issuer.Mint(map[string]any{"sub": "alice", "aud": e.st.Audience, "tenant_id": acme}, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wrongAud, err := e.st.Issuer.Mint(map[string]any{"sub": "alice", "aud": "someone-else", "tenant_id": acme}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	rule := stagingRule("authz-probe", 600)
	cases := []struct {
		name         string
		method, path string
		headers      map[string]string
		body         any
		status       int
		code         string
	}{
		{"no credentials", "GET", "/v1/policy-rules", map[string]string{"X-Tenant-ID": acme}, nil, 401, "unauthorized"},
		{"no credentials, no tenant", "GET", "/v1/policy-rules", nil, nil, 401, "unauthorized"},
		{"bad API key", "GET", "/v1/policy-rules", devstack.AdminHeaders(acme, "jitsudo_not-a-real-key"), nil, 401, "unauthorized"},
		{"malformed API key", "GET", "/v1/policy-rules", devstack.AdminHeaders(acme, "key with spaces"), nil, 401, "unauthorized"},
		{"key and token together", "GET", "/v1/policy-rules", merge(e.admin(), map[string]string{"Authorization": "Bearer " + e.demo.Requester.Token}), nil, 401, "unauthorized"},
		{"admin key without tenant", "GET", "/v1/policy-rules", map[string]string{"X-API-Key": e.demo.AdminKey}, nil, 401, "unauthorized"},
		{"malformed tenant header", "GET", "/v1/policy-rules", devstack.AdminHeaders("ACME!", e.demo.AdminKey), nil, 401, "unauthorized"},
		{"globex JWT on acme", "GET", "/v1/policy-rules", devstack.BearerHeaders(acme, e.demo.OtherRequester.Token), nil, 403, "tenant_mismatch"},
		{"globex admin key on acme", "GET", "/v1/policy-rules", devstack.AdminHeaders(acme, e.demo.OtherAdminKey), nil, 401, "unauthorized"},
		{"forged JWT", "GET", "/v1/policy-rules", devstack.BearerHeaders(acme, forged), nil, 401, "unauthorized"},
		{"expired JWT", "GET", "/v1/policy-rules", devstack.BearerHeaders(acme, expired), nil, 401, "unauthorized"},
		{"JWT for another audience", "GET", "/v1/policy-rules", devstack.BearerHeaders(acme, wrongAud), nil, 401, "unauthorized"},
		{"garbage bearer", "GET", "/v1/policy-rules", devstack.BearerHeaders(acme, "not.a.jwt"), nil, 401, "unauthorized"},
		{"requester creates a rule", "POST", "/v1/policy-rules", e.alice(), rule, 403, "forbidden"},
		{"requester creates an API key", "POST", "/v1/api-keys", e.alice(), map[string]any{"name": "x", "scopes": []string{"admin"}}, 403, "forbidden"},
		{"requester revokes an API key", "DELETE", "/v1/api-keys/key-whatever", e.alice(), nil, 403, "forbidden"},
		{"requester imports rules", "POST", "/v1/policy-rules/import", e.alice(), "", 403, "forbidden"},
		{"requester lists rules", "GET", "/v1/policy-rules", e.alice(), nil, 403, "forbidden"},
		{"platform key on a tenant route", "GET", "/v1/policy-rules", e.platform(), nil, 403, "forbidden"},
		{"platform key with a tenant on a tenant route", "GET", "/v1/policy-rules", merge(e.platform(), map[string]string{"X-Tenant-ID": acme}), nil, 403, "forbidden"},
		{"tenant admin creates a tenant", "POST", "/v1/tenants", e.admin(), map[string]string{"id": "evil", "name": "Evil"}, 403, "forbidden"},
		{"requester creates a tenant", "POST", "/v1/tenants", e.alice(), map[string]string{"id": "evil", "name": "Evil"}, 403, "forbidden"},
		{"no credentials create a tenant", "POST", "/v1/tenants", nil, map[string]string{"id": "evil", "name": "Evil"}, 401, "unauthorized"},
		{"unknown route", "GET", "/v1/nope", e.admin(), nil, 404, "not_found"},
		{"unknown route, no credentials", "GET", "/nope", nil, nil, 404, "not_found"},
		{"wrong method", "PATCH", "/v1/policy-rules", e.admin(), nil, 405, "method_not_allowed"},
		{"wrong method, no credentials", "PUT", "/healthz", nil, nil, 405, "method_not_allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, st: e.st, demo: e.demo}
			e.wantErr(c.status, c.code, c.method, c.path, c.headers, c.body)
		})
	}

	// A known path with another method names the methods it has, in Allow.
	for path, allow := range map[string]string{"/v1/policy-rules": "GET, POST", "/v1/policy-rules/r1": "GET, PUT, DELETE", "/healthz": "GET"} {
		if r := e.do("PATCH", path, e.admin(), nil); r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != allow {
			t.Errorf("PATCH %s: want 405 with Allow %q, got Allow %q, %s", path, allow, r.Header.Get("Allow"), r)
		}
	}

	// The refused calls changed nothing.
	e.wantErr(404, "not_found", "GET", "/v1/policy-rules/authz-probe", e.admin(), nil)
	// A tenant named "evil" was not created: the platform key can create it now.
	e.want(http.StatusCreated, "POST", "/v1/tenants", e.platform(), map[string]string{"id": "evil", "name": "Evil"})

	r := e.want(http.StatusOK, "GET", "/healthz", nil, nil)
	if m := r.obj(t); m["status"] != "ok" {
		t.Errorf("healthz: %s", r.Body)
	}
	// A person may dry-run their own requests.
	e.want(http.StatusOK, "POST", "/v1/policies/evaluate", e.alice(), map[string]any{"resource": account(devstack.DevAccount), "reason": "debug a deploy"})
	// Users in the admin group get admin.
	adminTok, err := e.st.Issuer.Mint(map[string]any{"sub": "dana", "aud": e.st.Audience, "tenant_id": acme, "groups": []string{"jitsudo-admins"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", devstack.BearerHeaders(acme, adminTok), rule)
}

// TestTenantIsolation: rules, ids, cursors and decisions never cross tenants.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acme, globex := e.admin(), e.otherAdmin()

	g := stagingRule("shared-id", 600)
	g["name"] = "globex's rule"
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", globex, g)
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/policy-rules/shared-id", acme, nil)
	if _, ok := e.allRules(acme, 50)["shared-id"]; ok {
		t.Fatal("globex's rule is listed in acme")
	}
	e.wantErr(http.StatusNotFound, "not_found", "DELETE", "/v1/policy-rules/shared-id", acme, nil)
	e.wantErr(http.StatusNotFound, "not_found", "PUT", "/v1/policy-rules/shared-id", acme, g)
	if ex := e.want(http.StatusOK, "GET", "/v1/policy-rules/export", acme, nil); strings.Contains(string(ex.Body), "shared-id") {
		t.Fatal("acme's export holds globex's rule")
	}

	// The same id in acme is a different rule.
	a := stagingRule("shared-id", 3600)
	a["name"] = "acme's rule"
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", acme, a)
	if got := decodeRule(t, e.want(http.StatusOK, "GET", "/v1/policy-rules/shared-id", globex, nil)); got.Name != "globex's rule" {
		t.Fatalf("globex's rule became %+v", got)
	}
	if got := decodeRule(t, e.want(http.StatusOK, "GET", "/v1/policy-rules/shared-id", acme, nil)); got.Name != "acme's rule" {
		t.Fatalf("acme's rule is %+v", got)
	}
	e.want(http.StatusNoContent, "DELETE", "/v1/policy-rules/shared-id", acme, nil)
	e.want(http.StatusOK, "GET", "/v1/policy-rules/shared-id", globex, nil)

	// Decisions use the caller's tenant's rules only: globex has no dev rule.
	mallory := devstack.BearerHeaders(e.demo.OtherTenantID, e.demo.OtherRequester.Token)
	if d := e.eval(mallory, devstack.DevAccount, 3600, false); d.Permitted || d.Reason != "no applicable policy" {
		t.Fatalf("mallory got acme's decision: %+v", d)
	}
	if d := e.eval(e.alice(), devstack.DevAccount, 3600, false); !d.Permitted {
		t.Fatalf("alice lost acme's decision: %+v", d)
	}
	// Replacing globex's whole rule set leaves acme's alone.
	acmeBefore := e.allRules(acme, 50)
	globexBefore := len(e.allRules(globex, 50))
	// An empty body (curl --data-binary @missing-file) deletes nothing
	// unless confirm=all says "every rule".
	e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/policy-rules/import?replace=true", globex, "", "document")
	e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/policy-rules/import", globex, "", "document")
	if n := len(e.allRules(globex, 50)); n != globexBefore || n == 0 {
		t.Fatalf("globex has %d rules after a refused empty import, had %d", n, globexBefore)
	}
	e.want(http.StatusOK, "POST", "/v1/policy-rules/import?replace=true&confirm=all", globex, "")
	if n := len(e.allRules(globex, 50)); n != 0 {
		t.Fatalf("globex has %d rules after replacing with an empty document", n)
	}
	if got := e.allRules(acme, 50); len(got) != len(acmeBefore) {
		t.Fatalf("acme has %d rules after globex's import, had %d", len(got), len(acmeBefore))
	}

	// Cursors: acme's cursor works for acme, not for globex.
	for _, id := range []string{"g1", "g2", "g3"} {
		e.want(http.StatusCreated, "POST", "/v1/policy-rules", globex, stagingRule(id, 600))
	}
	l := e.list(acme, "?limit=1")
	if len(l.Data) != 1 || !l.HasMore {
		t.Fatalf("limit=1: %+v", l)
	}
	next := e.list(acme, "?limit=1&cursor="+l.NextCursor)
	if len(next.Data) != 1 || next.Data[0].ID == l.Data[0].ID {
		t.Fatalf("second page: %+v after %+v", next, l)
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", "/v1/policy-rules?limit=1&cursor="+l.NextCursor, globex, nil, "cursor")
	gl := e.list(globex, "?limit=1")
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", "/v1/policy-rules?limit=1&cursor="+gl.NextCursor, acme, nil, "cursor")
	// Paging covers every rule exactly once, whatever the page size.
	all := e.allRules(acme, 250)
	for _, size := range []int{1, 2, 3} {
		if got := e.allRules(acme, size); len(got) != len(all) {
			t.Errorf("limit=%d pages list %d rules, want %d", size, len(got), len(all))
		}
	}
	if got := e.allRules(globex, 1); len(got) != 3 {
		t.Errorf("globex lists %d rules, want 3", len(got))
	}
}

type keyOut struct {
	ID        string   `json:"id"`
	TenantID  string   `json:"tenant_id"`
	Name      string   `json:"name"`
	Prefix    string   `json:"prefix"`
	Scopes    []string `json:"scopes"`
	Key       string   `json:"key"`
	ExpiresAt *string  `json:"expires_at"`
	RevokedAt *string  `json:"revoked_at"`
}

// TestAPIKeys: create (raw key once), scope enforcement, revocation.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()

	cr := e.want(http.StatusCreated, "POST", "/v1/api-keys", admin, map[string]any{"name": "ci reader", "scopes": []string{"policies:read"}})
	var k keyOut
	if err := json.Unmarshal(cr.Body, &k); err != nil {
		t.Fatal(err)
	}
	if k.ID == "" || k.Key == "" || k.TenantID != e.demo.TenantID || !slices.Equal(k.Scopes, []string{"policies:read"}) ||
		k.Prefix == "" || !strings.HasPrefix(k.Key, k.Prefix) || k.RevokedAt != nil || k.ExpiresAt != nil {
		t.Fatalf("created key: %s", cr.Body)
	}
	if m := cr.obj(t); m["hash"] != nil || m["key_hash"] != nil {
		t.Fatalf("create response leaks the hash: %s", cr.Body)
	}
	reader := devstack.AdminHeaders(e.demo.TenantID, k.Key)

	e.want(http.StatusOK, "GET", "/v1/policy-rules", reader, nil)
	e.want(http.StatusOK, "GET", "/v1/policy-rules/dev-auto", reader, nil)
	e.want(http.StatusOK, "GET", "/v1/policy-rules/export", reader, nil)
	// policies:read may dry-run for anyone.
	e.want(http.StatusOK, "POST", "/v1/policies/evaluate", reader, map[string]any{"principal": "bob", "groups": []string{"engineering"}, "resource": account(devstack.DevAccount), "reason": "debug a deploy"})
	e.wantErr(http.StatusForbidden, "forbidden", "POST", "/v1/policy-rules", reader, stagingRule("nope", 600))
	e.wantErr(http.StatusForbidden, "forbidden", "PUT", "/v1/policy-rules/dev-auto", reader, stagingRule("dev-auto", 600))
	e.wantErr(http.StatusForbidden, "forbidden", "DELETE", "/v1/policy-rules/dev-auto", reader, nil)
	e.wantErr(http.StatusForbidden, "forbidden", "POST", "/v1/policy-rules/import", reader, "")
	e.wantErr(http.StatusForbidden, "forbidden", "POST", "/v1/api-keys", reader, map[string]any{"name": "escalate", "scopes": []string{"admin"}})
	e.wantErr(http.StatusForbidden, "forbidden", "DELETE", "/v1/api-keys/"+k.ID, reader, nil)
	// The key is acme's only.
	e.wantErr(http.StatusUnauthorized, "unauthorized", "GET", "/v1/policy-rules", devstack.AdminHeaders(e.demo.OtherTenantID, k.Key), nil)
	e.wantErr(http.StatusNotFound, "not_found", "DELETE", "/v1/api-keys/"+k.ID, e.otherAdmin(), nil)

	// A writer may write rules but not manage keys.
	wr := e.want(http.StatusCreated, "POST", "/v1/api-keys", admin, map[string]any{"name": "ci writer", "scopes": []string{"policies:write", "policies:write"}, "expires_in_seconds": 3600})
	var w keyOut
	if err := json.Unmarshal(wr.Body, &w); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Scopes, []string{"policies:write"}) || w.ExpiresAt == nil {
		t.Fatalf("writer key: %s", wr.Body)
	}
	writer := devstack.AdminHeaders(e.demo.TenantID, w.Key)
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", writer, stagingRule("by-writer", 600))
	e.wantErr(http.StatusForbidden, "forbidden", "POST", "/v1/api-keys", writer, map[string]any{"name": "x", "scopes": []string{"admin"}})

	// Revoke: the response never carries the raw key; the key stops working
	// at once (the dev stack's authorizer does not cache key lookups).
	rv := e.want(http.StatusOK, "DELETE", "/v1/api-keys/"+k.ID, admin, nil)
	var revoked keyOut
	if err := json.Unmarshal(rv.Body, &revoked); err != nil {
		t.Fatal(err)
	}
	if revoked.ID != k.ID || revoked.Key != "" || revoked.RevokedAt == nil || strings.Contains(string(rv.Body), k.Key) {
		t.Fatalf("revoke response: %s", rv.Body)
	}
	if _, has := rv.obj(t)["key"]; has {
		t.Fatalf("revoke response has a key field: %s", rv.Body)
	}
	e.wantErr(http.StatusUnauthorized, "unauthorized", "GET", "/v1/policy-rules", reader, nil)
	e.wantErr(http.StatusConflict, "conflict", "DELETE", "/v1/api-keys/"+k.ID, admin, nil)
	e.wantErr(http.StatusNotFound, "not_found", "DELETE", "/v1/api-keys/key-doesnotexist", admin, nil)
	// The other key is unaffected.
	e.want(http.StatusOK, "GET", "/v1/policy-rules", writer, nil)

	bad := []struct {
		name   string
		body   any
		fields []string
	}{
		{"unknown scope", map[string]any{"name": "x", "scopes": []string{"admin:everything"}}, []string{"scopes[0]"}},
		{"platform scope", map[string]any{"name": "x", "scopes": []string{"policies:read", "platform"}}, []string{"scopes[1]"}},
		{"no scopes", map[string]any{"name": "x", "scopes": []string{}}, []string{"scopes"}},
		{"missing scopes", map[string]any{"name": "x"}, []string{"scopes"}},
		{"empty name", map[string]any{"name": "", "scopes": []string{"admin"}}, []string{"name"}},
		{"control characters in name", map[string]any{"name": "a\x00b", "scopes": []string{"admin"}}, []string{"name"}},
		{"bidi override in name", map[string]any{"name": "ci\u202Egnp", "scopes": []string{"admin"}}, []string{"name"}},
		{"long name", map[string]any{"name": strings.Repeat("n", 257), "scopes": []string{"admin"}}, []string{"name"}},
		{"expiry too short", map[string]any{"name": "x", "scopes": []string{"admin"}, "expires_in_seconds": 5}, []string{"expires_in_seconds"}},
		{"negative expiry", map[string]any{"name": "x", "scopes": []string{"admin"}, "expires_in_seconds": -100}, []string{"expires_in_seconds"}},
		{"expiry too long", map[string]any{"name": "x", "scopes": []string{"admin"}, "expires_in_seconds": 63072001}, []string{"expires_in_seconds"}},
		{"huge expiry", map[string]any{"name": "x", "scopes": []string{"admin"}, "expires_in_seconds": int64(9223372036854775807)}, []string{"expires_in_seconds"}},
		{"expiry as string", map[string]any{"name": "x", "scopes": []string{"admin"}, "expires_in_seconds": "3600"}, []string{"expires_in_seconds"}},
		{"everything wrong", map[string]any{"name": "", "scopes": []string{"root"}, "expires_in_seconds": 1}, []string{"name", "scopes[0]", "expires_in_seconds"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, st: e.st, demo: e.demo}
			e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/api-keys", admin, c.body, c.fields...)
		})
	}
}

// TestCreateTenant: the platform key creates tenants whose first admin key
// works at once.
func TestCreateTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.want(http.StatusCreated, "POST", "/v1/tenants", e.platform(), map[string]string{"id": "initech", "name": "Initech"})
	var out struct {
		Tenant struct {
			ID             string `json:"id"`
			Name           string `json:"name"`
			RuleSetVersion int64  `json:"rule_set_version"`
		} `json:"tenant"`
		APIKey keyOut `json:"api_key"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Tenant.ID != "initech" || out.Tenant.Name != "Initech" || out.APIKey.Key == "" ||
		out.APIKey.TenantID != "initech" || !slices.Equal(out.APIKey.Scopes, []string{"admin"}) {
		t.Fatalf("create tenant: %s", r.Body)
	}
	key := devstack.AdminHeaders("initech", out.APIKey.Key)
	if l := e.list(key, ""); len(l.Data) != 0 {
		t.Fatalf("new tenant has rules: %+v", l)
	}
	if d := e.eval(key, devstack.DevAccount, 3600, false); d.Permitted || d.RuleSetVersion != 0 {
		t.Fatalf("new tenant's dry run: %+v", d)
	}
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", key, stagingRule("first", 600))
	if v := e.version(key); v != 1 {
		t.Fatalf("new tenant's version after one rule: %d", v)
	}
	// The new key is initech's only.
	e.wantErr(http.StatusUnauthorized, "unauthorized", "GET", "/v1/policy-rules", devstack.AdminHeaders(e.demo.TenantID, out.APIKey.Key), nil)

	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/tenants", e.platform(), map[string]string{"id": "initech", "name": "Again"})
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/tenants", e.platform(), map[string]string{"id": e.demo.TenantID, "name": "Acme again"})
	// The duplicate attempt did not disturb the existing tenant.
	e.want(http.StatusOK, "GET", "/v1/policy-rules/first", key, nil)
	e.want(http.StatusOK, "GET", "/v1/policy-rules/dev-auto", e.admin(), nil)

	for _, id := range []string{"Acme!", "a", "x#y", "", "-lead", "UPPER", strings.Repeat("a", 64), "a/b", "T#acme"} {
		t.Run("id "+id, func(t *testing.T) {
			e := &env{t: t, st: e.st, demo: e.demo}
			e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/tenants", e.platform(), map[string]string{"id": id, "name": "Bad"}, "id")
		})
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/tenants", e.platform(), map[string]string{"id": "okay", "name": ""}, "name")
	e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/tenants", e.platform(), map[string]any{"id": "okay", "name": "x", "admin": true}, "admin")
	// None of the refused ids became a tenant.
	e.want(http.StatusCreated, "POST", "/v1/tenants", e.platform(), map[string]string{"id": "okay", "name": "Okay"})
}

// listedKey is an entry of GET /v1/api-keys.
type listedKey struct {
	keyOut
	CreatedBy  string  `json:"created_by"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
	Revoked    bool    `json:"revoked"`
}

// TestListAPIKeys: an admin lists the tenant's keys — ids, names, scopes,
// dates, last use, revoked — never a raw key or hash, page by page, and
// never another tenant's.
func TestListAPIKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()
	type created struct{ id, raw string }
	var made []created
	for i := range 5 {
		body := map[string]any{"name": fmt.Sprintf("ci %d", i), "scopes": []string{"policies:read"}}
		if i == 0 {
			body["expires_in_seconds"] = 3600
		}
		var k keyOut
		if err := json.Unmarshal(e.want(http.StatusCreated, "POST", "/v1/api-keys", admin, body).Body, &k); err != nil {
			t.Fatal(err)
		}
		made = append(made, created{k.ID, k.Key})
	}
	// globex's key never shows in acme's list.
	var other keyOut
	if err := json.Unmarshal(e.want(http.StatusCreated, "POST", "/v1/api-keys", e.otherAdmin(), map[string]any{"name": "globex ci", "scopes": []string{"admin"}}).Body, &other); err != nil {
		t.Fatal(err)
	}
	// Key 1 is used, key 2 revoked.
	e.want(http.StatusOK, "GET", "/v1/policy-rules", devstack.AdminHeaders(e.demo.TenantID, made[1].raw), nil)
	e.want(http.StatusOK, "DELETE", "/v1/api-keys/"+made[2].id, admin, nil)

	r := e.want(http.StatusOK, "GET", "/v1/api-keys?limit=250", admin, nil)
	for _, raw := range append([]string{e.demo.AdminKey, other.Key}, func() []string {
		var rs []string
		for _, c := range made {
			rs = append(rs, c.raw)
		}
		return rs
	}()...) {
		if strings.Contains(string(r.Body), raw) || strings.Contains(string(r.Body), auth.HashKey(raw)) {
			t.Fatalf("the list leaks a raw key or its hash: %s", r.Body)
		}
	}
	for _, forbidden := range []string{`"key"`, `"hash"`, `"key_hash"`} {
		if strings.Contains(string(r.Body), forbidden) {
			t.Fatalf("the list has a %s field: %s", forbidden, r.Body)
		}
	}
	all := decodeAs[page[listedKey]](t, r).Data
	byID := map[string]listedKey{}
	for _, k := range all {
		if k.TenantID != e.demo.TenantID || k.ID == other.ID {
			t.Fatalf("acme's list has %+v", k)
		}
		byID[k.ID] = k
	}
	// The seeded admin key plus the five made here (the seed may add more).
	if len(all) < 6 {
		t.Fatalf("listed %d keys: %s", len(all), r.Body)
	}
	for i, c := range made {
		k, ok := byID[c.id]
		if !ok {
			t.Fatalf("key %s not listed: %s", c.id, r.Body)
		}
		if k.Name != fmt.Sprintf("ci %d", i) || !slices.Equal(k.Scopes, []string{"policies:read"}) || k.CreatedAt == "" ||
			k.CreatedBy == "" || k.Prefix == "" || !strings.HasPrefix(c.raw, k.Prefix) {
			t.Errorf("key %d listed as %+v", i, k)
		}
		if (k.ExpiresAt != nil) != (i == 0) {
			t.Errorf("key %d expires_at %v", i, k.ExpiresAt)
		}
		if k.Revoked != (i == 2) || (k.RevokedAt != nil) != (i == 2) {
			t.Errorf("key %d revoked %v at %v", i, k.Revoked, k.RevokedAt)
		}
		if (k.LastUsedAt != nil) != (i == 1) {
			t.Errorf("key %d last_used_at %v", i, k.LastUsedAt)
		}
	}
	// The admin key listing them was used too.
	if i := slices.IndexFunc(all, func(k listedKey) bool { return strings.HasPrefix(e.demo.AdminKey, k.Prefix) }); i < 0 || all[i].LastUsedAt == nil {
		t.Errorf("the admin key in use is not listed as used: %s", r.Body)
	}

	// Pages of 2 add up to the same list.
	if paged := listAll[listedKey](e, admin, "/v1/api-keys", 2); !slices.Equal(ids(paged, func(k listedKey) string { return k.ID }), ids(all, func(k listedKey) string { return k.ID })) {
		t.Errorf("paged list %v, want %v", ids(paged, func(k listedKey) string { return k.ID }), ids(all, func(k listedKey) string { return k.ID }))
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", "/v1/api-keys?limit=251", admin, nil, "limit")
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", "/v1/api-keys?cursor=garbage", admin, nil, "cursor")
	// A cursor of acme's list is not globex's.
	p := decodeAs[page[listedKey]](t, e.want(http.StatusOK, "GET", "/v1/api-keys?limit=1", admin, nil))
	if !p.HasMore || p.NextCursor == "" {
		t.Fatalf("first page of 1: %+v", p)
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", "/v1/api-keys?cursor="+url.QueryEscape(p.NextCursor), e.otherAdmin(), nil, "cursor")
	globex := listAll[listedKey](e, e.otherAdmin(), "/v1/api-keys", 50)
	if slices.ContainsFunc(globex, func(k listedKey) bool { return k.TenantID != e.demo.OtherTenantID || byID[k.ID].ID != "" }) ||
		!slices.ContainsFunc(globex, func(k listedKey) bool { return k.ID == other.ID }) {
		t.Errorf("globex's list: %+v", globex)
	}

	// Admin only: a non-admin key, a person, and a revoked key are refused.
	e.wantErr(http.StatusForbidden, "forbidden", "GET", "/v1/api-keys", devstack.AdminHeaders(e.demo.TenantID, made[0].raw), nil)
	e.wantErr(http.StatusForbidden, "forbidden", "GET", "/v1/api-keys", e.alice(), nil)
	e.wantErr(http.StatusUnauthorized, "unauthorized", "GET", "/v1/api-keys", devstack.AdminHeaders(e.demo.TenantID, made[2].raw), nil)
	e.wantErr(http.StatusForbidden, "forbidden", "GET", "/v1/api-keys", e.platform(), nil)
}

// TestLambdaEndpointGuarded: the workers' Lambda endpoint (which expires
// requests, provisions and revokes with no credentials) is not on the API
// listener, and its own loopback listener answers only the local Step
// Functions: no secret, a wrong one, or a browser's request are refused,
// and the pending request stays pending.
func TestLambdaEndpointGuarded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, requireRule("slow-review", "777788889999", "1h", 1))
	r := e.create(alice, accessRequest("777788889999", 3600, "needs a review"))
	if r.Status != access.StatusPending {
		t.Fatalf("created: %+v", r.Request)
	}
	e.waitToken(r.ID)
	payload := fmt.Sprintf(`{"tenant_id":%q,"request_id":%q}`, e.demo.TenantID, r.ID)
	const path = "/2015-03-31/functions/approval-timeout-worker/invocations"
	post := func(url string, headers map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(payload))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if e.st.LambdaURL == "" || strings.HasPrefix(e.st.LambdaURL, e.st.URL) || !strings.HasPrefix(e.st.LambdaURL, "http://127.0.0.1:") {
		t.Fatalf("Lambda endpoint %q, API %q", e.st.LambdaURL, e.st.URL)
	}
	for _, c := range []struct {
		name, url string
		headers   map[string]string
		status    int
	}{
		// The API listener has no Lambda endpoint, under any prefix.
		{"API listener /lambda", e.st.URL + "/lambda" + path, nil, http.StatusNotFound},
		{"API listener", e.st.URL + path, nil, http.StatusNotFound},
		{"API listener with an admin key", e.st.URL + "/lambda" + path, admin, http.StatusNotFound},
		// The loopback listener wants the secret, and no browser.
		{"no secret", e.st.LambdaURL + path, nil, http.StatusForbidden},
		{"wrong secret", e.st.LambdaURL + path, map[string]string{stepfunctions.LambdaSecretHeader: strings.Repeat("0", 64)}, http.StatusForbidden},
		{"a web page", e.st.LambdaURL + path, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
	} {
		if status, body := post(c.url, c.headers); status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.status)
		}
	}
	if got := e.request(alice, r.ID); got.Status != access.StatusPending || got.DecidedBy != "" {
		t.Fatalf("after the refused invokes: %+v", got.Request)
	}
	// The real local Step Functions still invokes the workers: a decision
	// provisions the grant.
	e.review(e.bob(), r.ID, "approve", nil)
	e.waitGrant(alice, access.GrantIDFor(r.ID), access.GrantActive, 30*time.Second)
}
