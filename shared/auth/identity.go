package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
)

// Principal types.
const (
	PrincipalUser     = "user"
	PrincipalAPIKey   = "api_key"
	PrincipalPlatform = "platform"
)

// Scopes. ScopeAdmin implies every tenant scope; ScopePlatform is held only by
// the platform identity and is implied by nothing.
const (
	ScopeAdmin          = "admin"
	ScopePoliciesWrite  = "policies:write"
	ScopePoliciesRead   = "policies:read"
	ScopeRequestsRead   = "requests:read"
	ScopeRequestsWrite  = "requests:write"
	ScopePlatform       = "platform"
	defaultAdminGroup   = "jitsudo-admins"
	defaultGroupsClaim  = "groups"
	defaultTenantClaim  = "tenant_id"
	maxContextListItems = 256
)

// TenantScopes lists every scope a tenant API key may carry (ScopeAdmin
// included). Handlers creating API keys validate requested scopes with
// ValidTenantScope.
var TenantScopes = []string{ScopeAdmin, ScopePoliciesWrite, ScopePoliciesRead, ScopeRequestsRead, ScopeRequestsWrite}

// ValidTenantScope reports whether s is a scope a tenant credential can hold.
func ValidTenantScope(s string) bool { return slices.Contains(TenantScopes, s) }

// Error codes of *Error.
const (
	CodeUnauthorized   = "unauthorized"     // 401: no, bad, ambiguous, expired or unknown credential
	CodeTenantMismatch = "tenant_mismatch"  // 403: a valid credential of another tenant
	CodeForbidden      = "forbidden"        // 403: valid credential, missing scope or wrong kind of principal for the route
	CodeUnavailable    = "auth_unavailable" // 503: the key store or the OIDC issuer could not be reached
)

// Error is an authentication or authorisation failure with the HTTP status
// and API error code the caller should answer with. Message is safe to show
// to the client; the underlying cause (if any) is only for logs, via Unwrap.
type Error struct {
	Status  int
	Code    string
	Message string
	cause   error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the internal cause (never shown to clients).
func (e *Error) Unwrap() error { return e.cause }

func unauthorized(msg string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: msg, cause: cause}
}

func forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: msg}
}

func unavailable(msg string, cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: msg, cause: cause}
}

var tenantIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

// ValidTenantID reports whether s is a well-formed tenant id.
func ValidTenantID(s string) bool { return tenantIDRe.MatchString(s) }

// Identity is the authenticated caller. Handlers get it only from the
// authorizer context (IdentityFromAuthorizerContext), never from headers.
type Identity struct {
	TenantID      string // empty only for the platform identity
	PrincipalID   string // JWT `sub`, API key id, or "platform"
	PrincipalType string // PrincipalUser | PrincipalAPIKey | PrincipalPlatform
	// Issuer is the tenant's own issuer that authenticated the person
	// (PrincipalID is then principal.Qualify(Issuer, sub)); empty for the
	// deployment's default issuer, API keys and the platform.
	Issuer      string
	Groups      []string
	Scopes      []string
	Email, Name string
	// EmailVerified is true only when the token's `email_verified` claim
	// is true (JSON true, or the string "true" some issuers send) and
	// Email is set. An unverified email is still passed on (for display
	// and notifications) but must never identify the person: see
	// shared/access (the same-person rule and email-mapped tenants).
	EmailVerified bool
}

// HasScope reports whether the identity holds scope s. The platform identity
// holds exactly ScopePlatform; tenant identities never hold ScopePlatform,
// and ScopeAdmin implies every tenant scope.
func (id Identity) HasScope(s string) bool {
	switch id.PrincipalType {
	case PrincipalPlatform:
		return s == ScopePlatform
	case PrincipalUser, PrincipalAPIKey:
		if !ValidTenantScope(s) || id.TenantID == "" {
			return false
		}
		return slices.Contains(id.Scopes, s) || slices.Contains(id.Scopes, ScopeAdmin)
	default:
		return false
	}
}

// RequireScope returns nil when id holds scope, else a 403 `forbidden` *Error.
// Every handler calls it first with the scope its route needs.
func RequireScope(id Identity, scope string) error {
	if id.HasScope(scope) {
		return nil
	}
	return forbidden(fmt.Sprintf("missing scope %q", scope))
}

// Context keys of the authorizer's simple response.
const (
	CtxTenantID      = "tenant_id"
	CtxPrincipalID   = "principal_id"
	CtxPrincipalType = "principal_type"
	CtxGroups        = "groups"         // JSON array, encoded as a string
	CtxScopes        = "scopes"         // JSON array, encoded as a string
	CtxEmail         = "email"          // only when present
	CtxEmailVerified = "email_verified" // boolean true, only when the email is present and verified
	CtxName          = "name"           // only when present
	CtxIssuer        = "issuer"         // only for a tenant's own issuer
)

