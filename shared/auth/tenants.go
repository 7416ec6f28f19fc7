package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// IdentitySource gives a tenant's own identity provider settings
// (*store.Store implements it); store.ErrNotFound means the tenant has
// none and signs in with the deployment's default issuer — if it exists
// (GetTenant): the default issuer serves every tenant, so a token of it
// may name one that was never created, and is refused then.
type IdentitySource interface {
	GetIdentitySettings(ctx context.Context, tenantID string) (store.IdentitySettings, error)
	GetTenant(ctx context.Context, id string) (store.Tenant, error)
}

// Defaults of the per-tenant issuer caches.
const (
	// DefaultIdentityTTL is how long a warm authorizer trusts a tenant's
	// identity settings (found or not) before reading them again: a
	// changed issuer takes effect within it.
	DefaultIdentityTTL = 30 * time.Second
	// DefaultMaxIssuers bounds the issuers (verifier and cached JWKS) a
	// warm authorizer holds; the least recently used is dropped.
	DefaultMaxIssuers = 64
	// maxTenantEntries bounds the cached tenant settings.
	maxTenantEntries = 4096
)

type tenantEntry struct {
	settings *store.IdentitySettings // nil: the tenant has none
	missing  bool                    // no settings and no tenant
	at       time.Time
}

// tenantIssuers caches tenants' identity settings (TTL) and one verifier
// per issuer (LRU): each verifier has its own JWKS cache with the refresh
// limits of keySet.
type tenantIssuers struct {
	mu        sync.Mutex
	tenants   *lru[string, tenantEntry]
	verifiers *lru[string, *oidc.IDTokenVerifier]
}

func newTenantIssuers(maxIssuers int) *tenantIssuers {
	return &tenantIssuers{tenants: newLRU[string, tenantEntry](maxTenantEntries), verifiers: newLRU[string, *oidc.IDTokenVerifier](maxIssuers)}
}

// tenantIdentity returns the tenant's identity settings (settings nil:
// none; missing: nor is there such a tenant), from the cache when younger
// than the TTL. Without an IdentitySource every tenant uses the default
// issuer and none is missing.
func (a *Authorizer) tenantIdentity(ctx context.Context, tenant string) (tenantEntry, error) {
	if a.cfg.Identities == nil {
		return tenantEntry{}, nil
	}
	now := a.now()
	a.issuers.mu.Lock()
	e, ok := a.issuers.tenants.get(tenant)
	a.issuers.mu.Unlock()
	if ok && now.Sub(e.at) < a.cfg.IdentityTTL && now.Sub(e.at) >= 0 {
		return e, nil
	}
	s, err := a.cfg.Identities.GetIdentitySettings(ctx, tenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = tenantEntry{at: now}
		_, err := a.cfg.Identities.GetTenant(ctx, tenant)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidTenant):
			e.missing = true
		case err != nil:
			return tenantEntry{}, err
		}
	case err != nil:
		return tenantEntry{}, err
	default:
		e = tenantEntry{settings: &s, at: now}
	}
	a.issuers.mu.Lock()
	a.issuers.tenants.put(tenant, e)
	a.issuers.mu.Unlock()
	return e, nil
}

// tenantVerifier returns the verifier of a tenant issuer (signature, iss;
// the audience is checked per tenant by the caller), building it on first
// use. No network I/O here: the JWKS is fetched on the first token.
func (a *Authorizer) tenantVerifier(s *store.IdentitySettings) *oidc.IDTokenVerifier {
	k := s.IssuerURL + "\n" + s.JWKSURL
	a.issuers.mu.Lock()
	defer a.issuers.mu.Unlock()
	if v, ok := a.issuers.verifiers.get(k); ok {
		return v
	}
	cfg := *a.oidcBase
	cfg.SkipClientIDCheck = true
	v := oidc.NewVerifier(s.IssuerURL, newKeySet(s.JWKSURL, a.tenantClient, cfg.SupportedSigningAlgs, a.cfg.Now), &cfg)
	a.issuers.verifiers.put(k, v)
	return v
}

// peekIssuer reads `iss` from a JWT's payload WITHOUT verifying it: only
// to pick the verifier, which then checks `iss` and the signature.
func peekIssuer(token string) (string, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return "", false
	}
	s, ok := c.Iss.(string)
	return s, ok && s != ""
}

// audienceOK reports whether the token's `aud` (string or array) holds
// one of want.
func audienceOK(claims map[string]any, want []string) bool {
	has := func(s string) bool {
		for _, w := range want {
			if w != "" && s == w {
				return true
			}
		}
		return false
	}
	switch v := claims["aud"].(type) {
	case string:
		return has(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && has(s) {
				return true
			}
		}
	}
	return false
}

func issuerNotTrusted(iss string) *Error {
	return unauthorized("the token's issuer is not trusted by this tenant", fmt.Errorf("iss %q", clip(iss, 200)))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
