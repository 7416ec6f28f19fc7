package invoke_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/infra/invoke"
	"github.com/jitsudo/jitsudo-serverless/infra/modroot"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// want is what invoking one sample event must produce.
type want struct {
	status int    // HTTP status of the proxied response (0 for the authorizer)
	body   string // a substring the response body must contain
}

// expected lists every file in events/, in the order they run per function
// (each function gets a fresh, seeded table).
var expected = map[string]want{
	"authorizer.json":                     {body: `"tenant_id":"acme"`},
	"authorizer-platform.json":            {body: `"principal_type":"platform"`},
	"healthz.json":                        {200, `"status":"ok"`},
	"web.json":                            {200, `<script type="module" src="/ui/assets/app.`},
	"web-root.json":                       {200, `<link rel="stylesheet" href="/ui/assets/style.`},
	"openapi.json":                        {200, `"openapi": "3.1.0"`},
	"create-tenant.json":                  {201, `"key":"jit_`},
	"create-api-key.json":                 {201, `"key":"jit_`},
	"delete-api-key.json":                 {200, `"revoked_at"`},
	"list-api-keys.json":                  {200, `"id":"key-ci"`},
	"list-policy-rules.json":              {200, `"id":"prod-require"`},
	"create-policy-rule.json":             {201, `"id":"staging-auto"`},
	"create-policy-rule-invalid.json":     {400, `"code":"validation_failed"`},
	"create-policy-rule-policy-text.json": {201, `"approval_mode":"break_glass"`},
	"export-policy-rules.json":            {200, `@id("prod-require")`},
	"import-policy-rules.json":            {200, `"imported":`},
	"get-policy-rule.json":                {200, `"cedar_text"`},
	"update-policy-rule.json":             {200, `"revision":2`},
	"delete-policy-rule.json":             {204, ``},
	"evaluate-policy.json":                {200, `"matching_policy_ids":["dev-auto"]`},

	// Workflow workers: plain JSON task input and result (status 0).
	"store-task-token.json":        {body: `{"status":"pending","grant_id":""}`},
	"approval-timeout-worker.json": {body: `{"status":"expired","grant_id":""}`},
	"provision-grant.json":         {body: `"status":"active","expires_at":"`},
	"fail-grant.json":              {body: `"status":"failed"`},
	// The Catch of a step that failed for good (audited; the sweeper
	// finishes the grant), and the sweeper finding nothing overdue.
	"record-failure.json": {body: `{"step":"fail_grant","reason":"Sandbox.Timedout: Task timed out after 120.00 seconds"}`},
	"sweep-overdue.json":  {body: `"found":{"approval":0,"end":0,"provisioning":0,"revoke_retry":0},"expired":0`},

	// Access requests, grants, audit (each function on its own seeded table).
	"create-request-denied.json": {403, `"code":"policy_denied"`},
	"create-request-flat.json":   {201, `"status":"approved"`},
	"create-request.json":        {201, `"permission_set_arn":"arn:aws:sso:::permissionSet/`},
	"list-requests.json":         {200, `"id":"req_eventpending"`},
	"get-request.json":           {200, `"id":"req_eventpending"`},
	"approve-request-self.json":  {403, `"code":"self_approval"`},
	"approve-request.json":       {200, `"status":"approved"`},
	"deny-request.json":          {200, `"status":"denied"`},
	"cancel-request.json":        {200, `"status":"cancelled"`},
	"list-messages.json":         {200, `"data":[`},
	"post-message.json":          {201, `"author_type":"approver"`},
	"list-grants.json":           {200, `"data":[`},
	"get-grant.json":             {200, `"id":"grt_eventapproved"`},
	"revoke-grant.json":          {200, `"status":"revoked"`},
	"list-audit-log.json":        {200, `"data":[`},
	"verify-audit-log.json":      {200, `"valid":true`},
	"expire-grant.json":          {body: `"status":"expired"`},

	// Grant extension: at once (policy auto), held for review (starts the
	// workflow; Verify checks the approval wait began), denied.
	"extend-grant.json":        {200, `"extension_request":{"id":"req_`},
	"extend-grant-review.json": {202, `"status":"pending"`},
	"extend-grant-denied.json": {403, `"code":"policy_denied"`},

	// AWS settings: read the seeded ones; replace them (the external id is
	// kept); a bad ARN is refused.
	"get-aws-settings.json":         {200, `"external_id":"` + invoke.EventExternalID + `"`},
	"put-aws-settings.json":         {200, `"role_arn":"arn:aws:iam::210987654321:role/jitsudo-provisioner","external_id":"` + invoke.EventExternalID + `","user_attribute":"email"`},
	"put-aws-settings-invalid.json": {400, `"field":"instance_arn"`},

	// Identity settings: read the seeded ones; an http issuer is refused
	// by the SSRF guard (NOTIFY_MODE aws) before any fetch; the public
	// sign-in discovery names the tenant's issuer and client.
	"get-identity-settings.json": {200, `"issuer_url":"` + invoke.EventIssuer + `"`},
	"put-identity-settings.json": {400, `"code":"invalid_issuer"`},
	"get-sign-in.json":           {200, `{"tenant_id":"acme","issuer":"` + invoke.EventIssuer + `","client_id":"jitsudo-approvals","scopes":["openid","email","groups","profile"]}`},

	// The expiring-soon notice of the active grant, published to goaws
	// (Verify reads it from a subscribed queue).
	"notify-expiring.json": {body: `{"grant":{"id":"grt_eventactive","status":"active"`},

	// The scheduled drift reconciler against moto behind awsfault: the active grant's
	// missing assignment is repaired, nothing else found.
	"reconcile-assignments.json": {body: `{"tenants":{"acme":{"repaired":["account ` + invoke.EventActiveAccount + `, permission set ` +
		invoke.EventPermissionSet + `, principal alice (user {alice})"],"removed":[],"unexpected":[],"errors":[]}}}`},

	// Notification channels (admin) over the seeded webhook and email
	// channels, with goaws as SNS; Verify checks the store and goaws.
	// Secrets stay redacted; the email channel's subscriptions are real.
	"list-notification-channels.json": {200, `"url":"https://hooks.acme.example/…"`},
	"get-notification-channel.json":   {200, `"subscription_arns":{"oncall@acme.example":"` + goaws.TopicARN(invoke.EventTopic) + `:`},
	// A webhook to the example receiver (NOTIFY_MODE=local), an email
	// channel subscribed on goaws, and the instance metadata refused.
	"create-notification-channel.json":         {201, `"signing_secret":"whsec_`},
	"create-notification-channel-email.json":   {201, `"subscription_arns":{"oncall@acme.example":"` + goaws.TopicARN(invoke.EventTopic) + `:`},
	"create-notification-channel-invalid.json": {400, `"field":"config.url"`},
	// The email channel's addresses and filters change (subscribe,
	// unsubscribe, set filter), then it is deleted (unsubscribe all).
	"update-notification-channel.json": {200, `"version":2`},
	"delete-notification-channel.json": {204, ``},
	// channel.test to the webhook on a local receiver (signed; Verify);
	// email channels are SNS's to deliver.
	"test-notification-channel.json":       {200, `"delivered":true,"event_id":"evt_test_`},
	"test-notification-channel-email.json": {422, `"code":"not_testable"`},

	// The outbox consumer starts the seeded pending request's execution
	// and publishes the seeded audit item's event to goaws (no batch item
	// failure; Verify finds the execution in its approval wait and reads
	// the event from a subscribed queue).
	"relay-outbox.json": {body: `{"batchItemFailures":null}`},
	// The chain extender chains the seeded audit item as entry 1, MACed,
	// and anchors it (Verify reads the chain head and the anchor).
	"extend-audit-chain.json": {body: `{"batchItemFailures":null}`},
	// its schedule: no tenant's head is due (AUDIT_ANCHOR_INTERVAL not passed)
	"extend-audit-chain-anchor.json": {body: `{"anchored":0}`},
	// The deliverer sends the event to the one matching webhook channel
	// (the handler returns nothing; Verify checks the receiver).
	"deliver-notifications.json": {body: `null`},
}

