package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Accounts of the dry-run stack's rules.
const (
	dryDev     = "111111111111" // engineering: auto up to 4h
	dryProd    = "222222222222" // engineering: require (1h timeout); nobody beyond 8h
	dryBreak   = "333333333333" // engineering: break_glass
	dryBucket  = "team-logs"    // engineering: auto
	dryPermSet = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890"
)

// dryRunStack is the create-request and evaluate-policy handlers, each
// behind its own route mux as its Lambda runs it, over one fresh table of
// the embedded DynamoDB (tenant acme and the rules above) and the given
// provider; the workflow starts nothing.
type dryRunStack struct {
	t                *testing.T
	create, evaluate func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)
}

func newDryRunStack(t *testing.T, prov func(*store.Store) access.Provider) *dryRunStack {
	t.Helper()
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Acme", CreatedAt: time.Now()},
		store.APIKey{ID: "key-admin", Hash: auth.HashKey("jit_dryrun"), Scopes: []string{auth.ScopeAdmin}, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	engineers := func(id string, prio int, typ, res, mode, cond string) policy.Rule {
		return policy.Rule{ID: id, Name: id, Priority: prio, Enabled: true, Effect: policy.EffectPermit,
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: "Group", PrincipalEntityID: "engineering",
			ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: typ, ResourceEntityID: res,
			Conditions: cond, ApprovalMode: mode}
	}
	prodRequire := engineers("prod-require", 100, "AwsAccount", dryProd, policy.ModeRequire, "")
	prodRequire.ApprovalTimeout = "1h"
	rules := []policy.Rule{
		engineers("dev-auto", 100, "AwsAccount", dryDev, policy.ModeAuto, "when { context.duration_seconds <= 14400 }"),
		prodRequire,
		engineers("break-glass", 100, "AwsAccount", dryBreak, policy.ModeBreakGlass, ""),
		{ID: "bucket-auto", Name: "bucket", Priority: 100, Enabled: true, Effect: policy.EffectPermit,
			PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: "Group", PrincipalEntityID: "engineering",
			ActionScopeType: policy.ScopeAny, ResourceScopeType: policy.ScopeEq, ResourceEntityType: "AwsS3Bucket", ResourceEntityID: dryBucket,
			ApprovalMode: policy.ModeAuto},
		{ID: "prod-max-8h", Name: "prod max", Priority: 200, Enabled: true, Effect: policy.EffectForbid,
			PrincipalScopeType: policy.ScopeAny, ActionScopeType: policy.ScopeAny,
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: "AwsAccount", ResourceEntityID: dryProd,
			Conditions: "when { context.duration_seconds > 28800 }"},
	}
	for _, r := range rules {
		n, err := policy.Normalize(r)
		if err != nil {
			t.Fatalf("rule %s: %v", r.ID, err)
		}
		if _, err := s.CreateRule(ctx, "acme", n, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	deps := api.NewDeps(s, startsNothing{}, prov(s), slog.New(slog.DiscardHandler))
	st := &dryRunStack{t: t}
	for fn, h := range map[string]http.Handler{"create-request": api.CreateRequest(deps), "evaluate-policy": api.Evaluate(deps)} {
		mux, err := lambdaapp.Mux(fn, h)
		if err != nil {
			t.Fatal(err)
		}
		if fn == "create-request" {
			st.create = validated(t, httpadapter.NewV2(mux).ProxyWithContext)
		} else {
			st.evaluate = validated(t, httpadapter.NewV2(mux).ProxyWithContext)
		}
	}
	return st
}

func recordingProvider(s *store.Store) access.Provider { return recording.New(s) }

func identityCenterProvider(s *store.Store) access.Provider {
	return identitycenter.New(aws.Config{Region: "us-east-1"}, providersSettingsUnused, s)
}

// providersSettingsUnused: nothing here provisions (the workflow starts
// nothing), so Identity Center settings are never read.
func providersSettingsUnused(context.Context, string) (identitycenter.Settings, error) {
	return identitycenter.Settings{}, identitycenter.ErrNoSettings
}

// answer is one handler's response, decoded.
type answer struct {
	status int
	body   map[string]any
	raw    string
}

func (st *dryRunStack) call(fn string, id auth.Identity, body string) answer {
	st.t.Helper()
	method, path, proxy := "POST", "/v1/requests", st.create
	if fn == "evaluate" {
		path, proxy = "/v1/policies/evaluate", st.evaluate
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: method + " " + path, Stage: "$default", RequestID: "dryrun",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: id.AuthorizerContext()},
		},
	}
	resp, err := proxy(context.Background(), ev)
	if err != nil {
		st.t.Fatalf("%s %s: %v", fn, body, err)
	}
	a := answer{status: resp.StatusCode, raw: resp.Body}
	if err := json.Unmarshal([]byte(resp.Body), &a.body); err != nil {
		st.t.Fatalf("%s %s: body %q: %v", fn, body, resp.Body, err)
	}
	return a
}

// outcome is what create did or what evaluate says create would do, in
// common terms: a 400 (code and field names), or a decision (allowed,
// mode, deciding rules).
type outcome struct {
	Status  int
	Code    string
	Fields  []string
	Allowed bool
	Mode    string
	Rules   []string
}

func strs(v any) []string {
	var out []string
	for _, x := range asSlice(v) {
		out = append(out, fmt.Sprint(x))
	}
	slices.Sort(out)
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func fieldsOf(a answer) []string {
	var out []string
	if d, ok := a.body["details"].(map[string]any); ok {
		for _, f := range asSlice(d["fields"]) {
			if m, ok := f.(map[string]any); ok {
				out = append(out, fmt.Sprint(m["field"]))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// createOutcome reads POST /v1/requests' answer.
func createOutcome(t *testing.T, a answer) outcome {
	t.Helper()
	switch a.status {
	case http.StatusCreated:
		mode, _ := a.body["approval_mode"].(string)
		if mode == "" && a.body["status"] == access.StatusPending {
			mode = policy.ModeRequire
		}
		return outcome{Status: http.StatusOK, Allowed: true, Mode: mode, Rules: strs(a.body["deciding_rule_ids"])}
	case http.StatusForbidden:
		if a.body["code"] != "policy_denied" {
			t.Fatalf("create: 403 that is not a policy denial: %s", a.raw)
		}
		d, _ := a.body["details"].(map[string]any)
		return outcome{Status: http.StatusOK, Rules: strs(d["deciding_rule_ids"])}
	case http.StatusBadRequest:
		return outcome{Status: a.status, Code: fmt.Sprint(a.body["code"]), Fields: fieldsOf(a)}
	}
	t.Fatalf("create: unexpected %d %s", a.status, a.raw)
	return outcome{}
}

// evaluateOutcome reads POST /v1/policies/evaluate's answer.
func evaluateOutcome(t *testing.T, a answer) outcome {
	t.Helper()
	switch a.status {
	case http.StatusOK:
		o := outcome{Status: http.StatusOK, Rules: strs(a.body["matching_policy_ids"])}
		o.Allowed, _ = a.body["permitted"].(bool)
		if o.Allowed {
			o.Mode, _ = a.body["approval_mode"].(string)
		}
		return o
	case http.StatusBadRequest:
		return outcome{Status: a.status, Code: fmt.Sprint(a.body["code"]), Fields: fieldsOf(a)}
	}
	t.Fatalf("evaluate: unexpected %d %s", a.status, a.raw)
	return outcome{}
}

func requester(i int, groups ...string) auth.Identity {
	return auth.Identity{TenantID: "acme", PrincipalID: fmt.Sprintf("user-%d", i), PrincipalType: auth.PrincipalUser,
		Email: fmt.Sprintf("user-%d@acme.example", i), Groups: groups, Scopes: []string{auth.ScopeRequestsRead, auth.ScopeRequestsWrite}}
}

// TestEvaluateTakesTheCreateBody: the natural request — an account and a
// permission set, in either spelling — is dry-run and answered with the
// decision create then makes.
func TestEvaluateTakesTheCreateBody(t *testing.T) {
	st := newDryRunStack(t, recordingProvider)
	bodies := []string{
		`{"resource":{"type":"aws_account","id":"` + dryDev + `"},"permission_set_arn":"` + dryPermSet + `","reason":"debug the failing deploy","duration_seconds":3600}`,
		`{"resource_type":"aws_account","resource_id":"` + dryProd + `","permission_set_arn":"` + dryPermSet + `","justification":"rotate the prod keys","duration_seconds":7200}`,
		`{"resource_type":"aws_account","resource_id":"` + dryProd + `","permission_set_arn":"` + dryPermSet + `","justification":"an all-day migration","duration_seconds":36000}`,
		`{"resource":{"type":"aws_account","id":"` + dryBreak + `"},"permission_set_arn":"` + dryPermSet + `","reason":"INC-1234: prod is down, failing over","break_glass":true}`,
	}
	want := []outcome{
		{Status: 200, Allowed: true, Mode: policy.ModeAuto, Rules: []string{"dev-auto"}},
		{Status: 200, Allowed: true, Mode: policy.ModeRequire, Rules: []string{"prod-require"}},
		{Status: 200, Rules: []string{"prod-max-8h"}},
		{Status: 200, Allowed: true, Mode: policy.ModeBreakGlass, Rules: []string{"break-glass"}},
	}
	for i, body := range bodies {
		id := requester(i, "engineering")
		ev := evaluateOutcome(t, st.call("evaluate", id, body))
		cr := createOutcome(t, st.call("create", id, body))
		if !equalOutcome(ev, want[i]) || !equalOutcome(cr, want[i]) {
			t.Errorf("%s\n evaluate %+v\n create   %+v\n want     %+v", body, ev, cr, want[i])
		}
	}
}

func equalOutcome(a, b outcome) bool {
	return a.Status == b.Status && a.Code == b.Code && slices.Equal(a.Fields, b.Fields) &&
		a.Allowed == b.Allowed && a.Mode == b.Mode && slices.Equal(a.Rules, b.Rules)
}

// TestEvaluateAgreesWithCreate: random bodies, valid and not (durations
// beyond the limits, short break-glass reasons, both spellings and both
// at once, unknown fields, missing fields, wrong types), go through both
// handlers as the same requester: the dry run gives the decision create
// makes (allowed, mode, deciding rules), or the same 400 (code and field
// names).
func TestEvaluateAgreesWithCreate(t *testing.T) {
	st := newDryRunStack(t, recordingProvider)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 9))
	n := 300
	if testing.Short() {
		n = 60
	}
	var refused, allowed, denied int
	for i := range n {
		body := randomBody(rng)
		groups := [][]string{{"engineering"}, {"engineering", "sre-leads"}, nil, {"contractors"}}[rng.IntN(4)]
		id := requester(i, groups...)
		ev := evaluateOutcome(t, st.call("evaluate", id, body))
		cr := createOutcome(t, st.call("create", id, body))
		if !equalOutcome(ev, cr) {
			t.Errorf("seed %d, body %s, groups %v:\n evaluate %+v\n create   %+v", seed, body, groups, ev, cr)
		}
		switch {
		case cr.Status == http.StatusBadRequest:
			refused++
		case cr.Allowed:
			allowed++
		default:
			denied++
		}
	}
	// The generator must reach every kind of answer, or the test proves little.
	if refused == 0 || allowed == 0 || denied == 0 {
		t.Errorf("seed %d: %d refused, %d allowed, %d denied: the generator misses a kind", seed, refused, allowed, denied)
	}
	t.Logf("seed %d: %d refused, %d allowed, %d denied", seed, refused, allowed, denied)
}

// randomBody is a POST /v1/requests body: half of them well formed (then
// decided by the rules), the others wrong in a few random ways.
func randomBody(rng *rand.Rand) string {
	pick := func(xs ...any) any { return xs[rng.IntN(len(xs))] }
	bad := rng.IntN(2) == 0
	wrong := func() bool { return bad && rng.IntN(4) == 0 } // this field goes wrong
	m := map[string]any{}
	typ := pick("aws_account", "aws_account", "aws_account", "AwsAccount", "aws_permission_set", "aws_s3_bucket", "aws_ec2_instance").(string)
	if wrong() {
		typ = "gcp_project"
	}
	ids := map[string][]any{
		"aws_account": {dryDev, dryProd, dryBreak, "444444444444"}, "AwsAccount": {dryDev, dryProd},
		"aws_permission_set": {dryPermSet}, "aws_s3_bucket": {dryBucket, "other-bucket"},
		"aws_ec2_instance": {"i-0123456789abcdef0"}, "gcp_project": {"p"},
	}
	id := pick(ids[typ]...)
	if wrong() {
		id = pick("12345", "x-1", "UPPER", "")
	}
	res := map[string]any{"type": typ, "id": id}
	if typ == "aws_permission_set" && (!bad || rng.IntN(2) == 0) {
		res["account_id"] = pick(dryDev, dryProd)
	}
	if typ != "aws_account" && typ != "AwsAccount" && wrong() {
		res["account_id"] = "1"
	}
	switch {
	case wrong():
		switch rng.IntN(3) {
		case 0: // both spellings of the resource
			m["resource"], m["resource_type"], m["resource_id"] = res, typ, id
		case 1: // no resource
		case 2: // an unknown field inside the resource
			res["extra"] = 1
			m["resource"] = res
		}
	case rng.IntN(2) == 0:
		m["resource_type"], m["resource_id"] = typ, id
	default:
		m["resource"] = res
	}
	if (typ == "aws_account" || typ == "AwsAccount") && rng.IntN(4) > 0 {
		m["permission_set_arn"] = dryPermSet
	}
	if wrong() {
		m["permission_set_arn"] = pick(dryPermSet, "arn:aws:sso:::permissionSet/bad")
	}
	reason := pick("debug the failing deploy", "INC-1234: prod is down, failing over", "x").(string)
	if wrong() {
		reason = pick(" ", "", "bell\a", strings.Repeat("r", 2001)).(string)
	}
	switch {
	case wrong():
		m["reason"], m["justification"] = reason, "something else entirely"
	case rng.IntN(4) == 0:
		m["reason"], m["justification"] = reason, reason
	case rng.IntN(2) == 0:
		m["justification"] = reason
	default:
		m["reason"] = reason
	}
	switch {
	case wrong():
		m["duration_seconds"] = pick(0, 59, -1, 604801, 2592000, int64(1)<<40, "3600")
	case rng.IntN(5) == 0: // the default
	case rng.IntN(5) == 0:
		m["duration_seconds"] = nil // the default too
	default:
		m["duration_seconds"] = pick(60, 1800, 3600, 14400, 14401, 28800, 36000, 604800)
	}
	if rng.IntN(4) == 0 {
		m["break_glass"] = true // with "x" as the reason: too short
	}
	switch {
	case wrong():
		m["action"] = pick("root", "approve_all") // not approve_request or extend_grant: the dry run's additions
	case rng.IntN(6) == 0:
		m["action"] = "request_access"
	}
	switch {
	case wrong():
		m["metadata"] = pick(map[string]any{"big": strings.Repeat("m", 5000)}, "not an object")
	case rng.IntN(5) == 0:
		m["metadata"] = map[string]any{"ticket": "INC-1", "n": 1.5}
	}
	if wrong() {
		m[pick("permission_set", "durationSeconds", "extra").(string)] = 1 // not principal, context…: the dry run's additions
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestIdentityCenterNeedsAPermissionSet: with the Identity Center
// provider, an account without a permission set is refused at create with
// a 400 naming permission_set_arn (not approved, to fail when provisioned),
// and the dry run says the same; other targets Identity Center cannot
// assign are refused likewise; an account with a permission set goes
// through.
func TestIdentityCenterNeedsAPermissionSet(t *testing.T) {
	st := newDryRunStack(t, identityCenterProvider)
	cases := []struct {
		body  string
		field string // "" = accepted
	}{
		{`{"resource":{"type":"aws_account","id":"` + dryDev + `"},"reason":"debug the failing deploy"}`, "permission_set_arn"},
		{`{"resource_type":"aws_account","resource_id":"` + dryDev + `","justification":"debug the failing deploy"}`, "permission_set_arn"},
		{`{"resource":{"type":"aws_s3_bucket","id":"` + dryBucket + `"},"reason":"read the logs"}`, "resource.type"},
		{`{"resource":{"type":"aws_account","id":"` + dryDev + `"},"permission_set_arn":"` + dryPermSet + `","reason":"debug the failing deploy"}`, ""},
		{`{"resource":{"type":"aws_permission_set","id":"` + dryPermSet + `","account_id":"` + dryDev + `"},"reason":"debug the failing deploy"}`, ""},
	}
	for i, c := range cases {
		id := requester(i, "engineering")
		ev := evaluateOutcome(t, st.call("evaluate", id, c.body))
		cr := createOutcome(t, st.call("create", id, c.body))
		if c.field == "" {
			if cr.Status != http.StatusOK || !cr.Allowed || !equalOutcome(ev, cr) {
				t.Errorf("%s: create %+v, evaluate %+v, want both allowed alike", c.body, cr, ev)
			}
			continue
		}
		want := outcome{Status: http.StatusBadRequest, Code: "validation_failed", Fields: []string{c.field}}
		if !equalOutcome(cr, want) || !equalOutcome(ev, want) {
			t.Errorf("%s:\n create   %+v\n evaluate %+v\n want     %+v", c.body, cr, ev, want)
		}
	}
	// The recording provider (make dev) records any target: the same
	// account without a permission set is decided by policy.
	rec := newDryRunStack(t, recordingProvider)
	if cr := createOutcome(t, rec.call("create", requester(99, "engineering"), cases[0].body)); cr.Status != http.StatusOK || !cr.Allowed {
		t.Errorf("recording provider: %+v, want the policy's decision", cr)
	}
}

// TestEvaluateExtras: what only the dry run takes still works on top of
// the create body: another principal (with policies:read), approve_request
// with requester and mode, and context as metadata's other name.
func TestEvaluateExtras(t *testing.T) {
	st := newDryRunStack(t, recordingProvider)
	reader := auth.Identity{TenantID: "acme", PrincipalID: "key-r", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopePoliciesRead}}
	base := `"resource":{"type":"aws_account","id":"` + dryDev + `"},"permission_set_arn":"` + dryPermSet + `","reason":"debug the failing deploy"`
	cases := []struct {
		id     auth.Identity
		body   string
		status int
		check  string
	}{
		{reader, `{"principal":"bob","groups":["engineering"],` + base + `}`, 200, `"permitted":true`},
		{reader, `{"principal":"bob","groups":["sales"],` + base + `}`, 200, `"permitted":false`},
		{reader, `{"principal":"bob","groups":["engineering"],"context":{"ticket":"INC-1"},` + base + `}`, 200, `"permitted":true`},
		{reader, `{"principal":"bob","context":{"a":1},"metadata":{"a":1},` + base + `}`, 400, `"field":"context"`},
		{reader, `{"principal":"bob","action":"approve_request","requester":"alice","mode":"require",` + base + `}`, 200, `"permitted":false`},
		{reader, `{"principal":"bob","action":"approve_request",` + base + `}`, 400, `"field":"requester"`},
		{reader, `{"principal":"bob","groups":["engineering"],"action":"extend_grant",` + base + `}`, 200, `"permitted":false`},
		{requester(1, "engineering"), `{"principal":"bob",` + base + `}`, 403, `"code":"forbidden"`},
	}
	for _, c := range cases {
		a := st.call("evaluate", c.id, c.body)
		if a.status != c.status || !strings.Contains(a.raw, c.check) {
			t.Errorf("%s: %d %s, want %d with %s", c.body, a.status, a.raw, c.status, c.check)
		}
	}
}
