package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/dynamodb"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"github.com/awslabs/goformation/v7/intrinsics"
	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

const (
	repoRoot     = "../.."
	templateFile = repoRoot + "/template.yaml"
	functionsDir = repoRoot + "/functions"
	eventsDir    = repoRoot + "/events"
)

// readOnlyFunctions are functions other than GET routes (and the
// authorizer) that must not write the table.
var readOnlyFunctions = map[string]bool{"evaluate-policy": true, "notify-expiring": true, "relay-outbox": true}

// ---------------------------------------------------------------- parsing

// tmpl is template.yaml parsed twice: by goformation (typed SAM resources)
// and by yaml.v3 (the raw tree, for the reference walk).
type tmpl struct {
	cfn *cloudformation.Template
	doc *yaml.Node // top-level mapping
}

// Intrinsics become marker strings instead of being resolved against
// parameter defaults (goformation's default, which turns a Ref to a resource
// into null): "Ref:X", "GetAtt:A.B", "Sub:<text>". Fn::If takes its true
// branch so typed fields (DeletionProtectionEnabled) still decode.
func markerHandlers() map[string]intrinsics.IntrinsicHandler {
	return map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, in, template any) any {
			if s, ok := in.(string); ok {
				if s == "AWS::NoValue" {
					return nil
				}
				if n, ok := numberParamDefault(template, s); ok {
					return n
				}
				return "Ref:" + s
			}
			return nil
		},
		"Fn::GetAtt": func(_ string, in, _ any) any {
			switch v := in.(type) {
			case string:
				return "GetAtt:" + v
			case []any:
				parts := make([]string, 0, len(v))
				for _, p := range v {
					parts = append(parts, fmt.Sprint(p))
				}
				return "GetAtt:" + strings.Join(parts, ".")
			}
			return nil
		},
		"Fn::Sub": func(_ string, in, _ any) any {
			switch v := in.(type) {
			case string:
				return "Sub:" + v
			case []any:
				if len(v) > 0 {
					return "Sub:" + fmt.Sprint(v[0])
				}
			}
			return nil
		},
		"Fn::If": func(_ string, in, _ any) any {
			if v, ok := in.([]any); ok && len(v) == 3 {
				return v[1]
			}
			return nil
		},
	}
}

// numberParamDefault: a Ref to a Number parameter is its default, so that
// the typed numeric fields it sets (ReservedConcurrentExecutions,
// ThrottlingRateLimit) decode; the checks read the Ref itself from the raw
// tree. Environment variables take a Number parameter through !Sub (a
// string either way in CloudFormation).
func numberParamDefault(template any, name string) (float64, bool) {
	root, _ := template.(map[string]any)
	params, _ := root["Parameters"].(map[string]any)
	p, _ := params[name].(map[string]any)
	if p == nil || p["Type"] != "Number" {
		return 0, false
	}
	switch d := p["Default"].(type) {
	case float64:
		return d, true
	case int:
		return float64(d), true
	}
	return 0, false
}

func parseTemplate(data []byte) (*tmpl, error) {
	cfn, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: markerHandlers()})
	if err != nil {
		return nil, fmt.Errorf("goformation: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("yaml: template is not a mapping")
	}
	return &tmpl{cfn: cfn, doc: root.Content[0]}, nil
}

func loadTemplate(t *testing.T) *tmpl {
	t.Helper()
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := parseTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// functions maps every AWS::Serverless::Function logical id to its resource.
func (tp *tmpl) functions() map[string]*serverless.Function {
	return tp.cfn.GetAllServerlessFunctionResources()
}

// fnByLogicalID maps routes.LogicalID(fn) back to fn for routes.Functions().
func fnByLogicalID() map[string]string {
	m := map[string]string{}
	for _, fn := range routes.Functions() {
		m[routes.LogicalID(fn)] = fn
	}
	return m
}

func routeByFunction() map[string]routes.Route {
	m := map[string]routes.Route{}
	for _, r := range routes.Table {
		m[r.Function] = r
	}
	return m
}

// eventRoute is the route of fn a sample event names by its routeKey (a
// function serving several routes, like web, has an event per route),
// else fn's route.
func eventRoute(data []byte, r routes.Route) routes.Route {
	var ev struct {
		RouteKey string `json:"routeKey"`
	}
	_ = json.Unmarshal(data, &ev)
	for _, rt := range routes.Table {
		if rt.Function == r.Function && rt.Key() == ev.RouteKey {
			return rt
		}
	}
	return r
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func codeURI(f *serverless.Function) string {
	if f.CodeUri == nil || f.CodeUri.String == nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(*f.CodeUri.String, "./"), "/")
}

// httpAPIEvents returns the function's HttpApi events by name.
func httpAPIEvents(f *serverless.Function) map[string]*serverless.Function_HttpApiEvent {
	out := map[string]*serverless.Function_HttpApiEvent{}
	for name, ev := range f.Events {
		if ev.Type != "HttpApi" {
			continue
		}
		if ev.Properties == nil || ev.Properties.HttpApiEvent == nil {
			out[name] = nil
			continue
		}
		out[name] = ev.Properties.HttpApiEvent
	}
	return out
}

// theHTTPAPI returns the single AWS::Serverless::HttpApi.
func (tp *tmpl) theHTTPAPI() (string, *serverless.HttpApi, error) {
	apis := tp.cfn.GetAllServerlessHttpApiResources()
	if len(apis) != 1 {
		return "", nil, fmt.Errorf("want exactly one AWS::Serverless::HttpApi, have %d", len(apis))
	}
	for id, api := range apis {
		return id, api, nil
	}
	panic("unreachable")
}

// defaultAuthorizer returns the HttpApi's DefaultAuthorizer name and its
// definition from Auth.Authorizers.
func defaultAuthorizer(api *serverless.HttpApi) (string, map[string]any, error) {
	if api.Auth == nil || str(api.Auth.DefaultAuthorizer) == "" {
		return "", nil, errors.New("HttpApi has no Auth.DefaultAuthorizer")
	}
	name := str(api.Auth.DefaultAuthorizer)
	all, _ := api.Auth.Authorizers.(map[string]any)
	def, _ := all[name].(map[string]any)
	if def == nil {
		return name, nil, fmt.Errorf("HttpApi DefaultAuthorizer %q is not in Auth.Authorizers", name)
	}
	return name, def, nil
}

// ---------------------------------------------------------------- checks
//
// Each check returns a list of problems (empty = fine), so the tests can run
// them on broken copies of the template too.

// checkRoutes: routes.Table <-> HttpApi events, CodeUri, per-route auth.
func checkRoutes(tp *tmpl) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }

	apiID, api, err := tp.theHTTPAPI()
	if err != nil {
		return []string{err.Error()}
	}
	defName, _, err := defaultAuthorizer(api)
	if err != nil {
		fail("%v", err)
	}

	type served struct{ logicalID, codeURI string }
	byKey := map[string][]served{}
	for id, f := range tp.functions() {
		for evName, ev := range httpAPIEvents(f) {
			if ev == nil {
				fail("%s event %s: HttpApi event without parseable properties", id, evName)
				continue
			}
			key := str(ev.Method) + " " + str(ev.Path)
			byKey[key] = append(byKey[key], served{id, codeURI(f)})
			if got := str(ev.ApiId); got != "Ref:"+apiID {
				fail("%s event %s: ApiId is %q, want !Ref %s", id, evName, got, apiID)
			}
			if ev.PayloadFormatVersion != nil && *ev.PayloadFormatVersion != "2.0" {
				fail("%s event %s: PayloadFormatVersion %q, want 2.0", id, evName, *ev.PayloadFormatVersion)
			}
			r, inTable := routeOfKey(key)
			if !inTable {
				fail("%s serves %q, which is not in routes.Table", id, key)
				continue
			}
			authz := ""
			if ev.Auth != nil {
				authz = str(ev.Auth.Authorizer)
				if len(ev.Auth.AuthorizationScopes) > 0 {
					fail("%s: %s sets AuthorizationScopes; scopes are enforced by the handler", id, key)
				}
			}
			switch {
			case r.Public && authz != "NONE":
				fail("%s: public route %s must have Auth.Authorizer NONE, has %q", id, key, authz)
			case !r.Public && authz != "" && authz != defName:
				fail("%s: route %s must use the default authorizer %q, has %q", id, key, defName, authz)
			}
		}
	}
	for _, r := range routes.Table {
		s := byKey[r.Key()]
		if len(s) != 1 {
			fail("route %s: served by %d HttpApi events, want exactly 1", r.Key(), len(s))
			continue
		}
		if s[0].logicalID != r.LogicalID() {
			fail("route %s: served by %s, want %s", r.Key(), s[0].logicalID, r.LogicalID())
		}
		if want := "functions/" + r.Function; s[0].codeURI != want {
			fail("route %s: CodeUri %q, want %q", r.Key(), s[0].codeURI, want+"/")
		}
	}
	return probs
}

