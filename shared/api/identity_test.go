package api_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// TestPutIdentitySettingsChecksVersionFirst: a PUT whose If-Match names a
// version the settings are not at is a 409 before the issuer is fetched —
// a stale form never makes the function call out to a URL the tenant
// chose — and nothing changes; the current version fetches it once and
// saves.
func TestPutIdentitySettingsChecksVersionFirst(t *testing.T) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Now()},
		store.APIKey{ID: "key-admin", Hash: auth.HashKey("jit_identity"), Scopes: []string{auth.ScopeAdmin}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	deps := api.NewDeps(s, startsNothing{}, recording.New(s), slog.New(slog.DiscardHandler))
	var fetches atomic.Int32
	deps.IssuerCheck = func(_ context.Context, issuer string) (string, error) {
		fetches.Add(1)
		return issuer + "/jwks", nil
	}
	mux, err := lambdaapp.Mux("put-identity-settings", api.PutIdentitySettings(deps))
	if err != nil {
		t.Fatal(err)
	}
	proxy := validated(t, httpadapter.NewV2(mux).ProxyWithContext)
	admin := auth.Identity{TenantID: "acme", PrincipalID: "key-admin", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopeAdmin}}
	put := func(ifMatch, issuer string) int {
		t.Helper()
		const path = "/v1/settings/identity"
		h := map[string]string{"content-type": "application/json"}
		if ifMatch != "" {
			h["if-match"] = ifMatch
		}
		resp, err := proxy(ctx, events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "PUT " + path, RawPath: path, Headers: h,
			Body: `{"issuer_url":"` + issuer + `","audience":"jitsudo","client_id":"approvals"}`,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: "PUT " + path, Stage: "$default", RequestID: "identity",
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "PUT", Path: path},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: admin.AuthorizerContext()},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if code := put("", "https://idp.example.com/acme"); code != 200 || fetches.Load() != 1 {
		t.Fatalf("first save: %d after %d fetches, want 200 after 1", code, fetches.Load())
	}
	if code := put("7", "https://idp.example.com/other"); code != 409 || fetches.Load() != 1 {
		t.Fatalf("stale If-Match: %d after %d fetches, want 409 with no new fetch", code, fetches.Load())
	}
	got, err := s.GetIdentitySettings(ctx, "acme")
	if err != nil || got.Version != 1 || got.IssuerURL != "https://idp.example.com/acme" {
		t.Fatalf("after the refused PUT: %+v %v, want version 1 unchanged", got, err)
	}
	if code := put("1", "https://idp.example.com/other"); code != 200 || fetches.Load() != 2 {
		t.Fatalf("current If-Match: %d after %d fetches, want 200 after 2", code, fetches.Load())
	}
}
