package auth

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Defaults of Config.
const (
	DefaultClockSkew   = 60 * time.Second
	DefaultKeyCacheTTL = 30 * time.Second
	// DefaultKeyTouchEvery is how stale an API key's last_used_at may be.
	DefaultKeyTouchEvery = 5 * time.Minute
	// MinPlatformKeyLen is the shortest platform admin key New accepts.
	MinPlatformKeyLen = 16
)

// DefaultPlatformRoutes are the routes that only the platform identity may
// call (API Gateway route keys).
var DefaultPlatformRoutes = []string{"POST /v1/tenants"}

// Config configures an Authorizer. Zero values take the documented defaults,
// except KeyCacheTTL (0 disables the cache; shared/wiring defaults it to DefaultKeyCacheTTL).
type Config struct {
	// Issuer is the OIDC issuer URL, compared byte for byte with `iss`.
	// Empty disables bearer-token authentication (every JWT is refused).
	Issuer string
	// Audience must appear in the token's `aud`. Required when Issuer is set.
	Audience string
	// JWKSURL, when set, is used directly; otherwise the key set URL comes
	// from OIDC discovery of Issuer, done lazily on the first JWT and cached
	// (a failed discovery is retried on a later call, at most every 5s).
	JWKSURL string
	// GroupsClaim and TenantClaim name the claims holding the groups (string
	// array, or one string) and the tenant id. Defaults "groups", "tenant_id".
	// A name that is not a top-level claim but contains dots is looked up as
	// a path into nested objects (e.g. "realm_access.roles").
	GroupsClaim, TenantClaim string
	// AdminGroup: users in this group get ScopeAdmin. Default "jitsudo-admins".
	AdminGroup string
	// ClockSkew is the leeway on exp, nbf and iat. 0 means 60s; negative
	// means no leeway.
	ClockSkew time.Duration
	// PlatformAdminKey is the raw platform admin key (deployment secret). It
	// is hashed at construction and only the digest is kept. Empty disables
	// the platform identity. shared/wiring reads it through
	// shared/platformkey (an SSM SecureString in AWS).
	PlatformAdminKey string
	// PlatformRoutes are the route keys only the platform identity may call;
	// nil means DefaultPlatformRoutes.
	PlatformRoutes []string
	// KeyCacheTTL is how long a warm authorizer trusts an API-key lookup
	// (found or not found) before asking the store again. It bounds the
	// revocation delay: a revoked key keeps working for at most KeyCacheTTL
	// in authorizers that looked it up just before. Expiry is checked on
	// every call regardless. 0 disables the cache.
	KeyCacheTTL time.Duration
	// KeyTouchEvery is how often a key's last_used_at is rewritten while
	// it is in use (when the KeyLookup is also a KeyToucher): at most one
	// table write per key per interval. 0 means DefaultKeyTouchEvery;
	// negative disables the tracking.
	KeyTouchEvery time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// HTTPClient fetches the discovery document and the JWKS. Default: a
	// client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives HandleRequest's decision logs. Default: JSON to stdout.
	Logger *slog.Logger

	// Identities gives each tenant's own identity provider settings (the
	// table); nil: every tenant uses the default issuer (Issuer).
	Identities IdentitySource
	// IdentityTTL is how long a tenant's identity settings are cached
	// (found or not). 0 means DefaultIdentityTTL.
	IdentityTTL time.Duration
	// MaxIssuers bounds the tenant issuers (each with its cached JWKS) a
	// warm authorizer holds (LRU). 0 means DefaultMaxIssuers.
	MaxIssuers int
	// TenantHTTPClient fetches tenants' JWKS: in AWS the SSRF guard's
	// client (tenant admins choose these URLs). Default: HTTPClient.
	TenantHTTPClient *http.Client
}

// ParseKeyCacheTTL reads API_KEY_CACHE_TTL: a Go duration ("30s", "2m")
// or a number of seconds, from 0 (no cache) to an hour.
func ParseKeyCacheTTL(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 3600 {
			return 0, fmt.Errorf("seconds out of range 0..3600")
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > time.Hour {
		return 0, fmt.Errorf("out of range 0..1h")
	}
	return d, nil
}

func (c Config) withDefaults() Config {
	if c.GroupsClaim == "" {
		c.GroupsClaim = defaultGroupsClaim
	}
	if c.TenantClaim == "" {
		c.TenantClaim = defaultTenantClaim
	}
	if c.AdminGroup == "" {
		c.AdminGroup = defaultAdminGroup
	}
	switch {
	case c.ClockSkew == 0:
		c.ClockSkew = DefaultClockSkew
	case c.ClockSkew < 0:
		c.ClockSkew = 0
	}
	if c.PlatformRoutes == nil {
		c.PlatformRoutes = DefaultPlatformRoutes
	}
	if c.KeyTouchEvery == 0 {
		c.KeyTouchEvery = DefaultKeyTouchEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.IdentityTTL <= 0 {
		c.IdentityTTL = DefaultIdentityTTL
	}
	if c.MaxIssuers <= 0 {
		c.MaxIssuers = DefaultMaxIssuers
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stdout, nil))
	}
	return c
}