// AuthorizerContext encodes the identity for an API Gateway HTTP API simple
// response, whose context values must be strings, numbers or booleans: groups
// and scopes are JSON array strings.
func (id Identity) AuthorizerContext() map[string]any {
	m := map[string]any{
		CtxTenantID:      id.TenantID,
		CtxPrincipalID:   id.PrincipalID,
		CtxPrincipalType: id.PrincipalType,
		CtxGroups:        encodeList(id.Groups),
		CtxScopes:        encodeList(id.Scopes),
	}
	if id.Email != "" {
		m[CtxEmail] = id.Email
		if id.EmailVerified {
			m[CtxEmailVerified] = true
		}
	}
	if id.Name != "" {
		m[CtxName] = id.Name
	}
	if id.Issuer != "" {
		m[CtxIssuer] = id.Issuer
	}
	return m
}

func encodeList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // []string always marshals
	return string(b)
}

// IdentityFromAuthorizerContext rebuilds the identity from the authorizer
// context a handler receives (event.RequestContext.Authorizer.Lambda). It
// fails closed (401 *Error) when the context is missing or inconsistent, which
// only happens when a route is deployed without the authorizer.
func IdentityFromAuthorizerContext(m map[string]any) (Identity, error) {
	if len(m) == 0 {
		return Identity{}, unauthorized("missing authorizer context", nil)
	}
	var id Identity
	var err error
	if id.TenantID, err = ctxString(m, CtxTenantID, false); err != nil {
		return Identity{}, err
	}
	if id.PrincipalID, err = ctxString(m, CtxPrincipalID, true); err != nil {
		return Identity{}, err
	}
	if id.PrincipalType, err = ctxString(m, CtxPrincipalType, true); err != nil {
		return Identity{}, err
	}
	if id.Email, err = ctxString(m, CtxEmail, false); err != nil {
		return Identity{}, err
	}
	if id.EmailVerified, err = ctxBool(m, CtxEmailVerified); err != nil {
		return Identity{}, err
	}
	id.EmailVerified = id.EmailVerified && id.Email != ""
	if id.Name, err = ctxString(m, CtxName, false); err != nil {
		return Identity{}, err
	}
	if id.Issuer, err = ctxString(m, CtxIssuer, false); err != nil {
		return Identity{}, err
	}
	if id.Groups, err = ctxList(m, CtxGroups); err != nil {
		return Identity{}, err
	}
	if id.Scopes, err = ctxList(m, CtxScopes); err != nil {
		return Identity{}, err
	}
	switch id.PrincipalType {
	case PrincipalUser, PrincipalAPIKey:
		if !ValidTenantID(id.TenantID) {
			return Identity{}, unauthorized("authorizer context: invalid tenant id", nil)
		}
	case PrincipalPlatform:
		if id.TenantID != "" {
			return Identity{}, unauthorized("authorizer context: platform identity with a tenant", nil)
		}
	default:
		return Identity{}, unauthorized("authorizer context: unknown principal type", nil)
	}
	return id, nil
}

func ctxString(m map[string]any, k string, required bool) (string, error) {
	v, ok := m[k]
	if !ok || v == nil {
		if required {
			return "", unauthorized("authorizer context: missing "+k, nil)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", unauthorized("authorizer context: "+k+" is not a string", nil)
	}
	if required && s == "" {
		return "", unauthorized("authorizer context: empty "+k, nil)
	}
	return s, nil
}

// ctxBool reads an optional boolean: JSON true/false, or the strings
// "true"/"false" (a context that went through a string-only hop). Absent
// is false; any other value is an inconsistent context (401).
func ctxBool(m map[string]any, k string) (bool, error) {
	switch v := m[k].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case string:
		switch v {
		case "true":
			return true, nil
		case "false", "":
			return false, nil
		}
	}
	return false, unauthorized("authorizer context: "+k+" is not a boolean", nil)
}

// ctxList accepts the JSON array string the authorizer writes, and also a
// decoded []any / []string (for local callers passing the map through JSON).
func ctxList(m map[string]any, k string) ([]string, error) {
	v, ok := m[k]
	if !ok || v == nil {
		return nil, nil
	}
	var out []string
	switch t := v.(type) {
	case string:
		if t == "" {
			return nil, nil
		}
		if err := json.Unmarshal([]byte(t), &out); err != nil {
			return nil, unauthorized("authorizer context: "+k+" is not a JSON string array", err)
		}
	case []string:
		out = slices.Clone(t)
	case []any:
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, unauthorized("authorizer context: "+k+" has a non-string element", nil)
			}
			out = append(out, s)
		}
	default:
		return nil, unauthorized("authorizer context: "+k+" has an unexpected type", nil)
	}
	if len(out) > maxContextListItems {
		return nil, unauthorized("authorizer context: "+k+" too long", nil)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