func routeOfKey(key string) (routes.Route, bool) {
	for _, r := range routes.Table {
		if r.Key() == key {
			return r, true
		}
	}
	return routes.Route{}, false
}

// checkFunctionSet: the template's functions are exactly routes.Functions(),
// with CodeUri functions/<fn>/ and the go1.x build method.
func checkFunctionSet(tp *tmpl) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	want := fnByLogicalID()
	have := tp.functions()
	for id, fn := range want {
		if _, ok := have[id]; !ok {
			fail("function %s (functions/%s) is missing from the template", id, fn)
		}
	}
	for id, f := range have {
		fn, ok := want[id]
		if !ok {
			fail("template function %s is not in routes.Functions()", id)
			continue
		}
		if got := codeURI(f); got != "functions/"+fn {
			fail("%s: CodeUri %q, want functions/%s/", id, got, fn)
		}
		if bm, _ := f.AWSCloudFormationMetadata["BuildMethod"].(string); bm != "go1.x" {
			fail("%s: Metadata.BuildMethod %q, want go1.x", id, bm)
		}
	}
	return probs
}

// checkFunctionDirs: every routes.Functions() entry has functions/<fn>/main.go,
// and every functions/<dir> with a main.go is deployed by the template.
func checkFunctionDirs(tp *tmpl, dir string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	for _, fn := range routes.Functions() {
		if _, err := os.Stat(filepath.Join(dir, fn, "main.go")); err != nil {
			fail("functions/%s/main.go: %v", fn, errors.Unwrap(err))
		}
	}
	deployed := map[string]bool{}
	for _, f := range tp.functions() {
		deployed[codeURI(f)] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return append(probs, err.Error())
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "main.go")); err != nil {
			continue
		}
		if !deployed["functions/"+e.Name()] {
			fail("functions/%s has a main.go but no template function has CodeUri functions/%s/", e.Name(), e.Name())
		}
	}
	return probs
}

// checkTable: the one DynamoDB table equals store.TableSchema and is
// protected.
func checkTable(tp *tmpl) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	tables := tp.cfn.GetAllDynamoDBTableResources()
	if len(tables) != 1 {
		return []string{fmt.Sprintf("want exactly one AWS::DynamoDB::Table, have %d", len(tables))}
	}
	var id string
	for k := range tables {
		id = k
	}
	tb := tables[id]
	want := store.TableSchema("x")

	if got := str(tb.BillingMode); got != string(want.BillingMode) {
		fail("%s: BillingMode %q, want %q", id, got, want.BillingMode)
	}
	if ttl := tb.TimeToLiveSpecification; ttl == nil || !ttl.Enabled || str(ttl.AttributeName) != store.AttrTTL {
		fail("%s: TimeToLiveSpecification must be enabled on attribute %q (idempotency records, task tokens)", id, store.AttrTTL)
	}
	if tb.PointInTimeRecoverySpecification == nil || tb.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled == nil || !*tb.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled {
		fail("%s: point-in-time recovery must be enabled", id)
	}
	if tb.SSESpecification == nil || !tb.SSESpecification.SSEEnabled {
		fail("%s: SSESpecification.SSEEnabled must be true", id)
	}
	if tb.DeletionProtectionEnabled == nil {
		fail("%s: DeletionProtectionEnabled must be set (from the DeletionProtection parameter)", id)
	}
	if tb.AWSCloudFormationDeletionPolicy != "Retain" || tb.AWSCloudFormationUpdateReplacePolicy != "Retain" {
		fail("%s: DeletionPolicy and UpdateReplacePolicy must be Retain, are %q, %q", id, tb.AWSCloudFormationDeletionPolicy, tb.AWSCloudFormationUpdateReplacePolicy)
	}
	if tb.TableName != nil {
		fail("%s: do not set TableName (a fixed name blocks replacement and second stacks)", id)
	}
	// The audit items are the outbox: relay-outbox reads
	// them from the stream, as new images (events.AuditFromStreamImage).
	if ss := tb.StreamSpecification; ss == nil || ss.StreamViewType != "NEW_IMAGE" {
		fail("%s: StreamSpecification.StreamViewType must be NEW_IMAGE (the audit outbox feeds relay-outbox)", id)
	}

	var wantAttrs, gotAttrs []string
	for _, a := range want.AttributeDefinitions {
		wantAttrs = append(wantAttrs, *a.AttributeName+":"+string(a.AttributeType))
	}
	for _, a := range tb.AttributeDefinitions {
		gotAttrs = append(gotAttrs, a.AttributeName+":"+a.AttributeType)
	}
	sort.Strings(wantAttrs)
	sort.Strings(gotAttrs)
	if !slices.Equal(gotAttrs, wantAttrs) {
		fail("%s: AttributeDefinitions %v, want %v", id, gotAttrs, wantAttrs)
	}

	var wantKeys []string
	for _, k := range want.KeySchema {
		wantKeys = append(wantKeys, *k.AttributeName+":"+string(k.KeyType))
	}
	if got := keysOf(tb.KeySchema); !slices.Equal(got, wantKeys) {
		fail("%s: KeySchema %v, want %v", id, got, wantKeys)
	}

	type gsi struct {
		keys []string
		proj string
		non  []string
	}
	wantGSI := map[string]gsi{}
	for _, g := range want.GlobalSecondaryIndexes {
		var ks []string
		for _, k := range g.KeySchema {
			ks = append(ks, *k.AttributeName+":"+string(k.KeyType))
		}
		var p string
		var non []string
		if g.Projection != nil {
			p, non = string(g.Projection.ProjectionType), g.Projection.NonKeyAttributes
		}
		wantGSI[*g.IndexName] = gsi{ks, p, non}
	}
	gotGSI := map[string]gsi{}
	for _, g := range tb.GlobalSecondaryIndexes {
		if _, dup := gotGSI[g.IndexName]; dup {
			fail("%s: GSI %s declared twice", id, g.IndexName)
		}
		var p string
		var non []string
		if g.Projection != nil {
			p, non = str(g.Projection.ProjectionType), g.Projection.NonKeyAttributes
		}
		gotGSI[g.IndexName] = gsi{keysOf(g.KeySchema), p, non}
	}
	for name, w := range wantGSI {
		g, ok := gotGSI[name]
		switch {
		case !ok:
			fail("%s: GSI %s missing", id, name)
		case !slices.Equal(g.keys, w.keys):
			fail("%s: GSI %s keys %v, want %v", id, name, g.keys, w.keys)
		case g.proj != w.proj || !slices.Equal(g.non, w.non):
			fail("%s: GSI %s projection %s %v, want %s %v", id, name, g.proj, g.non, w.proj, w.non)
		}
	}
	for name := range gotGSI {
		if _, ok := wantGSI[name]; !ok {
			fail("%s: GSI %s is not in store.TableSchema", id, name)
		}
	}
	if len(tb.LocalSecondaryIndexes) != len(want.LocalSecondaryIndexes) {
		fail("%s: %d LSIs, store.TableSchema has %d", id, len(tb.LocalSecondaryIndexes), len(want.LocalSecondaryIndexes))
	}
	return probs
}

