package api_test

import (
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// TestConstructorsCoverRouteTable: every function of the route table has a
// handler constructor and there is none without a route.
func TestConstructorsCoverRouteTable(t *testing.T) {
	var fromTable []string
	for _, r := range routes.Table {
		if !slices.Contains(fromTable, r.Function) {
			fromTable = append(fromTable, r.Function)
		}
	}
	slices.Sort(fromTable)
	ctors := slices.Sorted(maps.Keys(api.Constructors()))
	if !slices.Equal(ctors, fromTable) {
		t.Fatalf("api.Constructors() %v\nroutes.Table functions %v", ctors, fromTable)
	}
	if slices.Contains(ctors, routes.Authorizer) {
		t.Errorf("the authorizer is not a route handler")
	}
	deps := api.Deps{Logger: slog.New(slog.DiscardHandler)}
	for name, ctor := range api.Constructors() {
		if ctor == nil || ctor(deps) == nil {
			t.Errorf("%s: nil constructor or handler", name)
			continue
		}
		if _, err := lambdaapp.Mux(name, ctor(deps)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// invoke runs the route's handler on one API Gateway v2 event, as its
// Lambda does, with no store behind it: a handler that reached the store
// would panic and answer 500, so every case here must be refused first.
func invoke(t *testing.T, rt routes.Route, target string, id *auth.Identity, headers map[string]string, body string) (int, map[string]any) {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	var q map[string]string
	for kv := range strings.SplitSeq(query, "&") {
		if k, v, _ := strings.Cut(kv, "="); k != "" {
			if q == nil {
				q = map[string]string{}
			}
			q[k] = v
		}
	}
	h := api.Constructors()[rt.Function](storeless())
	mux, err := lambdaapp.Mux(rt.Function, h)
	if err != nil {
		t.Fatal(err)
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.Key(), RawPath: path, RawQueryString: query, QueryStringParameters: q,
		Headers: headers, Body: body,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Key(), RequestID: "test",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: rt.Method, Path: path},
		},
	}
	if id != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.AuthorizerContext()}
	}
	resp, err := validated(t, httpadapter.NewV2(mux).ProxyWithContext)(t.Context(), ev)
	if err != nil {
		t.Fatalf("%s: %v", rt.Key(), err)
	}
	var m map[string]any
	if resp.StatusCode >= 400 {
		if err := json.Unmarshal([]byte(resp.Body), &m); err != nil || m["code"] == "" || m["code"] == nil {
			t.Errorf("%s: error body %q", rt.Key(), resp.Body)
		}
	}
	return resp.StatusCode, m
}

func concretePath(p string) string { return strings.ReplaceAll(p, "{id}", "some-id") }

// storeless are Deps with a clock and a logger but no store or policy cache.
func storeless() api.Deps {
	return api.Deps{Logger: slog.New(slog.DiscardHandler), Now: time.Now}
}

// TestHandlersFailClosedWithoutAuthorizer: a route deployed without the
// authorizer refuses everything with 401, whatever credential headers say.
func TestHandlersFailClosedWithoutAuthorizer(t *testing.T) {
	forged := map[string]string{"x-tenant-id": "acme", "x-api-key": "jit_whatever", "content-type": "application/json"}
	for _, rt := range routes.Table {
		status, m := invoke(t, rt, concretePath(rt.Path), nil, forged, `{}`)
		switch {
		case rt.Public:
			// healthz answers; the sign-in discovery has no tenant here ("{tenant_id}")
			if status != http.StatusOK && (rt.Function != "get-sign-in" || status != http.StatusNotFound) {
				t.Errorf("%s: public route answered %d", rt.Key(), status)
			}
		case status != http.StatusUnauthorized || m["code"] != "unauthorized":
			t.Errorf("%s without authorizer context: %d %v", rt.Key(), status, m)
		}
	}
	// An inconsistent authorizer context fails closed too.
	bad := &auth.Identity{PrincipalType: auth.PrincipalUser, PrincipalID: "alice", TenantID: "NOT VALID"}
	for _, rt := range routes.Table {
		if rt.Public {
			continue
		}
		if status, _ := invoke(t, rt, concretePath(rt.Path), bad, nil, `{}`); status != http.StatusUnauthorized {
			t.Errorf("%s with an invalid authorizer context: %d", rt.Key(), status)
		}
	}
}

