package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
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
	var rules []map[string]any
	for _, want := range fixtureRules {
		for _, m := range devstack.DemoRules {
			if m["id"] == want {
				rules = append(rules, m)
			}
		}
	}
	for _, m := range append(rules, extensionRules...) {
		raw, _ := json.Marshal(m)
		r := policy.Rule{Enabled: true}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("fixtures: rule %s: %w", m["id"], err)
		}
		n, err := policy.Normalize(r)
		if err != nil {
			return fmt.Errorf("fixtures: rule %s: %w", m["id"], err)
		}
		if _, err := s.CreateRule(ctx, EventTenant, n, now); err != nil {
			return fmt.Errorf("fixtures: rule %s: %w", m["id"], err)
		}
	}
	if _, err := s.PutAWSSettings(ctx, EventAWSSettings(now), 0); err != nil {
		return fmt.Errorf("fixtures: AWS settings: %w", err)
	}
	if _, err := s.PutIdentitySettings(ctx, EventIdentitySettings(now), 0); err != nil {
		return fmt.Errorf("fixtures: identity settings: %w", err)
	}
	return seedWorkflowFixtures(ctx, s, now)
}

// The tenant's AWS settings (events/get-aws-settings.json reads them,
// put-aws-settings.json replaces them, the reconciler works with them).
const (
	EventInstanceARN     = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
	EventIdentityStoreID = "d-1234567890"
	EventAWSRegion       = "eu-west-1"
	EventRoleARN         = "arn:aws:iam::123456789012:role/jitsudo-provisioner"
	EventExternalID      = "jitsudo-acme-00112233445566778899aabbccddeeff"
)

// EventAWSSettings are the seeded AWS settings (user names match).
func EventAWSSettings(now time.Time) store.AWSSettings {
	return store.AWSSettings{TenantID: EventTenant, InstanceARN: EventInstanceARN, IdentityStoreID: EventIdentityStoreID,
		Region: EventAWSRegion, RoleARN: EventRoleARN, ExternalID: EventExternalID, UserAttribute: "user_name",
		UpdatedAt: now, UpdatedBy: EventAdminKeyID}
}

// EventIssuer is the sample tenant's own identity provider
// (events/get-sign-in.json and get-identity-settings.json read it).
const EventIssuer = "https://idp.acme.example/oauth2/default"

// EventIdentitySettings are the seeded identity settings. No sample event
// carries a bearer token, so the issuer is never fetched.
func EventIdentitySettings(now time.Time) store.IdentitySettings {
	return store.IdentitySettings{TenantID: EventTenant, IssuerURL: EventIssuer, JWKSURL: EventIssuer + "/v1/keys",
		Audience: "api://jitsudo", ExtraAudiences: []string{}, ClientID: "jitsudo-approvals", Scopes: []string{"openid", "email", "profile", "groups"},
		GroupsClaim: "groups", AdminGroup: "jitsudo-admins", EmailClaim: "email", UpdatedAt: now, UpdatedBy: EventAdminKeyID}
}

// extensionRules let alice's engineering group extend grants on
// EventActiveAccount: up to an hour at once, up to four hours with one
// reviewer; longer is denied (no rule applies). The demo rules have no
// extend_grant rule.
var extensionRules = []map[string]any{
	{
		"id": "extend-auto", "name": "Active account: extend by up to 1h", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{policy.ActionExtendGrant},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": EventActiveAccount,
		"conditions": "when { context.duration_seconds <= 3600 }", "approval_mode": "auto",
	},
	{
		"id": "extend-review", "name": "Active account: extend by up to 4h with a reviewer", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{policy.ActionExtendGrant},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": EventActiveAccount,
		"conditions":    "when { context.duration_seconds > 3600 && context.duration_seconds <= 14400 }",
		"approval_mode": "require", "approval_timeout": "1h",
	},
}