func keysOf(ks []dynamodb.Table_KeySchema) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.AttributeName+":"+k.KeyType)
	}
	return out
}

// checkSettings: Globals, per-function policies and settings, the
// authorizer's environment and the HttpApi's authorizer configuration.
func checkSettings(tp *tmpl) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }

	tables := tp.cfn.GetAllDynamoDBTableResources()
	tableRef := ""
	for id := range tables {
		tableRef = "Ref:" + id
	}

	g, err := tp.cfn.GetServerlessGlobalFunction()
	if err != nil {
		fail("Globals.Function: %v", err)
	} else {
		if got := str(g.Runtime); got != "provided.al2023" {
			fail("Globals.Function.Runtime %q, want provided.al2023", got)
		}
		if g.Architectures == nil || !slices.Equal(*g.Architectures, []string{"arm64"}) {
			fail("Globals.Function.Architectures must be [arm64]")
		}
		if got := str(g.Handler); got != "bootstrap" {
			fail("Globals.Function.Handler %q, want bootstrap", got)
		}
		if got := str(g.Tracing); got != "Active" {
			fail("Globals.Function.Tracing %q, want Active", got)
		}
		if g.Timeout == nil || g.MemorySize == nil {
			fail("Globals.Function must set Timeout and MemorySize")
		}
		var env map[string]string
		if g.Environment != nil {
			env = g.Environment.Variables
		}
		if env["TABLE_NAME"] != tableRef || tableRef == "" {
			fail("Globals.Function.Environment TABLE_NAME is %q, want !Ref of the table (%s)", env["TABLE_NAME"], tableRef)
		}
		for _, k := range []string{"LOG_LEVEL", "STAGE"} {
			if env[k] == "" {
				fail("Globals.Function.Environment %s is not set", k)
			}
		}
	}

	authzID := routes.LogicalID(routes.Authorizer)
	byFn := routeByFunction()
	ids := fnByLogicalID()
	for id, f := range tp.functions() {
		if f.Runtime != nil || f.Handler != nil || f.Architectures != nil || f.Tracing != nil {
			fail("%s: Runtime/Handler/Architectures/Tracing belong in Globals.Function, not the function", id)
		}
		if f.Role != nil {
			fail("%s: use Policies (least privilege per function), not a shared Role", id)
		}
		fn := ids[id]
		read, crud, extras, other := tablePolicies(f, tableRef)
		for _, o := range other {
			fail("%s: unexpected policy %s", id, o)
		}
		for _, k := range extraPolicyKinds {
			want := 0
			if slices.Contains(extraPolicyHolders(k), fn) {
				want = 1
			}
			if got := count(extras, k); got != want {
				fail("%s: %s: has %d, want %d (only %v may)", id, k, got, want, extraPolicyHolders(k))
			}
		}
		wantDeny := 0
		if (read+crud > 0 || id == authzID) && fn != chainExtender {
			wantDeny = 1
		}
		if got := count(extras, policyChainWriteDeny); got != wantDeny {
			fail("%s: %s: has %d, want %d (every function with table access but %s)", id, policyChainWriteDeny, got, wantDeny, chainExtender)
		}
		r, isRoute := byFn[fn]
		switch {
		case isRoute && r.Public && fn == "get-sign-in":
			// the sign-in discovery reads the tenant and its identity settings
			if crud > 0 || read != 1 {
				fail("%s: public route %s must have read-only table access", id, r.Key())
			}
		case isRoute && r.Public:
			if read+crud > 0 {
				fail("%s: public route %s must have no table access", id, r.Key())
			}
		case id == authzID:
			// policyAuthorizerReads and policyTouchAPIKeys (extras), no
			// table-wide policy
			if read+crud != 0 {
				fail("%s: must have no table-wide policy, only its GetItem and last-use statements (has read %d, crud %d)", id, read, crud)
			}
		case isRoute && r.Method == "GET", readOnlyFunctions[fn]:
			if read != 1 || crud != 0 {
				fail("%s: must have exactly DynamoDBReadPolicy on the table (has read %d, crud %d)", id, read, crud)
			}
		default:
			// Everything else writes (list a function that only reads in
			// readOnlyFunctions): with a read policy its writes would be
			// refused at run time.
			if read != 0 || crud != 1 {
				fail("%s: must have exactly DynamoDBCrudPolicy on !Ref table (it writes; or list it in readOnlyFunctions), has read %d, crud %d", id, read, crud)
			}
		}
	}

	// The authorizer reads its whole configuration from the environment.
	if af, ok := tp.functions()[authzID]; !ok {
		fail("no %s", authzID)
	} else {
		var env map[string]string
		if af.Environment != nil {
			env = af.Environment.Variables
		}
		for _, k := range []string{"OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_JWKS_URL", "GROUPS_CLAIM", "TENANT_CLAIM", "ADMIN_GROUP", "PLATFORM_ADMIN_KEY_PARAMETER", "API_KEY_CACHE_TTL"} {
			v := env[k]
			if !strings.HasPrefix(v, "Ref:") {
				fail("%s: environment %s is %q, want !Ref <parameter>", authzID, k, v)
				continue
			}
			if _, isParam := tp.cfn.Parameters[strings.TrimPrefix(v, "Ref:")]; !isParam {
				fail("%s: environment %s refers to %s, which is not a parameter", authzID, k, v)
			}
		}
		// The platform admin key is an SSM SecureString the authorizer
		// reads at init (shared/platformkey), never a plain variable.
		if p := strings.TrimPrefix(env["PLATFORM_ADMIN_KEY_PARAMETER"], "Ref:"); p != platformKeyParam {
			fail("%s: %s must be !Ref %s", authzID, "PLATFORM_ADMIN_KEY_PARAMETER", platformKeyParam)
		}
		if param, ok := tp.cfn.Parameters[platformKeyParam]; !ok || str(param.AllowedPattern) != `^(/[A-Za-z0-9_.-]+)+$` {
			fail("parameter %s must exist with AllowedPattern ^(/[A-Za-z0-9_.-]+)+$ (a full SSM name: its ARN is parameter<name>)", platformKeyParam)
		}
	}
	for id, f := range tp.functions() {
		if _, plain := envOf(tp, f)["PLATFORM_ADMIN_KEY"]; plain {
			fail("%s: %s in the environment: the key is read from SSM (%s)", id, "PLATFORM_ADMIN_KEY", "PLATFORM_ADMIN_KEY_PARAMETER")
		}
	}
	for _, id := range []string{"Stage", "OidcIssuer", "OidcAudience", "OidcJwksUrl", "GroupsClaim", "TenantClaim", "AdminGroup", platformKeyParam, "DeletionProtection", "LogLevel"} {
		if _, ok := tp.cfn.Parameters[id]; !ok {
			fail("parameter %s is missing", id)
		}
	}

	// HttpApi: $default stage, Lambda authorizer without identity sources and
	// without result caching (see the comment in template.yaml).
	_, api, err := tp.theHTTPAPI()
	if err != nil {
		return append(probs, err.Error())
	}
	if got := str(api.StageName); got != "$default" {
		fail("HttpApi StageName %q, want $default (routes have no stage prefix)", got)
	}
	name, def, err := defaultAuthorizer(api)
	if err != nil {
		return append(probs, err.Error())
	}
	want := map[string]any{
		"FunctionArn":                      "GetAtt:" + authzID + ".Arn",
		"AuthorizerPayloadFormatVersion":   "2.0",
		"EnableSimpleResponses":            true,
		"EnableFunctionDefaultPermissions": true,
	}
	for k, v := range want {
		if def[k] != v {
			fail("HttpApi authorizer %s: %s is %v, want %v", name, k, def[k], v)
		}
	}
	identity, _ := def["Identity"].(map[string]any)
	if identity == nil {
		fail("HttpApi authorizer %s: Identity must be set with ReauthorizeEvery: 0", name)
	} else {
		if n, ok := identity["ReauthorizeEvery"].(float64); !ok || n != 0 {
			fail("HttpApi authorizer %s: Identity.ReauthorizeEvery is %v, want 0 (no result caching)", name, identity["ReauthorizeEvery"])
		}
		for _, k := range []string{"Headers", "QueryStrings", "Context", "StageVariables"} {
			if _, set := identity[k]; set {
				fail("HttpApi authorizer %s: Identity.%s must not be set (requests carry Authorization OR X-API-Key)", name, k)
			}
		}
	}

	for _, o := range []string{"ApiUrl", "TableName", "StateMachineArn", "EventsTopicArn"} {
		if _, ok := tp.cfn.Outputs[o]; !ok {
			fail("output %s is missing", o)
		}
	}
	return probs
}