// TestFunctionsUnderRIE builds every function's bootstrap, runs it under the
// Lambda Runtime Interface Emulator against the embedded DynamoDB and
// invokes it with each of its sample events — `sam local invoke` without
// SAM or Docker.
func TestFunctionsUnderRIE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	rie, err := invoke.EnsureRIE(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	byFn := map[string][]string{}
	for _, f := range files {
		base := filepath.Base(f)
		if _, ok := expected[base]; !ok {
			t.Errorf("events/%s has no expected outcome in this test", base)
		}
		byFn[functionOf(base)] = append(byFn[functionOf(base)], f)
	}
	for name := range expected {
		if !slices.ContainsFunc(files, func(f string) bool { return filepath.Base(f) == name }) {
			t.Errorf("expected outcome for missing events/%s", name)
		}
	}
	fns := routes.Functions()
	out := t.TempDir()
	if err := invoke.Build(ctx, root, out, fns...); err != nil {
		t.Fatal(err)
	}
	sem := make(chan struct{}, 2) // two emulators at a time on our 2-core machines
	var wg sync.WaitGroup
	for _, fn := range fns {
		if len(byFn[fn]) == 0 {
			t.Errorf("function %s has no sample event", fn)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			runFunction(ctx, t, rie, filepath.Join(out, fn, "bootstrap"), fn, byFn[fn])
		}()
	}
	wg.Wait()
}

