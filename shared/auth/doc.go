// Package auth authenticates API calls for the API Gateway Lambda authorizer
// and the local dev server, and carries the resulting Identity to handlers.
//
// # Credentials
//
// Every call except GET /healthz carries exactly one credential; both or
// neither is 401 unauthorized.
//
//   - Authorization: Bearer <jwt> (people). Verified with go-oidc against the
//     configured issuer's JWKS: signature (asymmetric algorithms only, so
//     "none" and HS256 key-confusion tokens are refused), iss, aud, and exp,
//     nbf, iat with Config.ClockSkew (default 60s) of leeway. exp is required.
//     The tenant claim (default "tenant_id") must equal X-Tenant-ID, else 403
//     tenant_mismatch; a token with no tenant claim is 401, and so is one of
//     the default issuer for a tenant that does not exist (the issuer serves
//     every tenant; nothing is written under one never created). Users get the
//     scopes requests:read and requests:write, plus admin when one of their
//     groups (claim default "groups") equals Config.AdminGroup (default
//     "jitsudo-admins").
//   - X-API-Key: a tenant API key, looked up by SHA-256 (HashKey) under the
//     tenant named by X-Tenant-ID. Unknown (including: the key of another
//     tenant), revoked or expired keys are 401. A key has the scopes stored
//     with it. The store is tenant-first, so a foreign tenant's key is simply
//     not found; there is no cross-tenant lookup that could say
//     tenant_mismatch.
//   - X-API-Key equal to the platform admin key (deployment secret,
//     compared as SHA-256 digests in constant time): the platform identity,
//     with no tenant and the single scope "platform". It is checked before
//     any tenant lookup, so the platform key never acts as a tenant key.
//     Empty configuration disables it.
//
// X-Tenant-ID must match ^[a-z0-9][a-z0-9-]{1,62}$; missing or malformed is
// 401 (the platform key ignores it).
//
// # Where authorisation happens
//
// Two layers, both fail closed:
//
//  1. The authorizer (HandleRequest, or AuthorizeRoute in the dev server)
//     authenticates and enforces the kind of principal per route: only the
//     platform identity may call Config.PlatformRoutes (default
//     "POST /v1/tenants"), and the platform identity may call nothing else
//     (403 forbidden). It then passes the identity to the route as the
//     simple-response context: tenant_id, principal_id, principal_type,
//     groups and scopes (JSON array strings), email and name when present,
//     and email_verified (boolean true) only when the token's
//     `email_verified` claim is true: an unverified email is passed on
//     for display but never identifies the person (shared/access).
//  2. Each handler rebuilds the identity with IdentityFromAuthorizerContext
//     from event.RequestContext.Authorizer.Lambda (never from headers) and
//     calls RequireScope(id, scope) with its route's scope; a missing scope
//     is 403 forbidden. admin implies every tenant scope; "platform" is held
//     only by the platform identity. Finer decisions (who may approve what)
//     belong to the policy engine, not here.
//
// # Responses
//
// Authenticate and AuthorizeRoute return *Error with the exact status and
// code (401 unauthorized, 403 tenant_mismatch, 403 forbidden, 503
// auth_unavailable when the key store or the issuer is unreachable).
// API Gateway simple responses can only allow or deny, so HandleRequest
// denies (403 from API Gateway) on every authentication failure and logs the
// reason as JSON with the tenant id — never the token or the key. For 503
// cases it returns an error, which API Gateway turns into a 500, so an outage
// is not reported as a bad credential.
//
// # Key sets
//
// The issuer's JWKS is fetched once and cached (keyset.go). A token naming
// a key id that is not cached refreshes the set at most once per
// MinKeyRefresh (30s): a new signing key is picked up by the first token
// after that, while tokens with made-up key ids are refused without making
// the authorizer fetch the JWKS for each of them (go-oidc's RemoteKeySet
// would, amplifying junk traffic onto the identity provider).
//
// # Caching and revocation delay
//
// A warm authorizer caches API-key lookups (found and not found) per
// (tenant, hash) for Config.KeyCacheTTL (env API_KEY_CACHE_TTL, default
// 30s). A revoked key therefore keeps working for up to that long on
// authorizers that looked it up just before the revocation; expiry and the
// revocation timestamp of the cached record are checked on every call. Set
// API_KEY_CACHE_TTL=0 for immediate revocation at the cost of one DynamoDB
// read per call. Keep API Gateway's own authorizer result cache off
// (ReauthorizeEvery/AuthorizerResultTtlInSeconds 0, no identity sources):
// with two alternative credential headers, required identity sources would
// reject one of them before the authorizer runs.
package auth