// The policies a function may hold besides its one table policy; which
// functions hold each is data (extraPolicyHolders), everything else is
// refused.
const (
	policyStartExecution     = "StepFunctionsExecutionPolicy on the access-request state machine"
	policyPublishEvents      = "SNSPublishMessagePolicy on " + eventsTopicID
	policyAssumeTenantRole   = "an inline statement allowing only sts:AssumeRole on the tenants' provisioning roles"
	policyEmailSubscriptions = "an inline statement allowing only sns:Subscribe (protocol email) on " + eventsTopicID +
		" and sns:Unsubscribe, sns:SetSubscriptionAttributes on its subscriptions"
	// The audit chain (issue 11): the extender alone may GenerateMac with
	// the chain key and write anchors; the verify function may VerifyMac
	// and read anchors. Exactly these documents, nothing wider.
	policyChainWriter   = "the chain writer's inline statements (kms:GenerateMac/VerifyMac on AuditChainKey, anchors put/get/list)"
	policyChainVerifier = "the chain verifier's inline statements (kms:VerifyMac on AuditChainKey, anchors get/list)"
	policyTouchAPIKeys  = "an inline statement allowing only dynamodb:UpdateItem of " + store.AttrLastUsedAt +
		" on the API keys' id items"
	// The authorizer's reads (issue 11 item 6): GetItem of the API keys'
	// hash items and the tenant partition, nothing else.
	policyAuthorizerReads = "the authorizer's inline statements (dynamodb:GetItem on T#* minus every partition but T#*#KEY#*)"
	// The managed policy every function but the chain extender holds
	// (checkChainWriteDeny checks its document).
	policyChainWriteDeny = "!Ref " + chainWriteDenyID
	// The authorizer reads the platform admin key's SSM parameter.
	policyReadPlatformKey = "an inline statement allowing only ssm:GetParameter on the " + platformKeyParam + " parameter"
)

// policySendToQueue is the kind of an SQSSendMessagePolicy on queue (a
// dead-letter queue, deadLetterQueues).
func policySendToQueue(queue string) string { return "SQSSendMessagePolicy on " + queue }

var extraPolicyKinds = func() []string {
	kinds := []string{policyStartExecution, policyPublishEvents, policyAssumeTenantRole, policyEmailSubscriptions, policyTouchAPIKeys, policyChainWriter, policyChainVerifier, policyAuthorizerReads, policyReadPlatformKey}
	for _, fn := range slices.Sorted(maps.Keys(deadLetterQueues)) {
		kinds = append(kinds, policySendToQueue(deadLetterQueues[fn]))
	}
	return kinds
}()

// extraPolicyHolders are the functions that must hold policy kind k (and
// the only ones that may).
func extraPolicyHolders(k string) []string {
	switch k {
	case policyStartExecution:
		return startingRoutes
	case policyPublishEvents:
		return publishingFunctions
	case policyAssumeTenantRole:
		return slices.Sorted(maps.Keys(providerFunctions))
	case policyEmailSubscriptions:
		return subscribingFunctions
	case policyTouchAPIKeys, policyAuthorizerReads, policyReadPlatformKey:
		return []string{routes.Authorizer}
	case policyChainWriter:
		return []string{"extend-audit-chain"}
	case policyChainVerifier:
		return []string{"verify-audit-log"}
	}
	for fn, q := range deadLetterQueues {
		if k == policySendToQueue(q) {
			return []string{fn} // its own queue only
		}
	}
	return nil
}

// The SAM policy templates of the extra kinds, as tablePolicies sees them
// (intrinsics as markers).
const (
	startExecutionTemplate = `{"StepFunctionsExecutionPolicy":{"StateMachineName":"Sub:${AWS::StackName}-access-request"}}`
	publishEventsTemplate  = `{"SNSPublishMessagePolicy":{"TopicName":"GetAtt:` + eventsTopicID + `.TopicName"}}`
)

