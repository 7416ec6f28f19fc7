package auth

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
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
// except KeyCacheTTL (0 disables the cache; ConfigFromEnv defaults it to 30s).
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
	// the platform identity. ConfigFromEnv leaves it empty: the authorizer
	// sets it from shared/platformkey (an SSM SecureString in AWS).
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

	envErr error // a malformed environment variable, reported by New
}

// Environment variables read by ConfigFromEnv.
const (
	EnvIssuer           = "OIDC_ISSUER"
	EnvAudience         = "OIDC_AUDIENCE"
	EnvJWKSURL          = "OIDC_JWKS_URL"
	EnvGroupsClaim      = "GROUPS_CLAIM"
	EnvTenantClaim      = "TENANT_CLAIM"
	EnvAdminGroup       = "ADMIN_GROUP"
	EnvPlatformAdminKey = "PLATFORM_ADMIN_KEY"
	EnvAPIKeyCacheTTL   = "API_KEY_CACHE_TTL"
)

// ConfigFromEnv reads the configuration from the environment. API_KEY_CACHE_TTL
// is a Go duration ("30s", "2m") or a number of seconds; unset means 30s and
// "0" disables the cache. A malformed value makes New fail.
func ConfigFromEnv() Config {
	cfg := Config{
		Issuer:      config.String(EnvIssuer),
		Audience:    config.String(EnvAudience),
		JWKSURL:     config.String(EnvJWKSURL),
		GroupsClaim: config.String(EnvGroupsClaim),
		TenantClaim: config.String(EnvTenantClaim),
		AdminGroup:  config.String(EnvAdminGroup),
		KeyCacheTTL: DefaultKeyCacheTTL,
	}
	if v := config.String(EnvAPIKeyCacheTTL); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			cfg.envErr = fmt.Errorf("auth: %s=%q: %w", EnvAPIKeyCacheTTL, v, err)
		} else {
			cfg.KeyCacheTTL = d
		}
	}
	return cfg
}

func parseDuration(v string) (time.Duration, error) {
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