// The requests and grants the workflow workers' events (events/<worker>.json)
// and the grant routes' act on.
const (
	EventPendingRequest  = "req_eventpending"  // require, pending: store-task-token, approval-timeout-worker
	EventApprovedRequest = "req_eventapproved" // auto, approved with EventGrant
	EventGrant           = "grt_eventapproved" // provisioning: provision-grant, fail-grant, expire-grant
	EventActiveRequest   = "req_eventactive"   // auto, approved with EventActiveGrant
	// EventActiveGrant is alice's active grant of EventPermissionSet on
	// EventActiveAccount, granted EventActiveAge ago and ending in
	// EventActiveLeft: within the expiring-soon lead (notify-expiring),
	// extendable (extend-grant), and without its Identity Center
	// assignment (reconcile-assignments repairs it).
	EventActiveGrant   = "grt_eventactive"
	EventActiveAccount = "345678901234"
	EventPermissionSet = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890"
	EventActiveAge     = 50 * time.Minute
	EventActiveLeft    = 10 * time.Minute
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

	granted, ends := now.Add(-EventActiveAge), now.Add(EventActiveLeft)
	activeReq := approved
	activeReq.ID, activeReq.GrantID, activeReq.CreatedAt, activeReq.UpdatedAt, activeReq.DecidedAt = EventActiveRequest, EventActiveGrant, granted, granted, &granted
	activeReq.Resource, activeReq.PermissionSetARN = access.Resource{Type: "aws_account", ID: EventActiveAccount}, EventPermissionSet
	active := access.Grant{ID: EventActiveGrant, TenantID: EventTenant, RequestID: EventActiveRequest, GranteeID: activeReq.RequesterID,
		GranteeEmail: activeReq.RequesterEmail, Resource: activeReq.Resource, PermissionSetARN: EventPermissionSet,
		Status: access.GrantActive, DurationSeconds: int64((EventActiveAge + EventActiveLeft) / time.Second),
		GrantedAt: &granted, ExpiresAt: &ends, CreatedAt: granted, UpdatedAt: granted, Version: 1}
	for _, ch := range []access.Change{
		{Request: &access.RequestWrite{Request: pending, Create: true}},
		{Request: &access.RequestWrite{Request: approved, Create: true}, Grant: &access.GrantWrite{Grant: grant, Create: true}},
		{Request: &access.RequestWrite{Request: activeReq, Create: true}, Grant: &access.GrantWrite{Grant: active, Create: true}},
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
// metadata), the authorizer's settings for the sample events and
// PROVIDER=recording (selection fails closed when unset).
func FunctionEnv(endpoint, table string) []string {
	return []string{
		"TABLE_NAME=" + table, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "LOG_LEVEL=info",
		"PLATFORM_ADMIN_KEY=" + EventPlatformKey, "API_KEY_CACHE_TTL=0",
		"STATE_MACHINE_ARN=" + EventStateMachineARN, "SFN_ENDPOINT=http://127.0.0.1:9",
		"NOTIFY_MODE=" + string(notify.ModeAWS), // as template.yaml's Globals
		// The local stand-in provider (built in by LocalTags); a fixture
		// that runs Identity Center overrides it.
		"PROVIDER=recording",
		"PROVIDER_MODE=identitycenter", // ProviderMode's default
		// The audit chain's local key and anchors (verify-audit-log,
		// extend-audit-chain; a fixture may override the directory).
		"AUDIT_MAC_KEY=" + EventAuditKey,
		"AUDIT_ANCHOR_DIR=" + filepath.Join(os.TempDir(), "jitsudo-invoke-audit-anchors"),
	}
}

// EventAuditKey is the local chain key of the sample events' runs (hex).
const EventAuditKey = "6a697473756e646f2d696e766f6b652d61756469742d636861696e2d6b657921"

// StartsWorkflow reports whether fn's sample events start executions, so
// the function must run against a local Step Functions rather than a
// closed endpoint: create-request, and extend-grant (an extension that
// needs review).
func StartsWorkflow(fn string) bool { return fn == "create-request" || fn == "extend-grant" }

// Fixture is what one function runs with locally: its environment and the
// local stand-ins its sample events need.
type Fixture struct {
	Env []string
	// Verify, when set, checks what the sample events did beyond their
	// responses (call it after all of them ran).
	Verify func(ctx context.Context) error
	// Vars are values only known once the fixture runs (Identity Center
	// user ids); expected responses name them as {name}.
	Vars        map[string]string
	stops       []func()
	sfnEndpoint string // the local Step Functions, when the fixture has one
}

// Close stops the stand-ins.
func (f *Fixture) Close() {
	for i := len(f.stops) - 1; i >= 0; i-- {
		f.stops[i]()
	}
	f.stops = nil
}

// setEnv sets k=v in env, replacing an earlier value.
func setEnv(env []string, k, v string) []string {
	out := slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
	return append(out, k+"="+v)
}

// Environment returns what fn runs with against the table on endpoint
// (seeded with SeedEventFixtures):
//
//   - functions that start executions (StartsWorkflow): the real state
//     machine on the local Step Functions, with the worker Lambdas in
//     process over the same table;
//   - notify-expiring: goaws as SNS with the events topic, and a queue
//     subscribed to it, where Verify finds the notice;
//   - reconcile-assignments: moto (behind infra/awsfault) as STS, SSO
//     Admin and Identity Store, with the seeded AWS settings' instance and
//     store and a role in a random account (the settings are updated to
//     it), and the platform's credentials; EventActiveGrant's assignment
//     is missing there, and Verify checks the reconciler put it back and
//     audited it; Vars["alice"] is alice's Identity Center user id;
//   - the notification channel routes: goaws as SNS with the events
//     topic, and the tenant's channels (withChannels);
//   - relay-outbox: the real state machine on the local Step Functions
//     (as for StartsWorkflow), the sample stream record's audit item in
//     the table, goaws with the topic and a subscribed queue; Verify
//     checks the sample record (the creation of EventPendingRequest)
//     started its execution, which reached the approval wait, and was
//     published (withOutbox);
//   - deliver-notifications: webhook channels on a local receiver
//     (withDispatcher).
//
// Close the fixture when done.
func Environment(ctx context.Context, fn, endpoint, table string, s *store.Store) (*Fixture, error) {
	f := &Fixture{Env: FunctionEnv(endpoint, table)}
	var err error
	switch {
	case StartsWorkflow(fn):
		err = f.withWorkflow(ctx, fn, s)
	case fn == workflow.FnNotifyExpiring:
		err = f.withTopic(ctx)
	case fn == FnReconcile:
		err = f.withIdentityCenter(ctx, s)
	case slices.Contains(channelRoutes, fn):
		err = f.withChannels(ctx, fn, s)
	case fn == FnRelayOutbox:
		err = f.withOutbox(ctx, s)
	case fn == FnExtendAuditChain:
		err = f.withChain(ctx, s)
	case fn == FnDeliverNotifications:
		err = f.withDispatcher(ctx, s)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// FnRelayOutbox is the outbox consumer (the workflow driver and the
// events relay), fed by the table's stream.
const FnRelayOutbox = "relay-outbox"

// withOutbox: the workflow (withWorkflow) and the relay's topic
// (withRelay); Verify finds the execution of EventPendingRequest, started
// by the driver from the sample record, in its approval wait, and the
// record's event on the topic.
func (f *Fixture) withOutbox(ctx context.Context, s *store.Store) error {
	if err := f.withWorkflow(ctx, FnRelayOutbox, s); err != nil {
		return err
	}
	if err := f.withRelay(ctx, s); err != nil {
		return err
	}
	endpoint, published := f.sfnEndpoint, f.Verify
	f.Verify = func(ctx context.Context) error {
		if err := published(ctx); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			x, err := stepfunctions.DebugExecution(ctx, endpoint, EventPendingRequest)
			if err == nil && slices.Contains(x.States, "WaitForApproval") {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the execution of %s did not reach its approval wait: %+v %v", EventPendingRequest, x, err)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for the execution of %s to reach its approval wait: %w", EventPendingRequest, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func (f *Fixture) withWorkflow(ctx context.Context, fn string, s *store.Store) error {
	var lambda atomic.Pointer[http.Handler] // set once the workers exist
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := lambda.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	f.stops = append(f.stops, srv.Close)
	wf, err := devstack.StartWorkflow(ctx, s, srv.URL, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return err
	}
	f.stops = append(f.stops, wf.Close)
	lambda.Store(&wf.Lambda)
	f.Env = setEnv(f.Env, "SFN_ENDPOINT", wf.Endpoint)
	f.sfnEndpoint = wf.Endpoint
	if fn == "extend-grant" {
		before, err := s.GetGrant(ctx, EventTenant, EventActiveGrant)
		if err != nil {
			return fmt.Errorf("fixtures: %w", err)
		}
		f.Verify = func(ctx context.Context) error { return verifyExtensions(ctx, s, before) }
	}
	return nil
}

// EventAutoExtension is what events/extend-grant.json asks for (policy
// extends at once); extend-grant-review.json asks for more and waits for
// a reviewer.
const EventAutoExtension = 30 * time.Minute

// verifyExtensions: the automatic extension moved the grant's end by
// EventAutoExtension; the one under review is pending, and its workflow
// started and reached the approval wait (store-task-token stored its
// token).
func verifyExtensions(ctx context.Context, s *store.Store, before access.Grant) error {
	g, err := s.GetGrant(ctx, EventTenant, EventActiveGrant)
	if err != nil {
		return err
	}
	if g.Status != access.GrantActive || g.ExpiresAt == nil || !g.ExpiresAt.Equal(before.ExpiresAt.Add(EventAutoExtension)) {
		return fmt.Errorf("grant %s: status %s, expires_at %v; want active, %v", g.ID, g.Status, g.ExpiresAt, before.ExpiresAt.Add(EventAutoExtension))
	}
	pending, _, err := s.ListRequests(ctx, EventTenant, access.RequestQuery{Status: access.StatusPending}, access.Page{Limit: 50})
	if err != nil {
		return err
	}
	var ext []access.Request
	for _, r := range pending {
		if r.ExtendsGrantID == EventActiveGrant {
			ext = append(ext, r)
		}
	}
	if len(ext) != 1 || ext[0].Action != policy.ActionExtendGrant {
		return fmt.Errorf("pending extensions of %s: %+v, want exactly one", EventActiveGrant, ext)
	}
	for {
		token, err := s.GetTaskToken(ctx, EventTenant, ext[0].ID)
		if err != nil {
			return err
		}
		if token != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("extension %s: its workflow never stored a task token: %w", ext[0].ID, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// EventTopic is the events topic's name in goaws.
const EventTopic = "jitsudo-events"

func (f *Fixture) withTopic(ctx context.Context) error {
	srv, queueURL, err := f.topicWithQueue(ctx, "notices")
	if err != nil {
		return err
	}
	f.Verify = func(ctx context.Context) error { return verifyNotice(ctx, srv, queueURL) }
	return nil
}

// verifyNotice: exactly one message reached the topic: EventActiveGrant's
// grant.expiring_soon, with the attributes subscriptions filter on.
func verifyNotice(ctx context.Context, srv *goaws.Server, queueURL string) error {
	msgs, err := srv.ReceiveMessages(ctx, queueURL, 0) // goaws delivers before Publish returns
	if err != nil {
		return err
	}
	if len(msgs) != 1 {
		return fmt.Errorf("the topic got %d messages, want 1: %+v", len(msgs), msgs)
	}
	var n goaws.Notification
	if err := json.Unmarshal([]byte(msgs[0].Body), &n); err != nil {
		return fmt.Errorf("SNS envelope %q: %w", msgs[0].Body, err)
	}
	var ev events.Event
	if err := json.Unmarshal([]byte(n.Message), &ev); err != nil {
		return fmt.Errorf("event %q: %w", n.Message, err)
	}
	if ev.Type != events.GrantExpiringSoon || ev.TenantID != EventTenant || ev.Grant == nil || ev.Grant.ID != EventActiveGrant {
		return fmt.Errorf("published %s", n.Message)
	}
	if n.Attr(events.AttrTenantID) != EventTenant || n.Attr(events.AttrEventType) != events.GrantExpiringSoon {
		return fmt.Errorf("message attributes %v", n.MessageAttributes)
	}
	return nil
}

// FnReconcile is the drift reconciler's function.
const FnReconcile = "reconcile-assignments"

// The platform's credentials (reconcile-assignments).
const (
	EventPlatformAccessKey = "AKIAEVENTPLATFORM001"
	EventPlatformSecret    = "event-platform-secret"
)

func (f *Fixture) withIdentityCenter(ctx context.Context, s *store.Store) error {
	endpoint, err := mototest.Start()
	if err != nil {
		return err
	}
	proxy, err := awsfault.New(endpoint)
	if err != nil {
		return err
	}
	ic, err := proxy.AddTenant(ctx, endpoint, awsfault.TenantSpec{RoleName: "jitsudo-provisioner", ExternalID: EventExternalID,
		InstanceARN: EventInstanceARN, IdentityStoreID: EventIdentityStoreID, Region: EventAWSRegion, EmailDomain: "acme.example",
		Users: []string{"alice"}})
	if err != nil {
		return fmt.Errorf("fixtures: identity center: %w", err)
	}
	cur, err := s.GetAWSSettings(ctx, EventTenant)
	if err != nil {
		return fmt.Errorf("fixtures: aws settings: %w", err)
	}
	next := cur
	next.RoleARN = ic.RoleARN
	if _, err := s.PutAWSSettings(ctx, next, cur.Version); err != nil {
		return fmt.Errorf("fixtures: aws settings: %w", err)
	}
	proxy.RequireSignatures(map[string]string{EventPlatformAccessKey: EventPlatformSecret})
	srv := httptest.NewServer(proxy)
	f.stops = append(f.stops, srv.Close)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": EventPlatformAccessKey, "AWS_SECRET_ACCESS_KEY": EventPlatformSecret,
		"PROVIDER": "identitycenter", "PROVIDER_ENDPOINT": srv.URL,
	} {
		f.Env = setEnv(f.Env, k, v)
	}
	f.Vars = map[string]string{"alice": ic.Users["alice"]}
	f.Verify = func(ctx context.Context) error { return verifyRepair(ctx, s, proxy, ic) }
	return nil
}

// verifyRepair: the assignment is back in Identity Center, recorded as
// held by EventActiveGrant, made with the tenant role's session (never
// the platform's own credentials), and audited once as drift.detected.
func verifyRepair(ctx context.Context, s *store.Store, proxy *awsfault.Proxy, ic *awsfault.Tenant) error {
	want := ic.User("alice", EventActiveAccount, EventPermissionSet)
	if ok, err := ic.Has(ctx, want); err != nil || !ok {
		return fmt.Errorf("assignment %+v not re-created (%v)", want, err)
	}
	for _, c := range proxy.CallsOf(awsfault.OpCreateAccountAssignment) {
		if sess, ok := proxy.SessionOf(c.AccessKeyID); !ok || sess.RoleARN != ic.RoleARN || sess.ExternalID != EventExternalID {
			return fmt.Errorf("CreateAccountAssignment signed by %s, not a session of %s", c.AccessKeyID, ic.RoleARN)
		}
	}
	holders, err := s.AssignmentHolders(ctx, store.AssignmentTarget{TenantID: EventTenant, AccountID: EventActiveAccount,
		PermissionSetARN: EventPermissionSet, PrincipalID: "alice"})
	if err != nil {
		return err
	}
	if !slices.Equal(holders, []string{EventActiveGrant}) {
		return fmt.Errorf("assignment holders %v, want [%s]", holders, EventActiveGrant)
	}
	drift, _, err := s.ListAudit(ctx, EventTenant, access.AuditQuery{Action: access.AuditDriftDetected}, access.Page{Limit: 10})
	if err != nil {
		return err
	}
	if len(drift) != 1 {
		return fmt.Errorf("%d %s audit events, want 1: %+v", len(drift), access.AuditDriftDetected, drift)
	}
	return nil
}