// TestHandlersCheckScopesFirst: every route refuses identities without its
// scope, before touching the store.
func TestHandlersCheckScopesFirst(t *testing.T) {
	user := &auth.Identity{TenantID: "acme", PrincipalID: "alice", PrincipalType: auth.PrincipalUser,
		Groups: []string{"engineering"}, Scopes: []string{auth.ScopeRequestsRead, auth.ScopeRequestsWrite}}
	reader := &auth.Identity{TenantID: "acme", PrincipalID: "key-r", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopePoliciesRead}}
	writer := &auth.Identity{TenantID: "acme", PrincipalID: "key-w", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopePoliciesWrite}}
	noScopes := &auth.Identity{TenantID: "acme", PrincipalID: "key-n", PrincipalType: auth.PrincipalAPIKey}
	admin := &auth.Identity{TenantID: "acme", PrincipalID: "key-a", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopeAdmin}}
	platform := &auth.Identity{PrincipalID: auth.PrincipalPlatform, PrincipalType: auth.PrincipalPlatform, Scopes: []string{auth.ScopePlatform}}

	// who may call each function (all others get 403).
	allowed := map[string][]*auth.Identity{
		"create-tenant":       {platform},
		"create-api-key":      {admin},
		"delete-api-key":      {admin},
		"list-api-keys":       {admin},
		"list-policy-rules":   {reader, writer, admin},
		"get-policy-rule":     {reader, writer, admin},
		"export-policy-rules": {reader, writer, admin},
		"create-policy-rule":  {writer, admin},
		"update-policy-rule":  {writer, admin},
		"delete-policy-rule":  {writer, admin},
		"import-policy-rules": {writer, admin},
		"evaluate-policy":     {user, reader, writer, admin},

		// requests:read / requests:write (users have both; admin implies all)
		"create-request":   {user, admin},
		"list-requests":    {user, admin},
		"get-request":      {user, admin},
		"approve-request":  {user, admin},
		"deny-request":     {user, admin},
		"cancel-request":   {user, admin},
		"list-messages":    {user, admin},
		"post-message":     {user, admin},
		"list-grants":      {user, admin},
		"get-grant":        {user, admin},
		"revoke-grant":     {user, admin},
		"extend-grant":     {user, admin},
		"list-audit-log":   {admin},
		"verify-audit-log": {admin},

		// tenant configuration: admin only
		"get-aws-settings":            {admin},
		"put-aws-settings":            {admin},
		"get-identity-settings":       {admin},
		"put-identity-settings":       {admin},
		"list-notification-channels":  {admin},
		"create-notification-channel": {admin},
		"get-notification-channel":    {admin},
		"update-notification-channel": {admin},
		"delete-notification-channel": {admin},
		"test-notification-channel":   {admin},
	}
	everyone := []*auth.Identity{user, reader, writer, noScopes, admin, platform}
	for _, rt := range routes.Table {
		if rt.Public {
			continue
		}
		ok, known := allowed[rt.Function]
		if !known {
			t.Errorf("%s: no expectation for function %s", rt.Key(), rt.Function)
			continue
		}
		for _, id := range everyone {
			if slices.Contains(ok, id) {
				continue
			}
			status, m := invoke(t, rt, concretePath(rt.Path), id, map[string]string{"content-type": "application/json"}, `{}`)
			if status != http.StatusForbidden || m["code"] != "forbidden" {
				t.Errorf("%s as %s: %d %v, want 403 forbidden", rt.Key(), id.PrincipalID, status, m)
			}
		}
	}
}

