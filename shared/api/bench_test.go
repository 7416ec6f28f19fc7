package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// startsNothing is the workflow edge with the start excluded from the
// measurement: it records nothing and never fails.
type startsNothing struct{}

func (startsNothing) Start(context.Context, access.WorkflowInput) error { return nil }
func (startsNothing) Resume(context.Context, string, access.WorkflowOutcome) error {
	return nil
}

// createRequestStack is the create-request Lambda's handler stack (API
// Gateway v2 event → httpadapter → route mux → handler) over a fresh table
// of the embedded DynamoDB holding tenant acme and a dev-account auto rule,
// with wf as the workflow edge. event(i, key) is a POST /v1/requests by
// requester user-<i> with an optional Idempotency-Key.
func createRequestStack(tb testing.TB, wf access.Workflow) (proxy func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), event func(i int, key string) events.APIGatewayV2HTTPRequest) {
	tb.Helper()
	ctx := context.Background()
	s, _, _ := dynamotest.New(tb)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Now()},
		store.APIKey{ID: "key-bench", Hash: auth.HashKey("jit_bench"), Scopes: []string{auth.ScopeAdmin}, CreatedAt: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	rule, err := policy.Normalize(policy.Rule{ID: "dev-auto", Name: "dev auto", Priority: 100, Enabled: true, Effect: policy.EffectPermit,
		PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: "Group", PrincipalEntityID: "engineering",
		ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
		ResourceScopeType: policy.ScopeIn, ResourceEntityType: "AwsAccount", ResourceEntityID: "111111111111",
		Conditions: "when { context.duration_seconds <= 14400 }", ApprovalMode: policy.ModeAuto})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.CreateRule(ctx, "acme", rule, time.Now()); err != nil {
		tb.Fatal(err)
	}
	deps := api.NewDeps(s, wf, recording.New(s), slog.New(slog.DiscardHandler))
	mux, err := lambdaapp.Mux("create-request", api.CreateRequest(deps))
	if err != nil {
		tb.Fatal(err)
	}
	body := `{"resource":{"type":"aws_account","id":"111111111111"},"reason":"benchmark: debug a failing deploy","duration_seconds":3600}`
	event = func(i int, key string) events.APIGatewayV2HTTPRequest {
		id := auth.Identity{TenantID: "acme", PrincipalID: fmt.Sprintf("user-%d", i), PrincipalType: auth.PrincipalUser,
			Groups: []string{"engineering"}, Scopes: []string{auth.ScopeRequestsRead, auth.ScopeRequestsWrite}}
		headers := map[string]string{"content-type": "application/json"}
		if key != "" {
			headers["idempotency-key"] = key
		}
		return events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "POST /v1/requests", RawPath: "/v1/requests", Body: body, Headers: headers,
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RouteKey: "POST /v1/requests", Stage: "$default", RequestID: fmt.Sprintf("bench-%d", i),
				HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/requests"},
				Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.AuthorizerContext()},
			},
		}
	}
	return httpadapter.NewV2(mux).ProxyWithContext, event
}

// BenchmarkCreateRequest measures POST /v1/requests through the handler
// stack a Lambda runs — API Gateway v2 event → httpadapter → route mux →
// handler → policy decision → one DynamoDB transaction (request, target
// lock, audit event) on the embedded DynamoDB over HTTP — with the
// workflow start excluded. Every iteration is a new requester, so the
// duplicate guard never refuses.
func BenchmarkCreateRequest(b *testing.B) {
	ctx := context.Background()
	proxy, event := createRequestStack(b, startsNothing{})
	// Warm: compile the tenant's rules once, as a warm Lambda would have.
	// The warm-up call is checked against the OpenAPI document; the
	// measured ones are not (the validator would be measured too).
	if resp, err := validated(b, proxy)(ctx, event(-1, "")); err != nil || resp.StatusCode != http.StatusCreated {
		b.Fatalf("warm-up: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := proxy(ctx, event(i, ""))
		if err != nil || resp.StatusCode != http.StatusCreated {
			b.Fatalf("iteration %d: %v %d %s", i, err, resp.StatusCode, resp.Body)
		}
	}
}

// failingStarts fails its first n workflow starts, then starts nothing.
type failingStarts struct {
	mu      sync.Mutex
	n       int
	started int
}

func (f *failingStarts) Start(context.Context, access.WorkflowInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 {
		f.n--
		return errors.New("states: service unavailable")
	}
	f.started++
	return nil
}
func (f *failingStarts) Resume(context.Context, string, access.WorkflowOutcome) error { return nil }

// TestCreateRequestWorkflowUnavailable: a request whose workflow cannot be
// started is stored and answered 201 all the same: the commit is the
// truth, and the workflow driver starts the execution from the table's
// stream (no client retry needed). A retry with the same Idempotency-Key
// still replays it (same id) and starts the workflow.
func TestCreateRequestWorkflowUnavailable(t *testing.T) {
	ctx := context.Background()
	wf := &failingStarts{n: 3} // the service tries 3 times per call
	proxy, event := createRequestStack(t, wf)
	proxy = validated(t, proxy)
	resp, err := proxy(ctx, event(1, "retry-me"))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("first attempt: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	var first struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &first); err != nil || first.ID == "" || first.Status != access.StatusApproved {
		t.Fatalf("first attempt body: %s (%v)", resp.Body, err)
	}
	if wf.started != 0 {
		t.Fatalf("a failing start counted as started")
	}
	resp, err = proxy(ctx, event(1, "retry-me"))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("retry: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	var again struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &again); err != nil || again.ID != first.ID {
		t.Fatalf("retry created %q, want the replay of %q", again.ID, first.ID)
	}
	if resp.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("retry not marked as a replay: %v", resp.Headers)
	}
	if wf.started != 1 {
		t.Errorf("workflow started %d times by the retry, want 1", wf.started)
	}
}
