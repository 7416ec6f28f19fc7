// Package routes is the single source of truth for the HTTP API: every route,
// the Lambda function that serves it and how it is authorised. template.yaml,
// the functions/ directory, events/ and the local dev server are all checked
// against this table by tests.
package routes

import (
	"regexp"
	"strings"
)

// Route is one API Gateway route served by one Lambda function.
type Route struct {
	Method   string // GET, POST, PUT, DELETE
	Path     string // API Gateway path, with {param} placeholders
	Function string // directory under functions/ and the function's logical name stem
	// Public routes skip the authorizer (/healthz, the sign-in discovery,
	// the OpenAPI document and the Approvals page's static files).
	Public bool
}

// Key is API Gateway's route key, e.g. "GET /v1/policy-rules/{id}".
func (r Route) Key() string { return r.Method + " " + r.Path }

// Pattern is the net/http ServeMux pattern for the route: the same syntax,
// except API Gateway's greedy {name+} is ServeMux's {name...} and "/" is
// "/{$}" (API Gateway's "/" is that path only, ServeMux's every path).
func (r Route) Pattern() string {
	p := r.Path
	if p == "/" {
		p = "/{$}"
	}
	p = greedyRe.ReplaceAllString(p, "{$1...}")
	return r.Method + " " + p
}

var greedyRe = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\+\}`)

// LogicalID is the function's CloudFormation logical id in template.yaml,
// e.g. "create-policy-rule" → "CreatePolicyRuleFunction".
func (r Route) LogicalID() string { return LogicalID(r.Function) }

// LogicalID turns a function directory name into its template logical id.
func LogicalID(function string) string {
	var b strings.Builder
	for _, part := range strings.Split(function, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	b.WriteString("Function")
	return b.String()
}

// Authorizer is the function directory of the Lambda REQUEST authorizer.
const Authorizer = "authorizer"

// Table lists every route of the API.
var Table = []Route{
	{Method: "GET", Path: "/healthz", Function: "healthz", Public: true},
	// Public sign-in discovery: where a tenant's people sign in.
	{Method: "GET", Path: "/v1/tenants/{tenant_id}/sign-in", Function: "get-sign-in", Public: true},

	// The Approvals page (static files, same origin as the API) and the
	// API's OpenAPI document.
	{Method: "GET", Path: "/", Function: "web", Public: true},
	{Method: "GET", Path: "/ui/{proxy+}", Function: "web", Public: true},
	{Method: "GET", Path: "/v1/openapi.json", Function: "openapi", Public: true},

	{Method: "POST", Path: "/v1/tenants", Function: "create-tenant"},
	{Method: "GET", Path: "/v1/api-keys", Function: "list-api-keys"},
	{Method: "POST", Path: "/v1/api-keys", Function: "create-api-key"},
	{Method: "DELETE", Path: "/v1/api-keys/{id}", Function: "delete-api-key"},

	{Method: "GET", Path: "/v1/policy-rules", Function: "list-policy-rules"},
	{Method: "POST", Path: "/v1/policy-rules", Function: "create-policy-rule"},
	{Method: "GET", Path: "/v1/policy-rules/export", Function: "export-policy-rules"},
	{Method: "POST", Path: "/v1/policy-rules/import", Function: "import-policy-rules"},
	{Method: "GET", Path: "/v1/policy-rules/{id}", Function: "get-policy-rule"},
	{Method: "PUT", Path: "/v1/policy-rules/{id}", Function: "update-policy-rule"},
	{Method: "DELETE", Path: "/v1/policy-rules/{id}", Function: "delete-policy-rule"},
	{Method: "POST", Path: "/v1/policies/evaluate", Function: "evaluate-policy"},

	{Method: "POST", Path: "/v1/requests", Function: "create-request"},
	{Method: "GET", Path: "/v1/requests", Function: "list-requests"},
	{Method: "GET", Path: "/v1/requests/{id}", Function: "get-request"},
	{Method: "POST", Path: "/v1/requests/{id}/approve", Function: "approve-request"},
	{Method: "POST", Path: "/v1/requests/{id}/deny", Function: "deny-request"},
	{Method: "POST", Path: "/v1/requests/{id}/cancel", Function: "cancel-request"},
	{Method: "GET", Path: "/v1/requests/{id}/messages", Function: "list-messages"},
	{Method: "POST", Path: "/v1/requests/{id}/messages", Function: "post-message"},
	{Method: "GET", Path: "/v1/grants", Function: "list-grants"},
	{Method: "GET", Path: "/v1/grants/{id}", Function: "get-grant"},
	{Method: "DELETE", Path: "/v1/grants/{id}", Function: "revoke-grant"},
	{Method: "POST", Path: "/v1/grants/{id}/extend", Function: "extend-grant"},
	{Method: "GET", Path: "/v1/audit-log", Function: "list-audit-log"},
	{Method: "GET", Path: "/v1/audit-log/verify", Function: "verify-audit-log"},

	{Method: "GET", Path: "/v1/settings/aws", Function: "get-aws-settings"},
	{Method: "PUT", Path: "/v1/settings/aws", Function: "put-aws-settings"},
	{Method: "GET", Path: "/v1/settings/identity", Function: "get-identity-settings"},
	{Method: "PUT", Path: "/v1/settings/identity", Function: "put-identity-settings"},

	{Method: "GET", Path: "/v1/notification-channels", Function: "list-notification-channels"},
	{Method: "POST", Path: "/v1/notification-channels", Function: "create-notification-channel"},
	{Method: "GET", Path: "/v1/notification-channels/{id}", Function: "get-notification-channel"},
	{Method: "PUT", Path: "/v1/notification-channels/{id}", Function: "update-notification-channel"},
	{Method: "DELETE", Path: "/v1/notification-channels/{id}", Function: "delete-notification-channel"},
	{Method: "POST", Path: "/v1/notification-channels/{id}/test", Function: "test-notification-channel"},
}

// Workers are the functions Step Functions invokes as Task states of the
// access-request workflow (no HTTP route). Their CloudFormation logical ids
// follow LogicalID as well.
var Workers = []string{
	"store-task-token",        // the pending-approval wait's .waitForTaskToken task
	"approval-timeout-worker", // the ApprovalTimeoutWorker: expires an undecided request
	"provision-grant",         // provisioning → active
	"fail-grant",              // provisioning → failed after retries
	"expire-grant",            // the scheduled revoke at the grant's end
	"notify-expiring",         // grant.expiring_soon, a lead time before the end
	"record-failure",          // the Catch of every step: revoke_failed, or an audited step failure
}

// Background are the functions triggered by something other than the API
// or the workflow: a schedule, the table's stream, the SNS topic.
var Background = []string{
	"reconcile-assignments", // EventBridge schedule: Identity Center drift reconciler
	"sweep-overdue",         // EventBridge schedule: finishes overdue grants and requests (workflow.Sweeper)
	"relay-outbox",          // the table's stream (audit items): start / resume the workflow, domain events → the SNS topic
	"extend-audit-chain",    // the table's stream (audit items): the tenants' hash chains, MACed and anchored
	"deliver-notifications", // the SNS topic: events → Slack and webhook channels
}

// Functions lists every function directory: the authorizer, each route's,
// the workflow workers and the background functions.
func Functions() []string {
	out := []string{Authorizer}
	for _, r := range Table {
		out = append(out, r.Function)
	}
	out = append(out, Workers...)
	return append(out, Background...)
}
