package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The credentials the sample events in events/ carry.
const (
	EventTenant      = "acme"
	EventAdminKey    = "jit_eventAdminKey000000000000000000000000000000"
	EventAdminKeyID  = "key-admin"
	EventCIKeyID     = "key-ci"
	EventPlatformKey = "platform-event-key-0000000000"
)

// fixtureRules are the seeded demo rules the events refer to.
var fixtureRules = []string{"dev-auto", "prod-require", "sre-leads-review"}

// SeedEventFixtures makes a fresh table look like the tenant the sample
// events were written against: tenant acme, its admin key (the one in
// events/authorizer.json), a CI key to revoke and the rules the events read
// and update.
func SeedEventFixtures(ctx context.Context, s *store.Store) error {
	now := time.Now().UTC()
	admin := store.APIKey{ID: EventAdminKeyID, Name: "sample-event admin key", Hash: auth.HashKey(EventAdminKey),
		Prefix: EventAdminKey[:12], Scopes: []string{auth.ScopeAdmin}, CreatedBy: "fixtures", CreatedAt: now}
	if err := s.CreateTenant(ctx, store.Tenant{ID: EventTenant, Name: "Acme (sample events)", CreatedAt: now}, admin); err != nil {
		return fmt.Errorf("fixtures: tenant: %w", err)
	}
	_, ciHash, ciPrefix, err := auth.GenerateKey()
	if err != nil {
		return err
	}
	ci := store.APIKey{ID: EventCIKeyID, TenantID: EventTenant, Name: "ci", Hash: ciHash, Prefix: ciPrefix,
		Scopes: []string{auth.ScopePoliciesWrite}, CreatedBy: EventAdminKeyID, CreatedAt: now}
	if err := s.CreateAPIKey(ctx, ci); err != nil {
		return fmt.Errorf("fixtures: ci key: %w", err)
	}
	for _, want := range fixtureRules {
		for _, m := range devstack.DemoRules {
			if m["id"] != want {
				continue
			}
			raw, _ := json.Marshal(m)
			r := policy.Rule{Enabled: true}
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("fixtures: rule %s: %w", want, err)
			}
			n, err := policy.Normalize(r)
			if err != nil {
				return fmt.Errorf("fixtures: rule %s: %w", want, err)
			}
			if _, err := s.CreateRule(ctx, EventTenant, n, now); err != nil {
				return fmt.Errorf("fixtures: rule %s: %w", want, err)
			}
		}
	}
	return seedWorkflowFixtures(ctx, s, now)
}

// The requests and grant the workflow workers' events (events/<worker>.json)
// act on.
const (
	EventPendingRequest  = "req_eventpending"  // require, pending: store-task-token, approval-timeout-worker
	EventApprovedRequest = "req_eventapproved" // auto, approved with EventGrant
	EventGrant           = "grt_eventapproved" // provisioning: provision-grant, fail-grant, expire-grant
)

func seedWorkflowFixtures(ctx context.Context, s *store.Store, now time.Time) error {
	res := access.Resource{Type: "aws_account", ID: "123456789012"}
	pending := access.Request{ID: EventPendingRequest, TenantID: EventTenant, RequesterID: "alice",
		RequesterGroups: []string{"engineering", "oncall"}, RequesterEmail: "alice@acme.example",
		Resource: res, Action: "request_access", Reason: "sample event: on-call investigation", DurationSeconds: 3600,
		Status: access.StatusPending, ApprovalMode: "require", ApprovalTimeout: 3600, ApprovalsRequired: 1,
		CreatedAt: now, UpdatedAt: now, Version: 1}
	approved := pending
	approved.ID, approved.Status, approved.ApprovalMode, approved.ApprovalTimeout = EventApprovedRequest, access.StatusApproved, "auto", 0
	approved.DecidedBy, approved.DecidedAt, approved.GrantID = access.DecidedByPolicy, &now, EventGrant
	approved.Resource = access.Resource{Type: "aws_account", ID: "210987654321"}
	grant := access.Grant{ID: EventGrant, TenantID: EventTenant, RequestID: EventApprovedRequest, GranteeID: approved.RequesterID,
		Resource: approved.Resource, Status: access.GrantProvisioning, DurationSeconds: 3600, CreatedAt: now, UpdatedAt: now, Version: 1}
	for _, ch := range []access.Change{
		{Request: &access.RequestWrite{Request: pending, Create: true}},
		{Request: &access.RequestWrite{Request: approved, Create: true}, Grant: &access.GrantWrite{Grant: grant, Create: true}},
	} {
		if _, err := s.Commit(ctx, EventTenant, ch); err != nil {
			return fmt.Errorf("fixtures: workflow request: %w", err)
		}
	}
	return nil
}

// EventStateMachineARN is the STATE_MACHINE_ARN functions get locally.
// Functions get a closed SFN_ENDPOINT unless the caller runs a local Step
// Functions and passes its endpoint (WithWorkflow).
const EventStateMachineARN = "arn:aws:states:us-east-1:000000000000:stateMachine:access-request"

// FunctionEnv is the environment a function runs with locally: the table
// on a local endpoint, dummy credentials (so the SDK never probes EC2
// metadata), and the authorizer's settings for the sample events.
func FunctionEnv(endpoint, table string) []string {
	return []string{
		"TABLE_NAME=" + table, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "LOG_LEVEL=info",
		"PLATFORM_ADMIN_KEY=" + EventPlatformKey, "API_KEY_CACHE_TTL=0",
		"STATE_MACHINE_ARN=" + EventStateMachineARN, "SFN_ENDPOINT=http://127.0.0.1:9",
	}
}

// StartsWorkflow reports whether fn's sample events start executions, so
// the function must run against a local Step Functions rather than a
// closed endpoint.
func StartsWorkflow(fn string) bool { return fn == "create-request" }

// Environment returns the environment fn runs with against the table on
// endpoint. For functions that start executions it also runs the real state
// machine on the local Step Functions, with the worker Lambdas in process
// over the same table; stop ends them.
func Environment(ctx context.Context, fn, endpoint, table string, s *store.Store) (env []string, stop func(), err error) {
	env = FunctionEnv(endpoint, table)
	if !StartsWorkflow(fn) {
		return env, func() {}, nil
	}
	var lambda atomic.Pointer[http.Handler] // set once the workers exist
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := lambda.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	wf, err := devstack.StartWorkflow(ctx, s, srv.URL, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		srv.Close()
		return nil, nil, err
	}
	lambda.Store(&wf.Lambda)
	return append(env, "SFN_ENDPOINT="+wf.Endpoint), func() { wf.Close(); srv.Close() }, nil
}