func runFunction(ctx context.Context, t *testing.T, rie, bootstrap, fn string, eventFiles []string) {
	s, _, table := dynamotest.New(t)
	if err := invoke.SeedEventFixtures(ctx, s); err != nil {
		t.Errorf("%s: %v", fn, err)
		return
	}
	fx, err := invoke.Environment(ctx, fn, dynamotest.Endpoint(t), table, s)
	if err != nil {
		t.Errorf("%s: %v", fn, err)
		return
	}
	defer fx.Close()
	r, err := invoke.Start(ctx, rie, bootstrap, fx.Env)
	if err != nil {
		t.Errorf("%s: %v", fn, err)
		return
	}
	defer r.Close()
	slices.Sort(eventFiles)
	for _, f := range eventFiles {
		name := filepath.Base(f)
		ev, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		payload, err := r.Invoke(ctx, ev)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		check(t, fn, name, fx.Vars, payload, r.WaitLogs(2*time.Second, expectedLogs(fn, payload)...))
	}
	if fx.Verify != nil {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := fx.Verify(vctx); err != nil {
			t.Errorf("%s: after its events: %v\nlogs:\n%s", fn, err, r.Logs())
		}
	}
}

// expectedLogs are the strings the function's logs must come to hold for
// this response (check asserts them).
func expectedLogs(fn string, payload []byte) []string {
	if slices.Contains(routes.Workers, fn) {
		return []string{`"tenant_id":"acme"`, `"request_id":"req_event`}
	}
	if fn == "sweep-overdue" { // tenant-independent: nothing overdue, so its metrics line only
		return []string{`"SweeperFindings":0`, `"CloudWatchMetrics"`}
	}
	if fn == "extend-audit-chain" && strings.Contains(string(payload), `"anchored"`) { // its schedule: tenant-independent
		return []string{`"msg":"audit: idle chains anchored"`}
	}
	if slices.Contains(routes.Background, fn) {
		return []string{`"tenant_id":"acme"`}
	}
	var resp events.APIGatewayV2HTTPResponse
	if fn != routes.Authorizer && json.Unmarshal(payload, &resp) == nil && resp.StatusCode >= 300 {
		return []string{`"request_id"`}
	}
	return nil
}

func check(t *testing.T, fn, name string, vars map[string]string, payload []byte, logs string) {
	w := expected[name]
	for k, v := range vars {
		w.body = strings.ReplaceAll(w.body, "{"+k+"}", v)
	}
	if fn == routes.Authorizer {
		var resp events.APIGatewayV2CustomAuthorizerSimpleResponse
		if err := json.Unmarshal(payload, &resp); err != nil || !resp.IsAuthorized {
			t.Errorf("%s: not authorized: %s (err %v)\nlogs:\n%s", name, payload, err, logs)
			return
		}
		ctxJSON, _ := json.Marshal(resp.Context)
		if !strings.Contains(string(ctxJSON), w.body) {
			t.Errorf("%s: context %s lacks %s", name, ctxJSON, w.body)
		}
		return
	}
	if slices.Contains(routes.Workers, fn) || slices.Contains(routes.Background, fn) {
		if !json.Valid(payload) || !strings.Contains(string(payload), w.body) {
			t.Errorf("%s: got %s, want it to contain %s\nlogs:\n%s", name, payload, w.body, logs)
		}
		for _, want := range expectedLogs(fn, payload) {
			if !strings.Contains(logs, want) {
				t.Errorf("%s: logs lack %s:\n%s", name, want, logs)
			}
		}
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		t.Errorf("%s: response is not an HTTP API response: %s", name, payload)
		return
	}
	if resp.StatusCode != w.status || !strings.Contains(resp.Body, w.body) {
		t.Errorf("%s: got %d %s, want %d containing %s\nlogs:\n%s", name, resp.StatusCode, resp.Body, w.status, w.body, logs)
	}
	if !strings.Contains(logs, `"request_id"`) && resp.StatusCode >= 300 {
		t.Errorf("%s: function logs carry no request id:\n%s", name, logs)
	}
}

// functionOf maps "create-policy-rule-invalid.json" to its function: the
// longest function name that prefixes the file name.
func functionOf(file string) string {
	stem := strings.TrimSuffix(file, ".json")
	best := ""
	for _, fn := range routes.Functions() {
		if (stem == fn || strings.HasPrefix(stem, fn+"-")) && len(fn) > len(best) {
			best = fn
		}
	}
	return best
}
