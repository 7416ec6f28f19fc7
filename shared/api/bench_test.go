package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/store/dynamotest"
)

// startsNothing is the workflow edge with the start excluded from the
// measurement: it records nothing and never fails.
type startsNothing struct{}

func (startsNothing) Start(context.Context, access.WorkflowInput) error { return nil }
func (startsNothing) Resume(context.Context, string, access.WorkflowOutcome) error {
	return nil
}

// BenchmarkCreateRequest measures POST /v1/requests through the handler
// stack a Lambda runs — API Gateway v2 event → httpadapter → route mux →
// handler → policy decision → one DynamoDB transaction (request, target
// lock, audit event) on the embedded DynamoDB over HTTP — with the
// workflow start excluded. Every iteration is a new requester, so the
// duplicate guard never refuses.
func BenchmarkCreateRequest(b *testing.B) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(b)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Now()},
		store.APIKey{ID: "key-bench", Hash: auth.HashKey("jit_bench"), Scopes: []string{auth.ScopeAdmin}, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	rule, err := policy.Normalize(policy.Rule{ID: "dev-auto", Name: "dev auto", Priority: 100, Enabled: true, Effect: policy.EffectPermit,
		PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: "Group", PrincipalEntityID: "engineering",
		ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
		ResourceScopeType: policy.ScopeIn, ResourceEntityType: "AwsAccount", ResourceEntityID: "111111111111",
		Conditions: "when { context.duration_seconds <= 14400 }", ApprovalMode: policy.ModeAuto})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.CreateRule(ctx, "acme", rule, time.Now()); err != nil {
		b.Fatal(err)
	}
	deps := api.NewDeps(s, startsNothing{}, recording.New(s), slog.New(slog.DiscardHandler))
	mux, err := lambdaapp.Mux("create-request", api.CreateRequest(deps))
	if err != nil {
		b.Fatal(err)
	}
	proxy := httpadapter.NewV2(mux).ProxyWithContext
	body := `{"resource":{"type":"aws_account","id":"111111111111"},"reason":"benchmark: debug a failing deploy","duration_seconds":3600}`
	event := func(i int) events.APIGatewayV2HTTPRequest {
		id := auth.Identity{TenantID: "acme", PrincipalID: fmt.Sprintf("user-%d", i), PrincipalType: auth.PrincipalUser,
			Groups: []string{"engineering"}, Scopes: []string{auth.ScopeRequestsRead, auth.ScopeRequestsWrite}}
		return events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "POST /v1/requests", RawPath: "/v1/requests", Body: body,
			Headers: map[string]string{"content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: "POST /v1/requests", Stage: "$default", RequestID: fmt.Sprintf("bench-%d", i),
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/requests"},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.AuthorizerContext()},
			},
		}
	}
	// Warm: compile the tenant's rules once, as a warm Lambda would have.
	if resp, err := proxy(ctx, event(-1)); err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("warm-up: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := proxy(ctx, event(i))
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatalf("iteration %d: %v %d %s", i, err, resp.StatusCode, resp.Body)
		}
	}
}
