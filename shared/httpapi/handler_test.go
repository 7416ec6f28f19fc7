package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
)

// serve runs h behind the Lambda adapter, with id as the authorizer context
// (nil: none), and returns the response and what was logged.
func serve(t *testing.T, h httpapi.HandlerFunc, id *auth.Identity) (events.APIGatewayV2HTTPResponse, string) {
	t.Helper()
	var logs bytes.Buffer
	handler := httpapi.Wrap(slog.New(slog.NewJSONHandler(&logs, nil)), h)
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET /x", RawPath: "/x",
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "GET /x", RequestID: "req-123",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/x"},
		},
	}
	if id != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.AuthorizerContext()}
	}
	resp, err := httpadapter.NewV2(handler).ProxyWithContext(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return resp, logs.String()
}

func body(t *testing.T, resp events.APIGatewayV2HTTPResponse) errorBody {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	return b
}

var alice = auth.Identity{TenantID: "acme", PrincipalID: "alice", PrincipalType: auth.PrincipalUser,
	Scopes: []string{auth.ScopeRequestsRead}}

func TestWrap(t *testing.T) {
	// Panics become a logged 500 that leaks nothing.
	resp, logs := serve(t, func(http.ResponseWriter, *http.Request) error { panic("secret-detail") }, &alice)
	if resp.StatusCode != 500 || body(t, resp).Code != "internal" || strings.Contains(resp.Body, "secret-detail") {
		t.Errorf("panic: %d %s", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(logs, "secret-detail") || !strings.Contains(logs, `"request_id":"req-123"`) || !strings.Contains(logs, `"tenant_id":"acme"`) {
		t.Errorf("panic log lacks the panic or the ids: %s", logs)
	}

	// Plain errors: 500, logged, not leaked.
	resp, logs = serve(t, func(http.ResponseWriter, *http.Request) error { return errors.New("ddb: secret-detail") }, &alice)
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "secret-detail") || !strings.Contains(logs, "secret-detail") {
		t.Errorf("plain error: %d %s / %s", resp.StatusCode, resp.Body, logs)
	}

	// API errors pass through, wrapped or not.
	resp, _ = serve(t, func(http.ResponseWriter, *http.Request) error {
		return fmt.Errorf("ctx: %w", httpapi.Errorf(http.StatusConflict, "conflict", "moved"))
	}, &alice)
	if resp.StatusCode != 409 || body(t, resp).Code != "conflict" {
		t.Errorf("wrapped *Error: %d %s", resp.StatusCode, resp.Body)
	}

	// The handler sees the identity and the request-scoped logger.
	resp, logs = serve(t, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		httpapi.Logger(r.Context()).Info("hello from handler")
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"who": id.PrincipalID, "tenant": id.TenantID})
		return nil
	}, &alice)
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"who":"alice"`) || !strings.Contains(resp.Body, `"tenant":"acme"`) {
		t.Errorf("identity: %d %s", resp.StatusCode, resp.Body)
	}
	var line map[string]any
	for l := range strings.Lines(logs) {
		if strings.Contains(l, "hello from handler") {
			_ = json.Unmarshal([]byte(l), &line)
		}
	}
	if line["request_id"] != "req-123" || line["tenant_id"] != "acme" || line["principal_id"] != "alice" {
		t.Errorf("handler log line lacks ids: %v", line)
	}
}

func TestCallerAndRequireTenant(t *testing.T) {
	who := func(scopes ...string) httpapi.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error {
			if _, err := httpapi.RequireTenant(r, scopes...); err != nil {
				return err
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
	}
	platform := auth.Identity{PrincipalID: auth.PrincipalPlatform, PrincipalType: auth.PrincipalPlatform, Scopes: []string{auth.ScopePlatform}}
	admin := auth.Identity{TenantID: "acme", PrincipalID: "key-1", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopeAdmin}}
	cases := []struct {
		name   string
		id     *auth.Identity
		scopes []string
		status int
		code   string
	}{
		{"no identity", nil, nil, 401, "unauthorized"},
		{"no identity, scoped", nil, []string{auth.ScopeAdmin}, 401, "unauthorized"},
		{"platform on tenant route", &platform, nil, 403, "forbidden"},
		{"platform with platform scope", &platform, []string{auth.ScopePlatform}, 403, "forbidden"},
		{"user without scope", &alice, []string{auth.ScopePoliciesRead}, 403, "forbidden"},
		{"user with one of the scopes", &alice, []string{auth.ScopePoliciesRead, auth.ScopeRequestsRead}, 204, ""},
		{"user, no scope needed", &alice, nil, 204, ""},
		{"admin implies tenant scopes", &admin, []string{auth.ScopePoliciesWrite}, 204, ""},
		{"admin does not imply platform", &admin, []string{auth.ScopePlatform}, 403, "forbidden"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, _ := serve(t, who(c.scopes...), c.id)
			if resp.StatusCode != c.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, c.status)
			}
			if c.code != "" && body(t, resp).Code != c.code {
				t.Fatalf("code %s", resp.Body)
			}
		})
	}
	// Credential headers alone never make an identity.
	r, _ := http.NewRequest("GET", "/x", nil)
	r.Header.Set("X-API-Key", "jit_x")
	r.Header.Set("X-Tenant-ID", "acme")
	if _, err := httpapi.Caller(r); err == nil {
		t.Fatal("Caller trusted raw headers")
	}
}
