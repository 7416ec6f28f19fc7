package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Header names (matched case-insensitively).
const (
	HeaderAuthorization = "Authorization"
	HeaderAPIKey        = "X-API-Key"
	HeaderTenantID      = "X-Tenant-ID"
)

const (
	maxTokenLen        = 16 << 10
	maxAPIKeyLen       = 512
	discoveryTimeout   = 10 * time.Second
	discoveryRetryWait = 5 * time.Second
	httpTimeout        = 10 * time.Second
)

// Authorizer authenticates API calls. It is safe for concurrent use; one
// instance lives for the life of a warm Lambda.
type Authorizer struct {
	cfg            Config
	keys           KeyLookup
	cache          *keyCache
	toucher        KeyToucher // nil: last use not recorded
	touched        touched
	platformDigest []byte // sha256 of the platform admin key; nil = disabled
	platformRoutes map[string]bool

	// JWT verification: verifier is fixed when JWKSURL is configured, else
	// built by discovery on first use.
	baseCtx      context.Context
	oidcCfg      *oidc.Config // the default issuer's; nil: none configured
	oidcBase     *oidc.Config // algorithms, clock, no audience: tenant issuers start from it
	httpClient   *http.Client
	tenantClient *http.Client
	issuers      *tenantIssuers
	mu           sync.Mutex
	verifier     *oidc.IDTokenVerifier
	discoveryErr error
	discoveryAt  time.Time
}

// New builds an Authorizer. ctx supplies values only (its cancellation is
// ignored); it is kept for background JWKS fetches, which use
// Config.HTTPClient (default: a client with a 10s timeout). New does no
// network I/O: discovery (when JWKSURL is empty) and the first JWKS fetch
// happen on the first bearer token.
func New(ctx context.Context, cfg Config, keys KeyLookup) (*Authorizer, error) {
	if keys == nil {
		return nil, errors.New("auth: nil KeyLookup")
	}
	cfg = cfg.withDefaults()
	a := &Authorizer{
		cfg:            cfg,
		keys:           keys,
		cache:          newKeyCache(cfg.KeyCacheTTL),
		platformRoutes: make(map[string]bool, len(cfg.PlatformRoutes)),
	}
	a.toucher, _ = keys.(KeyToucher)
	for _, r := range cfg.PlatformRoutes {
		a.platformRoutes[r] = true
	}
	if cfg.PlatformAdminKey != "" {
		if len(cfg.PlatformAdminKey) < MinPlatformKeyLen {
			return nil, fmt.Errorf("auth: platform admin key shorter than %d characters", MinPlatformKeyLen)
		}
		if !validKeyChars(cfg.PlatformAdminKey) {
			return nil, errors.New("auth: platform admin key must be printable ASCII without spaces")
		}
		d := sha256.Sum256([]byte(cfg.PlatformAdminKey))
		a.platformDigest = d[:]
		a.cfg.PlatformAdminKey = "" // keep only the digest
	}
	if ctx == nil {
		ctx = context.Background()
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: httpTimeout}
	}
	a.httpClient, a.tenantClient = client, cfg.TenantHTTPClient
	if a.tenantClient == nil {
		a.tenantClient = client
	}
	a.baseCtx = oidc.ClientContext(context.WithoutCancel(ctx), client)
	a.oidcBase = &oidc.Config{
		// Asymmetric algorithms only: "none" and HMAC are never accepted.
		SupportedSigningAlgs: []string{
			oidc.RS256, oidc.RS384, oidc.RS512,
			oidc.ES256, oidc.ES384, oidc.ES512,
			oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA,
		},
		// go-oidc checks exp with no leeway and nbf with a fixed 5 minutes;
		// we check exp, nbf and iat ourselves with cfg.ClockSkew.
		SkipExpiryCheck: true,
		Now:             cfg.Now,
	}
	a.issuers = newTenantIssuers(cfg.MaxIssuers)
	if cfg.Issuer != "" {
		if cfg.Audience == "" {
			return nil, errors.New("auth: OIDC audience is required when an issuer is configured")
		}
		if !strings.HasPrefix(cfg.Issuer, "https://") && !strings.HasPrefix(cfg.Issuer, "http://") {
			return nil, fmt.Errorf("auth: OIDC issuer %q is not an http(s) URL", cfg.Issuer)
		}
		c := *a.oidcBase
		c.ClientID = cfg.Audience
		a.oidcCfg = &c
		if cfg.JWKSURL != "" {
			a.verifier = oidc.NewVerifier(cfg.Issuer, newKeySet(cfg.JWKSURL, client, a.oidcCfg.SupportedSigningAlgs, cfg.Now), a.oidcCfg)
		}
	}
	return a, nil
}