// The chain's inline documents, as tablePolicies sees them.
const (
	chainWriterDoc = `{"Statement":[{"Action":["kms:GenerateMac","kms:VerifyMac"],"Effect":"Allow","Resource":"GetAtt:AuditChainKey.Arn"},` +
		`{"Action":["s3:PutObject","s3:PutObjectRetention","s3:GetObject"],"Effect":"Allow","Resource":"Sub:${AuditAnchorBucket.Arn}/anchors/*"},` +
		`{"Action":"s3:ListBucket","Effect":"Allow","Resource":"GetAtt:AuditAnchorBucket.Arn"}]}`
	chainVerifierDoc = `{"Statement":[{"Action":"kms:VerifyMac","Effect":"Allow","Resource":"GetAtt:AuditChainKey.Arn"},` +
		`{"Action":"s3:GetObject","Effect":"Allow","Resource":"Sub:${AuditAnchorBucket.Arn}/anchors/*"},` +
		`{"Action":"s3:ListBucket","Effect":"Allow","Resource":"GetAtt:AuditAnchorBucket.Arn"}]}`
)

// tenantRoleResource is the only resource sts:AssumeRole is allowed on: a
// role named by the TenantRoleName parameter, in any (tenant) account.
const tenantRoleResource = "Sub:arn:${AWS::Partition}:iam::*:role/${" + tenantRoleParam + "}"

func count(list []string, v string) int {
	n := 0
	for _, s := range list {
		if s == v {
			n++
		}
	}
	return n
}

// tablePolicies counts the function's DynamoDB read and CRUD policy
// templates on the table, lists the extra kinds it holds (one entry per
// policy) and, in other, anything else found.
func tablePolicies(f *serverless.Function, tableRef string) (read, crud int, extras, other []string) {
	if f.Policies == nil {
		return 0, 0, nil, nil
	}
	// goformation's Policies union is lossy: a list decodes into every list
	// member it can. A list of policy templates is SAMPolicyTemplateArray;
	// anything else in the list (a managed policy name, an inline
	// statement) shows up there as an empty template or as a non-empty
	// string in StringArray; an inline document's statements are at the
	// same index of IAMPolicyDocumentArray.
	if f.Policies.String != nil || f.Policies.IAMPolicyDocument != nil {
		other = append(other, "(single managed policy or inline document)")
	}
	var managed []string
	if f.Policies.StringArray != nil {
		managed = *f.Policies.StringArray
		for _, s := range managed {
			if s != "" && s != chainWriteDenyRef {
				other = append(other, "managed policy "+s)
			}
		}
	}
	if f.Policies.SAMPolicyTemplateArray == nil {
		return read, crud, extras, other
	}
	var docs []serverless.Function_IAMPolicyDocument
	if f.Policies.IAMPolicyDocumentArray != nil {
		docs = *f.Policies.IAMPolicyDocumentArray
	}
	for i, p := range *f.Policies.SAMPolicyTemplateArray {
		raw, _ := json.Marshal(p)
		switch {
		case p.DynamoDBReadPolicy != nil && string(raw) == fmt.Sprintf(`{"DynamoDBReadPolicy":{"TableName":%q}}`, tableRef):
			read++
		case p.DynamoDBCrudPolicy != nil && string(raw) == fmt.Sprintf(`{"DynamoDBCrudPolicy":{"TableName":%q}}`, tableRef):
			crud++
		case string(raw) == startExecutionTemplate:
			extras = append(extras, policyStartExecution)
		case string(raw) == publishEventsTemplate:
			extras = append(extras, policyPublishEvents)
		case p.SQSSendMessagePolicy != nil && sendToQueue(string(raw)) != "":
			extras = append(extras, policySendToQueue(sendToQueue(string(raw))))
		case string(raw) == "{}" && i < len(managed) && managed[i] == chainWriteDenyRef:
			extras = append(extras, policyChainWriteDeny)
		case string(raw) == "{}" && i < len(docs) && docs[i].Statement != nil:
			doc, _ := json.Marshal(docs[i])
			switch {
			case isAssumeTenantRoleDoc(docs[i]):
				extras = append(extras, policyAssumeTenantRole)
			case isEmailSubscriptionsDoc(docs[i]):
				extras = append(extras, policyEmailSubscriptions)
			case isTouchAPIKeysDoc(docs[i], strings.TrimPrefix(tableRef, "Ref:")):
				extras = append(extras, policyTouchAPIKeys)
			case string(doc) == chainWriterDoc:
				extras = append(extras, policyChainWriter)
			case string(doc) == chainVerifierDoc:
				extras = append(extras, policyChainVerifier)
			case string(doc) == readPlatformKeyDoc:
				extras = append(extras, policyReadPlatformKey)
			case isAuthorizerReadsDoc(docs[i], strings.TrimPrefix(tableRef, "Ref:")):
				extras = append(extras, policyAuthorizerReads)
			default:
				other = append(other, fmt.Sprintf("#%d inline %s", i, doc))
			}
		default:
			other = append(other, fmt.Sprintf("#%d %s", i, raw))
		}
	}
	return read, crud, extras, other
}

// sendToQueue is the dead-letter queue an SQSSendMessagePolicy template
// (as tablePolicies sees it) names by !GetAtt <queue>.QueueName, "" if it
// names anything else.
func sendToQueue(raw string) string {
	for _, q := range deadLetterQueues {
		if raw == `{"SQSSendMessagePolicy":{"QueueName":"GetAtt:`+q+`.QueueName"}}` {
			return q
		}
	}
	return ""
}

// isEmailSubscriptionsDoc: an inline document of exactly two statements
// (Sid free): Allow sns:Subscribe on exactly !Ref EventsTopic, only for
// the email protocol (Condition StringEquals sns:Protocol email), and
// Allow sns:Unsubscribe and sns:SetSubscriptionAttributes on exactly the
// topic's subscriptions, !Sub "${EventsTopic}:*" (both actions are
// requested on the subscription ARN, <topic ARN>:<id>). Nothing else: no
// Not*, no other action, resource or condition.
func isEmailSubscriptionsDoc(d serverless.Function_IAMPolicyDocument) bool {
	if len(d.Statement) != 2 {
		return false
	}
	var subscribe, manage int
	for _, st := range d.Statement {
		m, ok := st.(map[string]any)
		if !ok || m["Effect"] != "Allow" {
			return false
		}
		for k := range m {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Condition"}, k) {
				return false
			}
		}
		actions := slices.Sorted(slices.Values(strs(m["Action"])))
		cond, _ := json.Marshal(m["Condition"])
		switch {
		case slices.Equal(actions, []string{"sns:Subscribe"}) &&
			slices.Equal(strs(m["Resource"]), []string{"Ref:" + eventsTopicID}) &&
			string(cond) == `{"StringEquals":{"sns:Protocol":"email"}}`:
			subscribe++
		case slices.Equal(actions, []string{"sns:SetSubscriptionAttributes", "sns:Unsubscribe"}) &&
			slices.Equal(strs(m["Resource"]), []string{"Sub:${" + eventsTopicID + "}:*"}) && m["Condition"] == nil:
			manage++
		default:
			return false
		}
	}
	return subscribe == 1 && manage == 1
}

