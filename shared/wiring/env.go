// Package wiring is the composition root: every function's main.go calls
// it, and it is the only package that reads the environment. One table
// (Vars) declares every variable a function may read; the readers refuse
// a name the table does not declare. docs/configuration.md documents the
// table, and tests check that the two agree, that template.yaml sets only
// declared variables and every variable the table says it sets, and that
// no other package reads the environment.
//
// From that configuration it builds what the functions run with: the
// store, the workflow client, the access service, the API's Deps, the
// workers, the sweeper, the outbox relay, the notification dispatcher,
// the audit chain's extender and verifier, the authorizer, the page. The
// domain packages take their dependencies as arguments and read nothing.
//
// It does not import the clients of the AWS services only some functions
// call (Identity Center's STS, SSO Admin and Identity Store; SNS; KMS and
// S3; SSM). Go keeps the package initialization of everything a binary
// imports, and measured on get-grant (arm64, make build's flags) linking
// them all grows it from 11.2 MB to 13.3 MB, +19 % for code it never
// runs, at the edge of the binaries' budget (the Makefile's
// MAX_BINARY_BYTES). A function that needs one passes its adapter's
// constructor as an Option (WithProvider(providers.IdentityCenter),
// WithAuditKeys(awsaudit.NewKMSSigner, awsaudit.NewS3Anchors), …); wiring
// reads the adapter's configuration and calls it. A variable that needs
// an adapter the function was not built with is an error at cold start.
package wiring

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Source says who sets a variable.
type Source string

const (
	// Template: template.yaml sets it (Globals or the functions that read it).
	Template Source = "template"
	// Runtime: the Lambda runtime sets it.
	Runtime Source = "runtime"
	// Local: only the local stack, tests or an operator running a function
	// elsewhere set it (endpoints of stand-ins, local keys).
	Local Source = "local"
)

// Var is one environment variable.
type Var struct {
	Name   string
	Source Source
	Doc    string
}