func (a *Authorizer) now() time.Time { return a.cfg.Now() }

// Authenticate decides who is calling from the request headers. Header names
// are matched case-insensitively here (callers may pass API Gateway's
// lower-cased map or a canonicalised one); surrounding whitespace is trimmed
// and an empty header counts as absent. The same header given twice under
// different spellings with different values is refused.
//
// Exactly one credential must be present:
//   - X-API-Key equal to the platform admin key: the platform identity (no
//     tenant; X-Tenant-ID is ignored).
//   - X-API-Key (tenant key): looked up by hash under X-Tenant-ID.
//   - Authorization: Bearer <jwt>: verified against the OIDC issuer; its
//     tenant claim must equal X-Tenant-ID (else 403 tenant_mismatch).
//
// Errors are always *Error: 401 unauthorized, 403 tenant_mismatch, or 503
// auth_unavailable when the key store or the issuer cannot be reached.
// Authenticate does not know the route; use AuthorizeRoute for that.
func (a *Authorizer) Authenticate(ctx context.Context, headers map[string]string) (Identity, error) {
	h, err := pickHeaders(headers)
	if err != nil {
		return Identity{}, err
	}
	switch {
	case h.authz != "" && h.apiKey != "":
		return Identity{}, unauthorized("send either Authorization or X-API-Key, not both", nil)
	case h.authz == "" && h.apiKey == "":
		return Identity{}, unauthorized("missing credentials: send Authorization: Bearer <token> or X-API-Key", nil)
	}
	if h.apiKey != "" {
		if len(h.apiKey) > maxAPIKeyLen || !validKeyChars(h.apiKey) {
			return Identity{}, unauthorized("malformed API key", nil)
		}
		if a.isPlatformKey(h.apiKey) {
			return Identity{PrincipalID: PrincipalPlatform, PrincipalType: PrincipalPlatform, Scopes: []string{ScopePlatform}}, nil
		}
	}
	tenant, terr := checkTenantHeader(h.tenant)
	if terr != nil {
		return Identity{}, terr
	}
	if h.apiKey != "" {
		return a.authenticateKey(ctx, tenant, h.apiKey)
	}
	return a.authenticateBearer(ctx, tenant, h.authz)
}

// AuthorizeRoute is Authenticate plus the route-kind check HandleRequest
// applies: the platform identity may call only the platform routes
// (Config.PlatformRoutes, default "POST /v1/tenants") and tenant identities
// may call only the others (403 forbidden). routeKey is API Gateway's route
// key, e.g. "POST /v1/tenants". The local dev server calls this to produce
// the exact 401/403 bodies API Gateway cannot.
func (a *Authorizer) AuthorizeRoute(ctx context.Context, routeKey string, headers map[string]string) (Identity, error) {
	id, err := a.Authenticate(ctx, headers)
	if err != nil {
		return Identity{}, err
	}
	platformRoute := a.platformRoutes[routeKey]
	switch {
	case platformRoute && id.PrincipalType != PrincipalPlatform:
		return Identity{}, forbidden("this route needs the platform admin key")
	case !platformRoute && id.PrincipalType == PrincipalPlatform:
		return Identity{}, forbidden("the platform admin key is not a tenant credential")
	}
	return id, nil
}

// HandleRequest is the Lambda authorizer entry point (HTTP API, payload
// format 2.0, simple responses). Every authentication failure is a deny
// (API Gateway answers 403); the reason is logged, never the credential.
// When the key store or the issuer is unreachable it returns an error, so
// API Gateway answers 500 instead of pretending the credential was bad.
func (a *Authorizer) HandleRequest(ctx context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	start := a.now()
	id, err := a.AuthorizeRoute(ctx, ev.RouteKey, ev.Headers)
	attrs := []any{
		slog.String("route_key", ev.RouteKey),
		slog.String("request_id", ev.RequestContext.RequestID),
		slog.String("tenant_id", logTenant(ev.Headers)),
		slog.Duration("elapsed", a.now().Sub(start)),
	}
	if err != nil {
		var ae *Error
		if !errors.As(err, &ae) {
			ae = unavailable("internal error", err)
		}
		attrs = append(attrs, slog.Int("status", ae.Status), slog.String("code", ae.Code), slog.String("reason", ae.Error()))
		if ae.Status >= 500 {
			a.cfg.Logger.ErrorContext(ctx, "authorizer unavailable", attrs...)
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, ae
		}
		a.cfg.Logger.WarnContext(ctx, "authorizer deny", attrs...)
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
	}
	attrs = append(attrs, slog.String("principal_type", id.PrincipalType), slog.String("principal_id", id.PrincipalID))
	a.cfg.Logger.InfoContext(ctx, "authorizer allow", attrs...)
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: id.AuthorizerContext()}, nil
}