// isTouchAPIKeysDoc: an inline document of exactly one statement allowing
// exactly dynamodb:UpdateItem on exactly !GetAtt <table>.Arn (no index),
// conditioned on every leading key being an API keys' id partition
// (T#*#KEYS), the attributes touched being only the key attributes and
// last_used_at, and no returned values. Nothing else.
func isTouchAPIKeysDoc(d serverless.Function_IAMPolicyDocument, table string) bool {
	if len(d.Statement) != 1 || table == "" {
		return false
	}
	m, ok := d.Statement[0].(map[string]any)
	if !ok || m["Effect"] != "Allow" {
		return false
	}
	for k := range m {
		if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Condition"}, k) {
			return false
		}
	}
	cond, _ := json.Marshal(m["Condition"])
	want := fmt.Sprintf(`{"ForAllValues:StringEquals":{"dynamodb:Attributes":[%q,%q,%q]},"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["T#*#KEYS"]},"StringEqualsIfExists":{"dynamodb:ReturnValues":"NONE"}}`,
		store.AttrPK, store.AttrSK, store.AttrLastUsedAt)
	return slices.Equal(strs(m["Action"]), []string{"dynamodb:UpdateItem"}) &&
		slices.Equal(strs(m["Resource"]), []string{"GetAtt:" + table + ".Arn"}) && string(cond) == want
}

// isAssumeTenantRoleDoc: an inline document of statements that each allow
// exactly sts:AssumeRole on exactly tenantRoleResource (no Not*, no other
// keys but Sid and a Condition).
func isAssumeTenantRoleDoc(d serverless.Function_IAMPolicyDocument) bool {
	if len(d.Statement) == 0 {
		return false
	}
	for _, st := range d.Statement {
		m, ok := st.(map[string]any)
		if !ok || m["Effect"] != "Allow" {
			return false
		}
		for k := range m {
			if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource", "Condition"}, k) {
				return false
			}
		}
		if !slices.Equal(strs(m["Action"]), []string{"sts:AssumeRole"}) || !slices.Equal(strs(m["Resource"]), []string{tenantRoleResource}) {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- events

// eventFunction returns the function an events/ file belongs to: the
// longest fn with name == fn or name starting with fn + "-".
func eventFunction(file string) (string, bool) {
	name, ok := strings.CutSuffix(file, ".json")
	if !ok {
		return "", false
	}
	best := ""
	for _, fn := range routes.Functions() {
		if (name == fn || strings.HasPrefix(name, fn+"-")) && len(fn) > len(best) {
			best = fn
		}
	}
	return best, best != ""
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the event")
	}
	return nil
}

var pathParamRe = regexp.MustCompile(`\{([^}]+)\}`)

// expandPath substitutes path parameters into a route path.
func expandPath(path string, params map[string]string) (string, []string) {
	var names []string
	out := pathParamRe.ReplaceAllStringFunc(path, func(m string) string {
		n := strings.TrimSuffix(m[1:len(m)-1], "+") // {proxy+}: the parameter is "proxy"
		names = append(names, n)
		return params[n]
	})
	return out, names
}

func lowerKeys(h map[string]string) []string {
	var bad []string
	for k := range h {
		if k != strings.ToLower(k) {
			bad = append(bad, k)
		}
	}
	return bad
}

// checkEvents: naming, coverage and strict decoding of every events/ file.
func checkEvents(dir string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []string{err.Error()}
	}
	covered := map[string]int{}
	byFn := routeByFunction()
	for _, e := range entries {
		if e.IsDir() {
			fail("events/%s: unexpected directory", e.Name())
			continue
		}
		fn, ok := eventFunction(e.Name())
		if !ok {
			fail("events/%s does not belong to a function (want <fn>.json or <fn>-<variant>.json)", e.Name())
			continue
		}
		covered[fn]++
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			fail("%v", err)
			continue
		}
		var p []string
		switch {
		case fn == routes.Authorizer:
			p = checkAuthorizerEvent(data)
		case slices.Contains(routes.Workers, fn):
			p = checkWorkerEvent(data, fn)
		case slices.Contains(routes.Background, fn):
			if spec, ok := backgroundFunctions[fn]; ok {
				p = spec.sample(data)
			} else {
				p = []string{"no sample-event check for background function " + fn + " (add it to backgroundFunctions)"}
			}
		default:
			p = checkRouteEvent(data, eventRoute(data, byFn[fn]))
		}
		for _, s := range p {
			fail("events/%s: %s", e.Name(), s)
		}
	}
	for _, fn := range routes.Functions() {
		if covered[fn] == 0 {
			fail("function %s has no event in events/ (want events/%s.json)", fn, fn)
		}
	}
	return probs
}

func checkRouteEvent(data []byte, r routes.Route) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	var ev events.APIGatewayV2HTTPRequest
	if err := decodeStrict(data, &ev); err != nil {
		return []string{"not a strict events.APIGatewayV2HTTPRequest: " + err.Error()}
	}
	rc := ev.RequestContext
	if ev.Version != "2.0" {
		fail("version %q, want 2.0", ev.Version)
	}
	if ev.RouteKey != r.Key() || rc.RouteKey != r.Key() {
		fail("routeKey %q / requestContext.routeKey %q, want %q", ev.RouteKey, rc.RouteKey, r.Key())
	}
	if rc.HTTP.Method != r.Method {
		fail("requestContext.http.method %q, want %q", rc.HTTP.Method, r.Method)
	}
	want, names := expandPath(r.Path, ev.PathParameters)
	if ev.RawPath != want || rc.HTTP.Path != ev.RawPath {
		fail("rawPath %q / http.path %q, want %q (route %s, pathParameters %v)", ev.RawPath, rc.HTTP.Path, want, r.Path, ev.PathParameters)
	}
	if len(names) != len(ev.PathParameters) {
		fail("pathParameters %v, route %s has %v", ev.PathParameters, r.Path, names)
	}
	for _, n := range names {
		if ev.PathParameters[n] == "" {
			fail("pathParameters.%s is empty", n)
		}
	}
	q, err := url.ParseQuery(ev.RawQueryString)
	if err != nil {
		fail("rawQueryString: %v", err)
	}
	if len(q) != len(ev.QueryStringParameters) {
		fail("rawQueryString %q and queryStringParameters %v disagree", ev.RawQueryString, ev.QueryStringParameters)
	}
	for k, v := range ev.QueryStringParameters {
		if strings.Join(q[k], ",") != v {
			fail("queryStringParameters.%s %q, rawQueryString has %q", k, v, q[k])
		}
	}
	if rc.Stage != "$default" {
		fail("requestContext.stage %q, want $default", rc.Stage)
	}
	if rc.AccountID == "" || rc.APIID == "" || rc.DomainName == "" || rc.RequestID == "" || rc.Time == "" || rc.TimeEpoch == 0 || rc.HTTP.SourceIP == "" {
		fail("requestContext must set accountId, apiId, domainName, requestId, time, timeEpoch, http.sourceIp")
	}
	if bad := lowerKeys(ev.Headers); len(bad) > 0 {
		fail("header names must be lower case (API Gateway lowercases them): %v", bad)
	}
	if ev.IsBase64Encoded {
		fail("isBase64Encoded must be false")
	}
	hasBody := r.Method == "POST" || r.Method == "PUT"
	if hasBody != (ev.Body != "") {
		fail("body present = %v for %s", ev.Body != "", r.Method)
	}
	if hasBody && ev.Headers["content-type"] == "" {
		fail("a request with a body needs a content-type header")
	}

	if r.Public {
		if rc.Authorizer != nil {
			fail("public route must have no requestContext.authorizer")
		}
		return probs
	}
	if rc.Authorizer == nil || rc.Authorizer.Lambda == nil {
		return append(probs, "requestContext.authorizer.lambda is missing")
	}
	id, err := auth.IdentityFromAuthorizerContext(rc.Authorizer.Lambda)
	if err != nil {
		return append(probs, "authorizer context: "+err.Error())
	}
	platformRoute := slices.Contains(auth.DefaultPlatformRoutes, r.Key())
	switch {
	case platformRoute && id.PrincipalType != auth.PrincipalPlatform:
		fail("route %s is for the platform identity, context has %s", r.Key(), id.PrincipalType)
	case !platformRoute && id.PrincipalType == auth.PrincipalPlatform:
		fail("route %s is a tenant route, context has the platform identity", r.Key())
	case !platformRoute && ev.Headers["x-tenant-id"] != id.TenantID:
		fail("x-tenant-id header %q does not match the authorizer's tenant_id %q", ev.Headers["x-tenant-id"], id.TenantID)
	}
	return probs
}