// Vars is every environment variable a function reads.
var Vars = []Var{
	{"STAGE", Template, "name tag for logs"},
	{"LOG_LEVEL", Template, "debug, info, warn or error (default info)"},
	{"TABLE_NAME", Template, "the table"},
	{"CURSOR_SECRET", Template, "the key list cursors are sealed with (>= 32 bytes)"},
	{"STATE_MACHINE_ARN", Template, "the access-request state machine"},
	{"SNS_TOPIC_ARN", Template, "the events topic"},
	{"API_BASE_URL", Template, "base of the links in events"},
	{"UI_BASE_URL", Template, "where notifications' links to the Approvals page point"},
	{"UI_CLIENT_ID", Template, "the Approvals page's public client id at the default issuer"},
	{"UI_CONNECT_SRC", Template, "extra origins the page may fetch"},
	{"OIDC_ISSUER", Template, "the deployment's default issuer"},
	{"OIDC_AUDIENCE", Template, "the audience tokens must carry"},
	{"OIDC_JWKS_URL", Template, "the default issuer's JWKS (empty: discovery)"},
	{"GROUPS_CLAIM", Template, "the groups claim"},
	{"TENANT_CLAIM", Template, "the tenant claim"},
	{"ADMIN_GROUP", Template, "the group of tenant admins"},
	{"PLATFORM_ADMIN_KEY_PARAMETER", Template, "the SSM SecureString holding the key POST /v1/tenants accepts"},
	{"PLATFORM_ADMIN_KEY", Local, "that key itself, on a local stack only"},
	{"API_KEY_CACHE_TTL", Template, "the authorizer's API-key cache"},
	{"PROVIDER", Template, "the provisioning provider of the provider functions"},
	{"PROVIDER_MODE", Template, "what targets create-request and evaluate-policy accept"},
	{"PROVIDER_POLL_BUDGET", Template, "how long one call waits for Identity Center's asynchronous status"},
	{"TENANT_ROLE_NAME", Template, "the role name tenants' AWS settings must use"},
	{"NOTICE_LEAD", Template, "grant.expiring_soon this long before a grant's end"},
	{"NOTIFY_MODE", Template, "channel URL rules: aws or local"},
	{"SWEEP_GRACE", Template, "how long past a deadline the sweeper leaves an item to the workflow"},
	{"PROVISIONING_BUDGET", Template, "how long provisioning may take before the sweeper fails it"},
	{"RATE_LIMIT_MESSAGES_PER_MINUTE", Template, "messages one person may post per minute"},
	{"RATE_LIMIT_REQUESTS_PER_MINUTE", Template, "requests one person may create per minute"},
	{"RATE_LIMIT_EXTENSIONS_PER_MINUTE", Template, "extensions one person may ask for per minute"},
	{"MAX_MESSAGES_PER_REQUEST", Template, "messages a request's conversation may hold"},
	{"AUDIT_KMS_KEY_ID", Template, "the audit chain's KMS HMAC key"},
	{"AUDIT_ANCHOR_BUCKET", Template, "the Object Lock bucket of the chain's anchors"},
	{"AUDIT_ANCHOR_RETENTION_DAYS", Template, "the anchors' Object Lock retention"},
	{"AUDIT_ANCHOR_PREFIX", Local, "the anchors' key prefix (default anchors/)"},
	{"AUDIT_ANCHOR_EVERY", Local, "anchor after this many chain entries (default 100)"},
	{"AUDIT_ANCHOR_INTERVAL", Local, "anchor at least this often (default 1m)"},
	{"AUDIT_ANCHOR_DIR", Local, "a directory of anchors instead of the bucket"},
	{"AUDIT_MAC_KEY", Local, "the chain's MAC key instead of KMS (hex or base64, >= 32 bytes)"},
	{"AUDIT_MAC_KEY_FILE", Local, "a file holding that key"},
	{"DYNAMODB_ENDPOINT", Local, "a DynamoDB-API endpoint instead of AWS"},
	{"SFN_ENDPOINT", Local, "a Step Functions endpoint instead of AWS"},
	{"SNS_ENDPOINT", Local, "an SNS endpoint instead of AWS"},
	{"PROVIDER_ENDPOINT", Local, "an STS / SSO Admin / Identity Store endpoint instead of AWS"},
	{"AWS_REGION", Runtime, "the region"},
	{"AWS_DEFAULT_REGION", Runtime, "the region, when AWS_REGION is unset"},
	{"AWS_ACCESS_KEY_ID", Runtime, "the function role's credentials"},
	{"AWS_SECRET_ACCESS_KEY", Runtime, "the function role's credentials"},
	{"AWS_SESSION_TOKEN", Runtime, "the function role's credentials"},
}

var declared = func() map[string]bool {
	m := make(map[string]bool, len(Vars))
	for _, v := range Vars {
		m[v.Name] = true
	}
	return m
}()

// Declared reports whether name is in Vars.
func Declared(name string) bool { return declared[name] }

// lookup is os.LookupEnv for a declared variable, untrimmed. An undeclared
// name is a programming error: it panics (at cold start, where functions
// read their configuration; the tests start every function).
func lookup(name string) (string, bool) {
	if !declared[name] {
		panic(fmt.Sprintf("wiring: %s is not declared in wiring.Vars", name))
	}
	return os.LookupEnv(name)
}

// raw is the declared variable's value as it is (a secret may end in
// spaces).
func raw(name string) string {
	v, _ := lookup(name)
	return v
}

// str is the declared variable's value, trimmed; "" when unset.
func str(name string) string { return strings.TrimSpace(raw(name)) }

// duration is the declared variable as a positive Go duration, def when
// it is unset or empty.
func duration(name string, def time.Duration) (time.Duration, error) {
	v := str(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration", name, v)
	}
	return d, nil
}