// TestHandlersValidateBeforeStore: input errors are 4xx before any store
// access (no store here: reaching it would be a 500).
func TestHandlersValidateBeforeStore(t *testing.T) {
	admin := &auth.Identity{TenantID: "acme", PrincipalID: "key-a", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopeAdmin}}
	user := &auth.Identity{TenantID: "acme", PrincipalID: "alice", PrincipalType: auth.PrincipalUser, Scopes: []string{auth.ScopeRequestsRead}}
	requester := &auth.Identity{TenantID: "acme", PrincipalID: "alice", PrincipalType: auth.PrincipalUser, Scopes: []string{auth.ScopeRequestsWrite}}
	platform := &auth.Identity{PrincipalID: auth.PrincipalPlatform, PrincipalType: auth.PrincipalPlatform, Scopes: []string{auth.ScopePlatform}}
	route := func(fn string) routes.Route {
		for _, r := range routes.Table {
			if r.Function == fn {
				return r
			}
		}
		t.Fatalf("no route for %s", fn)
		return routes.Route{}
	}
	js := map[string]string{"content-type": "application/json"}
	cases := []struct {
		fn, path string
		id       *auth.Identity
		headers  map[string]string
		body     string
		status   int
	}{
		{"create-tenant", "/v1/tenants", platform, js, `{"id":"Acme!","name":"x"}`, 400},
		{"create-tenant", "/v1/tenants", platform, js, `{"id":"acme"`, 400},
		{"create-api-key", "/v1/api-keys", admin, js, `{"name":"x","scopes":["root"]}`, 400},
		{"create-api-key", "/v1/api-keys", admin, map[string]string{"content-type": "text/plain"}, `{}`, 415},
		{"create-api-key", "/v1/api-keys", admin, js, `{"name":"ci\u202Egnp.exe","scopes":["admin"]}`, 400},
		{"create-api-key", "/v1/api-keys", admin, js, `{"name":"ci\u200b","scopes":["admin"]}`, 400},
		{"create-api-key", "/v1/api-keys", admin, js, `{"NAME":"ci","scopes":["admin"]}`, 400},
		{"create-api-key", "/v1/api-keys", admin, js, `{"name":"ci","name":"cd","scopes":["admin"]}`, 400},
		{"create-tenant", "/v1/tenants", platform, js, `{"id":"acme","name":"Acme\u2066"}`, 400},
		{"evaluate-policy", "/v1/policies/evaluate", user, js, `{"resource":{"type":"aws_account","id":"111111111111"},"justification":"x\u202E"}`, 400},
		{"evaluate-policy", "/v1/policies/evaluate", admin, js, `{"resource":{"type":"aws_account","id":"111111111111"},"groups":["eng\u202E"]}`, 400},
		{"create-request", "/v1/requests", requester, js, `{"RESOURCE_TYPE":"aws_account","resource_id":"111111111111","justification":"x"}`, 400},
		{"create-request", "/v1/requests", requester, js, `{"resource_type":"aws_account","resource_id":"111111111111","resource_id":"222222222222","justification":"x"}`, 400},
		{"create-policy-rule", "/v1/policy-rules", admin, js, `{"id":"r","effect":"allow"}`, 400},
		{"update-policy-rule", "/v1/policy-rules/r", admin, map[string]string{"content-type": "application/json", "if-match": "x"}, `{}`, 400},
		{"update-policy-rule", "/v1/policy-rules/r", admin, js, `{"id":"other","name":"n","priority":1,"effect":"permit","principal_scope_type":"any","action_scope_type":"any","resource_scope_type":"any"}`, 400},
		{"import-policy-rules", "/v1/policy-rules/import?replace=yes", admin, nil, ``, 400},
		{"import-policy-rules", "/v1/policy-rules/import", admin, nil, `permit(`, 400},
		{"import-policy-rules", "/v1/policy-rules/import?replace=true", admin, nil, ``, 400},
		{"import-policy-rules", "/v1/policy-rules/import?replace=true", admin, nil, " \n// no rules here\n", 400},
		{"import-policy-rules", "/v1/policy-rules/import", admin, nil, ``, 400},
		{"import-policy-rules", "/v1/policy-rules/import?confirm=all", admin, nil, ``, 400},
		{"import-policy-rules", "/v1/policy-rules/import?replace=true&confirm=yes", admin, nil, ``, 400},
		{"import-policy-rules", "/v1/policy-rules/import?replace=true&confirm=", admin, nil, ``, 400},
		{"list-policy-rules", "/v1/policy-rules?limit=0", admin, nil, ``, 400},
		{"evaluate-policy", "/v1/policies/evaluate", user, js, `{"principal":"bob","resource":{"type":"aws_account","id":"111111111111"}}`, 403},
		{"evaluate-policy", "/v1/policies/evaluate", user, js, `{"resource":{"type":"aws_account","id":"1"}}`, 400},
	}
	for _, c := range cases {
		rt := route(c.fn)
		status, m := invoke(t, rt, c.path, c.id, c.headers, c.body)
		if status != c.status {
			t.Errorf("%s %s %s: %d %v, want %d", rt.Method, c.path, c.body, status, m, c.status)
		}
	}
}