func checkAuthorizerEvent(data []byte) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	if err := decodeStrict(data, &ev); err != nil {
		return []string{"not a strict events.APIGatewayV2CustomAuthorizerV2Request: " + err.Error()}
	}
	if ev.Version != "2.0" || ev.Type != "REQUEST" {
		fail("version %q type %q, want 2.0 REQUEST", ev.Version, ev.Type)
	}
	r, ok := routeOfKey(ev.RouteKey)
	if !ok || r.Public {
		return append(probs, fmt.Sprintf("routeKey %q is not an authorized route of routes.Table", ev.RouteKey))
	}
	rc := ev.RequestContext
	want, _ := expandPath(r.Path, ev.PathParameters)
	if ev.RawPath != want || rc.HTTP.Path != ev.RawPath || rc.HTTP.Method != r.Method || rc.RouteKey != ev.RouteKey {
		fail("rawPath/requestContext disagree with routeKey %q", ev.RouteKey)
	}
	if !strings.HasPrefix(ev.RouteArn, "arn:aws:execute-api:") || !strings.HasSuffix(ev.RouteArn, "/$default/"+r.Method+ev.RawPath) {
		fail("routeArn %q does not end in /$default/%s%s", ev.RouteArn, r.Method, ev.RawPath)
	}
	if len(ev.IdentitySource) != 0 {
		fail("identitySource must be empty: the authorizer has no identity sources")
	}
	if rc.Stage != "$default" || rc.Authorizer != nil {
		fail("requestContext: stage must be $default and there is no authorizer context yet")
	}
	if bad := lowerKeys(ev.Headers); len(bad) > 0 {
		fail("header names must be lower case: %v", bad)
	}
	key := ev.Headers["x-api-key"]
	if ev.Headers["authorization"] == "" && key == "" {
		fail("no credential header")
	}
	if slices.Contains(auth.DefaultPlatformRoutes, ev.RouteKey) {
		if len(key) < auth.MinPlatformKeyLen {
			fail("platform key shorter than %d", auth.MinPlatformKeyLen)
		}
	} else {
		if !auth.ValidTenantID(ev.Headers["x-tenant-id"]) {
			fail("x-tenant-id %q is not a valid tenant id", ev.Headers["x-tenant-id"])
		}
		if key != "" && !regexp.MustCompile(`^jit_[A-Za-z0-9_-]{43}$`).MatchString(key) {
			fail("x-api-key %q does not have the format of auth.GenerateKey (jit_ + 43 base64url)", key)
		}
	}
	return probs
}

// ---------------------------------------------------------------- tests

func report(t *testing.T, probs []string) {
	t.Helper()
	for _, p := range probs {
		t.Error(p)
	}
}

func TestRoutesMatchTemplate(t *testing.T) {
	report(t, checkRoutes(loadTemplate(t)))
}

func TestFunctionsMatchRouteTable(t *testing.T) {
	report(t, checkFunctionSet(loadTemplate(t)))
}

// TestFunctionDirectories needs functions/<fn>/main.go for every entry of
// routes.Functions().
func TestFunctionDirectories(t *testing.T) {
	report(t, checkFunctionDirs(loadTemplate(t), functionsDir))
}

func TestTableMatchesStoreSchema(t *testing.T) {
	report(t, checkTable(loadTemplate(t)))
}

func TestSettings(t *testing.T) {
	report(t, checkSettings(loadTemplate(t)))
}

func TestEvents(t *testing.T) {
	report(t, checkEvents(eventsDir))
}

func readEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(eventsDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := decodeStrict(data, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

func ruleBody(t *testing.T, name string) policy.Rule {
	t.Helper()
	var r policy.Rule
	if err := decodeStrict([]byte(readEvent(t, name).Body), &r); err != nil {
		t.Fatalf("%s: body is not a policy.Rule: %v", name, err)
	}
	return r
}

// TestEventBodies: the policy-rule sample bodies say what their names claim,
// judged by the policy package itself.
func TestEventBodies(t *testing.T) {
	for _, name := range []string{"create-policy-rule.json", "create-policy-rule-policy-text.json", "update-policy-rule.json"} {
		if _, err := policy.Normalize(ruleBody(t, name)); err != nil {
			t.Errorf("%s: body does not normalize: %v", name, err)
		}
	}
	if _, err := policy.Normalize(ruleBody(t, "create-policy-rule-invalid.json")); err == nil {
		t.Error("create-policy-rule-invalid.json: body normalizes, want a validation error (400)")
	}
	upd := readEvent(t, "update-policy-rule.json")
	if r := ruleBody(t, "update-policy-rule.json"); r.ID != upd.PathParameters["id"] {
		t.Errorf("update-policy-rule.json: body id %q, path id %q", r.ID, upd.PathParameters["id"])
	}
	imp := readEvent(t, "import-policy-rules.json")
	rules, err := policy.Import(imp.Body)
	if err != nil {
		t.Errorf("import-policy-rules.json: body does not import: %v", err)
	} else if got := policy.Export(rules); got != imp.Body {
		t.Errorf("import-policy-rules.json: body is not in policy.Export form:\n%s", got)
	}
	if ct := imp.Headers["content-type"]; ct != "text/plain" {
		t.Errorf("import-policy-rules.json: content-type %q, want text/plain", ct)
	}
}

// TestChecksDetectBreakage runs the checks on broken copies of the template
// and of events/: each breakage must be reported by the named check.
func TestChecksDetectBreakage(t *testing.T) {
	orig, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, old, new string
		check          func(*tmpl) []string
	}{
		{"renamed path", "Path: /v1/policy-rules/export\n", "Path: /v1/policy-rules/exports\n", checkRoutes},
		{"changed method", "Method: PUT\n", "Method: PATCH\n", checkRoutes},
		{"wrong CodeUri", "CodeUri: functions/get-policy-rule/", "CodeUri: functions/get-policy/", checkRoutes},
		{"healthz behind the authorizer", "            Auth:\n              Authorizer: NONE\n", "", checkRoutes},
		{"route outside the table", "              Authorizer: NONE\n", "              Authorizer: NONE\n        Debug:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: GET\n            Path: /debug\n", checkRoutes},
		{"wrong ApiId", "            ApiId: !Ref HttpApi\n            Method: GET\n            Path: /healthz", "            ApiId: !Ref Table\n            Method: GET\n            Path: /healthz", checkRoutes},
		{"function not in route table", "  HealthzFunction:\n", "  HealthFunction:\n", checkFunctionSet},
		{"no BuildMethod", "      BuildMethod: go1.x\n    Properties:\n      CodeUri: functions/healthz/", "      BuildMethod: makefile\n    Properties:\n      CodeUri: functions/healthz/", checkFunctionSet},
		{"GSI projection", "Projection: {ProjectionType: ALL}", "Projection: {ProjectionType: KEYS_ONLY}", checkTable},
		{"GSI key type", "{AttributeName: GSI3SK, KeyType: RANGE}", "{AttributeName: GSI3SK, KeyType: HASH}", checkTable},
		{"missing attribute", "        - {AttributeName: GSI2SK, AttributeType: S}\n", "", checkTable},
		{"no retain", "    DeletionPolicy: Retain\n", "", checkTable},
		{"no PITR", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", checkTable},
		{"TTL on another attribute", "        AttributeName: ttl\n", "        AttributeName: expires\n", checkTable},
		{"runtime", "Runtime: provided.al2023", "Runtime: provided.al2", checkSettings},
		{"x86", "Architectures: [arm64]", "Architectures: [x86_64]", checkSettings},
		{"no TABLE_NAME", "        TABLE_NAME: !Ref Table\n", "", checkSettings},
		{"reader gets CRUD", "CodeUri: functions/get-policy-rule/\n      Description: GET /v1/policy-rules/{id}\n      Policies:\n        - DynamoDBReadPolicy", "CodeUri: functions/get-policy-rule/\n      Description: GET /v1/policy-rules/{id}\n      Policies:\n        - DynamoDBCrudPolicy", checkSettings},
		{"writer without policy", "CodeUri: functions/create-tenant/\n      Description: POST /v1/tenants (platform admin only)\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n", "CodeUri: functions/create-tenant/\n      Description: POST /v1/tenants (platform admin only)\n", checkSettings},
		{"authorizer env missing", "          OIDC_AUDIENCE: !Ref OidcAudience\n", "", checkSettings},
		{"authorizer updates any item", `dynamodb:LeadingKeys: ["T#*#KEYS"]`, `dynamodb:LeadingKeys: ["T#*"]`, checkSettings},
		{"authorizer updates any attribute", "                ForAllValues:StringEquals:\n                  dynamodb:Attributes: [PK, SK, last_used_at]\n", "", checkSettings},
		{"authorizer without the touch policy", "        - Statement:\n            - Sid: TouchApiKeyLastUsed\n", "        - Statement:\n            - Sid: TouchApiKeyLastUsed\n              NotAction: dynamodb:DeleteItem\n", checkSettings},
		{"identity source", "            Identity:\n              ReauthorizeEvery: 0\n", "            Identity:\n              Headers: [Authorization]\n              ReauthorizeEvery: 300\n", checkSettings},
		{"payload 1.0", `AuthorizerPayloadFormatVersion: "2.0"`, `AuthorizerPayloadFormatVersion: "1.0"`, checkSettings},
		{"stage prefix", "StageName: $default", "StageName: prod", checkSettings},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustCatch(t, orig, c.old, c.new, c.check) })
	}

	t.Run("function dir not deployed", func(t *testing.T) {
		dir := t.TempDir()
		for _, fn := range append(routes.Functions(), "orphan") {
			if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fn, "main.go"), []byte("package main\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		tp, err := parseTemplate(orig)
		if err != nil {
			t.Fatal(err)
		}
		probs := checkFunctionDirs(tp, dir)
		if len(probs) != 1 || !strings.Contains(probs[0], "orphan") {
			t.Errorf("want exactly the orphan reported, got %v", probs)
		}
		if err := os.Remove(filepath.Join(dir, "healthz", "main.go")); err != nil {
			t.Fatal(err)
		}
		if probs := checkFunctionDirs(tp, dir); len(probs) != 2 {
			t.Errorf("missing functions/healthz/main.go not reported: %v", probs)
		}
	})

	eventCases := []struct {
		name, file, old, new string
		extra                string // a file to add instead of editing
	}{
		{name: "unknown field", file: "get-policy-rule.json", old: `"isBase64Encoded": false`, new: `"isBase64Encoded": false, "foo": 1`},
		{name: "wrong route", file: "get-policy-rule.json", old: `"routeKey": "GET /v1/policy-rules/{id}",`, new: `"routeKey": "GET /v1/policy-rules",`},
		{name: "path param mismatch", file: "delete-api-key.json", old: `"rawPath": "/v1/api-keys/key-ci"`, new: `"rawPath": "/v1/api-keys/key-other"`},
		{name: "tenant route with platform identity", file: "list-policy-rules.json", old: `"principal_type": "api_key"`, new: `"principal_type": "platform"`},
		{name: "public route with authorizer context", file: "healthz.json", old: `"stage": "$default",`, new: `"stage": "$default", "authorizer": {"lambda": {"principal_id": "x"}},`},
		{name: "authorizer identity source", file: "authorizer.json", old: `"identitySource": []`, new: `"identitySource": ["x"]`},
		{name: "orphan event file", extra: "nobody.json"},
		{name: "missing function event", file: "export-policy-rules.json"},
	}
	for _, c := range eventCases {
		t.Run("events/"+c.name, func(t *testing.T) {
			dir := t.TempDir()
			entries, err := os.ReadDir(eventsDir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				data, err := os.ReadFile(filepath.Join(eventsDir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if e.Name() == c.file {
					if c.old == "" {
						continue // drop the file
					}
					if !bytes.Contains(data, []byte(c.old)) {
						t.Fatalf("mutation is stale: %q not in events/%s", c.old, c.file)
					}
					data = bytes.Replace(data, []byte(c.old), []byte(c.new), 1)
				}
				if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.extra != "" {
				if err := os.WriteFile(filepath.Join(dir, c.extra), []byte("{}"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if probs := checkEvents(dir); len(probs) == 0 {
				t.Error("checkEvents passed on broken events")
			} else {
				t.Logf("caught: %s", probs[0])
			}
		})
	}
}

// mustCatch applies one mutation (the first old → new) to the template
// text orig and requires check to report a problem on the result.
func mustCatch(t *testing.T, orig []byte, old, new string, check func(*tmpl) []string) {
	t.Helper()
	if !bytes.Contains(orig, []byte(old)) {
		t.Fatalf("mutation is stale: %q not in template.yaml", old)
	}
	tp, err := parseTemplate(bytes.Replace(orig, []byte(old), []byte(new), 1))
	if err != nil {
		t.Fatalf("mutated template does not parse: %v", err)
	}
	if probs := check(tp); len(probs) == 0 {
		t.Error("check passed on a broken template")
	} else {
		t.Logf("caught: %s", probs[0])
	}
}