// logTenant returns the X-Tenant-ID header for logs, only if well-formed.
func logTenant(headers map[string]string) string {
	for k, v := range headers {
		if asciiEqualFold(k, HeaderTenantID) {
			v = strings.TrimSpace(v)
			if ValidTenantID(v) {
				return v
			}
			return "(invalid)"
		}
	}
	return ""
}

func (a *Authorizer) isPlatformKey(raw string) bool {
	if a.platformDigest == nil {
		return false
	}
	d := sha256.Sum256([]byte(raw))
	return subtle.ConstantTimeCompare(d[:], a.platformDigest) == 1
}

func (a *Authorizer) authenticateKey(ctx context.Context, tenant, raw string) (Identity, error) {
	hash := HashKey(raw)
	ck := cacheKey{tenant: tenant, hash: hash}
	now := a.now()
	e, ok := a.cache.get(ck, now)
	if !ok {
		key, err := a.keys.GetAPIKeyByHash(ctx, tenant, hash)
		switch {
		case err == nil:
			e = cacheEntry{key: key, found: true}
		case errors.Is(err, store.ErrNotFound):
			e = cacheEntry{found: false}
		default:
			return Identity{}, unavailable("API key lookup failed", err)
		}
		a.cache.put(ck, e.key, e.found, now)
	}
	if !e.found {
		return Identity{}, unauthorized("invalid API key", nil)
	}
	key := e.key
	// Defence in depth: the store is keyed by (tenant, hash), but refuse any
	// record that disagrees with what was asked for.
	if (key.TenantID != "" && key.TenantID != tenant) ||
		(key.Hash != "" && subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) != 1) {
		return Identity{}, unauthorized("invalid API key", errors.New("store returned a key record for another tenant or hash"))
	}
	if key.ID == "" {
		return Identity{}, unauthorized("invalid API key", errors.New("key record has no id"))
	}
	if key.RevokedAt != nil {
		return Identity{}, unauthorized("API key revoked", nil)
	}
	if key.ExpiresAt != nil && !now.Before(*key.ExpiresAt) {
		return Identity{}, unauthorized("API key expired", nil)
	}
	a.touch(ctx, tenant, key.ID, now)
	var scopes []string
	for _, s := range key.Scopes {
		if ValidTenantScope(s) && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return Identity{
		TenantID:      tenant,
		PrincipalID:   key.ID,
		PrincipalType: PrincipalAPIKey,
		Scopes:        scopes,
		Name:          key.Name,
	}, nil
}

type pickedHeaders struct{ authz, apiKey, tenant string }

func pickHeaders(headers map[string]string) (pickedHeaders, *Error) {
	var p pickedHeaders
	var seenAuthz, seenKey, seenTenant bool
	set := func(dst *string, seen *bool, v, name string) *Error {
		v = strings.TrimSpace(v)
		if *seen && *dst != v {
			return unauthorized("conflicting values for header "+name, nil)
		}
		*dst, *seen = v, true
		return nil
	}
	for k, v := range headers {
		var err *Error
		switch {
		case asciiEqualFold(k, HeaderAuthorization):
			err = set(&p.authz, &seenAuthz, v, HeaderAuthorization)
		case asciiEqualFold(k, HeaderAPIKey):
			err = set(&p.apiKey, &seenKey, v, HeaderAPIKey)
		case asciiEqualFold(k, HeaderTenantID):
			err = set(&p.tenant, &seenTenant, v, HeaderTenantID)
		}
		if err != nil {
			return pickedHeaders{}, err
		}
	}
	return p, nil
}

func checkTenantHeader(v string) (string, *Error) {
	if v == "" {
		return "", unauthorized("missing X-Tenant-ID header", nil)
	}
	if !ValidTenantID(v) {
		return "", unauthorized("malformed X-Tenant-ID header", nil)
	}
	return v, nil
}

// asciiEqualFold compares header names ignoring ASCII case only (unlike
// strings.EqualFold, "K" never matches the Kelvin sign).
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// validKeyChars: visible ASCII, no spaces or controls.
func validKeyChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}
