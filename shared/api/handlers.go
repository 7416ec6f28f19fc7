package api

import (
	"net/http"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/openapi"
	"github.com/jitsudo/jitsudo-serverless/shared/web"
)

// Constructors maps each function of the route table to its handler
// constructor. Functions' main.go files use one entry each; the dev server
// uses them all. A test checks it covers routes.Table exactly. It is a
// function, not a variable, so that a function's binary links only its
// own handler: a package-level map would keep every handler reachable.
func Constructors() map[string]func(Deps) http.Handler {
	return map[string]func(Deps) http.Handler{
		"healthz":               func(Deps) http.Handler { return lambdaapp.Health() },
		"web":                   func(d Deps) http.Handler { return web.Must(d.Web) },
		"openapi":               func(Deps) http.Handler { return openapi.Handler() },
		"get-sign-in":           GetSignIn,
		"get-identity-settings": GetIdentitySettings,
		"put-identity-settings": PutIdentitySettings,
		"create-tenant":         CreateTenant,
		"create-api-key":        CreateAPIKey,
		"list-api-keys":         ListAPIKeys,
		"delete-api-key":        DeleteAPIKey,
		"list-policy-rules":     ListRules,
		"create-policy-rule":    CreateRule,
		"export-policy-rules":   ExportRules,
		"import-policy-rules":   ImportRules,
		"get-policy-rule":       GetRule,
		"update-policy-rule":    UpdateRule,
		"delete-policy-rule":    DeleteRule,
		"evaluate-policy":       Evaluate,

		"create-request":   CreateRequest,
		"list-requests":    ListRequests,
		"get-request":      GetRequest,
		"approve-request":  ApproveRequest,
		"deny-request":     DenyRequest,
		"cancel-request":   CancelRequest,
		"list-messages":    ListMessages,
		"post-message":     PostMessage,
		"list-grants":      ListGrants,
		"get-grant":        GetGrant,
		"revoke-grant":     RevokeGrant,
		"extend-grant":     ExtendGrant,
		"list-audit-log":   ListAuditLog,
		"verify-audit-log": VerifyAuditLog,

		"get-aws-settings": GetAWSSettings,
		"put-aws-settings": PutAWSSettings,

		"list-notification-channels":  ListChannels,
		"create-notification-channel": CreateChannel,
		"get-notification-channel":    GetChannel,
		"update-notification-channel": UpdateChannel,
		"delete-notification-channel": DeleteChannel,
		"test-notification-channel":   TestChannel,
	}
}
