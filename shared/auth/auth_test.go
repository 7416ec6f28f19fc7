package auth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/jitsudo/jitsudo-serverless/infra/devissuer"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

const (
	audience    = "jitsudo-api"
	platformKey = "platform-secret-key-0123456789abcdef"
	tenantA     = "acme"
	tenantB     = "globex"
)

// ---- test doubles -------------------------------------------------------

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// memKeys is an in-memory KeyLookup keyed like the real store: (tenant, hash).
type memKeys struct {
	mu    sync.Mutex
	m     map[[2]string]store.APIKey
	calls int
	err   error // when set, every lookup fails with it
}

func newMemKeys() *memKeys { return &memKeys{m: map[[2]string]store.APIKey{}} }

func (s *memKeys) GetAPIKeyByHash(_ context.Context, tenantID, hash string) (store.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.err != nil {
		return store.APIKey{}, s.err
	}
	k, ok := s.m[[2]string{tenantID, hash}]
	if !ok {
		return store.APIKey{}, fmt.Errorf("get api key: %w", store.ErrNotFound)
	}
	return k, nil
}

func (s *memKeys) put(k store.APIKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[[2]string{k.TenantID, k.Hash}] = k
}

// putUnder stores k under (tenant, hash) regardless of k's own fields.
func (s *memKeys) putUnder(tenant, hash string, k store.APIKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[[2]string{tenant, hash}] = k
}

func (s *memKeys) update(tenant, hash string, f func(*store.APIKey)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.m[[2]string{tenant, hash}]
	f(&k)
	s.m[[2]string{tenant, hash}] = k
}

func (s *memKeys) setErr(err error) { s.mu.Lock(); s.err = err; s.mu.Unlock() }
func (s *memKeys) nCalls() int      { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

type env struct {
	t        testing.TB
	iss      *devissuer.Issuer
	srv      *httptest.Server
	requests atomic.Int64 // HTTP requests the issuer served
	down     atomic.Bool  // issuer answers 503
	clock    *clock
	keys     *memKeys
	cfg      auth.Config
	a        *auth.Authorizer
	logs     *bytes.Buffer
}

func newEnv(t testing.TB, mutate func(*auth.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, keys: newMemKeys(), logs: &bytes.Buffer{}}
	var h http.Handler = http.NotFoundHandler()
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.requests.Add(1)
		if e.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	iss, err := devissuer.New(e.srv.URL + "/dev-idp")
	if err != nil {
		t.Fatal(err)
	}
	iss.SetNow(e.clock.Now)
	mux := http.NewServeMux()
	mux.Handle("/dev-idp/", iss.Handler())
	h = mux
	e.iss = iss
	e.cfg = auth.Config{
		Issuer:           iss.IssuerURL(),
		Audience:         audience,
		PlatformAdminKey: platformKey,
		KeyCacheTTL:      30 * time.Second,
		Now:              e.clock.Now,
		Logger:           slog.New(slog.NewJSONHandler(e.logs, nil)),
	}
	if mutate != nil {
		mutate(&e.cfg)
	}
	e.a, err = auth.New(context.Background(), e.cfg, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func baseClaims() map[string]any {
	return map[string]any{
		"sub":       "user-alice",
		"aud":       audience,
		"tenant_id": tenantA,
		"groups":    []string{"eng", "oncall"},
		"email":     "alice@acme.example",
		"name":      "Alice",
	}
}

func (e *env) mint(mod func(map[string]any)) string {
	e.t.Helper()
	c := baseClaims()
	if mod != nil {
		mod(c)
	}
	tok, err := e.iss.Mint(c, 10*time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func bearer(tok, tenant string) map[string]string {
	h := map[string]string{"authorization": "Bearer " + tok}
	if tenant != "" {
		h["x-tenant-id"] = tenant
	}
	return h
}

func apiKey(raw, tenant string) map[string]string {
	h := map[string]string{"x-api-key": raw}
	if tenant != "" {
		h["x-tenant-id"] = tenant
	}
	return h
}

// addKey stores a fresh tenant key and returns its raw value.
func (e *env) addKey(tenant string, scopes []string, mod func(*store.APIKey)) (string, store.APIKey) {
	e.t.Helper()
	raw, hash, prefix, err := auth.GenerateKey()
	if err != nil {
		e.t.Fatal(err)
	}
	k := store.APIKey{ID: "key-" + prefix[4:], TenantID: tenant, Name: "ci", Hash: hash, Prefix: prefix, Scopes: scopes, CreatedAt: e.clock.Now()}
	if mod != nil {
		mod(&k)
	}
	e.keys.put(k)
	return raw, k
}

// wantErr asserts err is an *auth.Error with status and code, and that its
// text (which includes the internal cause) contains every substring.
func wantErr(t *testing.T, err error, status int, code string, contains ...string) {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *auth.Error %d %s, got %v", status, code, err)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("want %d %s, got %d %s (%v)", status, code, ae.Status, ae.Code, err)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err.Error(), s)
		}
	}
}

// ---- JWT ----------------------------------------------------------------

func TestBearerValid(t *testing.T) {
	e := newEnv(t, nil)
	id, err := e.a.Authenticate(context.Background(), bearer(e.mint(nil), tenantA))
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Identity{
		TenantID: tenantA, PrincipalID: "user-alice", PrincipalType: auth.PrincipalUser,
		Groups: []string{"eng", "oncall"}, Scopes: []string{auth.ScopeRequestsRead, auth.ScopeRequestsWrite},
		Email: "alice@acme.example", Name: "Alice",
	}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("identity\n got %+v\nwant %+v", id, want)
	}
	if id.HasScope(auth.ScopeAdmin) || id.HasScope(auth.ScopePoliciesWrite) || id.HasScope(auth.ScopePlatform) {
		t.Fatalf("non-admin user has too many scopes: %v", id.Scopes)
	}
	if !id.HasScope(auth.ScopeRequestsWrite) {
		t.Fatal("user lacks requests:write")
	}
}

func TestBearerAdminGroup(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.mint(func(c map[string]any) { c["groups"] = []string{"eng", "jitsudo-admins"} })
	id, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range auth.TenantScopes {
		if !id.HasScope(s) {
			t.Errorf("admin lacks %s", s)
		}
	}
	if id.HasScope(auth.ScopePlatform) {
		t.Error("tenant admin holds the platform scope")
	}

	// Custom admin group: the default one no longer grants admin.
	e2 := newEnv(t, func(c *auth.Config) { c.AdminGroup = "ops" })
	tok = e2.mint(func(c map[string]any) { c["groups"] = []string{"jitsudo-admins"} })
	id, err = e2.a.Authenticate(context.Background(), bearer(tok, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	if id.HasScope(auth.ScopeAdmin) {
		t.Error("default admin group honoured although AdminGroup=ops")
	}
}

func TestBearerCustomClaims(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.GroupsClaim = "cognito:groups"; c.TenantClaim = "custom:tenant" })
	tok := e.mint(func(c map[string]any) {
		delete(c, "tenant_id")
		delete(c, "groups")
		c["custom:tenant"] = tenantA
		c["cognito:groups"] = []string{"jitsudo-admins"}
	})
	id, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(id.Groups, []string{"jitsudo-admins"}) || !id.HasScope(auth.ScopeAdmin) {
		t.Fatalf("groups %v scopes %v", id.Groups, id.Scopes)
	}
	// The default tenant claim is not consulted any more.
	tok = e.mint(nil)
	_, err = e.a.Authenticate(context.Background(), bearer(tok, tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "custom:tenant")

	// Nested path and a single-string groups claim.
	e2 := newEnv(t, func(c *auth.Config) { c.GroupsClaim = "realm_access.roles" })
	tok = e2.mint(func(c map[string]any) { c["realm_access"] = map[string]any{"roles": "ops"} })
	id, err = e2.a.Authenticate(context.Background(), bearer(tok, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(id.Groups, []string{"ops"}) {
		t.Fatalf("groups %v", id.Groups)
	}
}

// An email is verified only when the token says so with email_verified
// true (or "true"); the email itself is passed on either way, and the
// flag survives the authorizer context.
func TestBearerEmailVerified(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name  string
		claim any // nil: absent
		email string
		want  bool
	}{
		{"absent", nil, "alice@acme.example", false},
		{"true", true, "alice@acme.example", true},
		{"false", false, "alice@acme.example", false},
		{"string true", "true", "alice@acme.example", true},
		{"string TRUE", "TRUE", "alice@acme.example", true},
		{"string false", "false", "alice@acme.example", false},
		{"number 1", 1, "alice@acme.example", false},
		{"string yes", "yes", "alice@acme.example", false},
		{"object", map[string]any{"value": true}, "alice@acme.example", false},
		{"verified but no email", true, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.mint(func(c map[string]any) {
				if tc.claim != nil {
					c["email_verified"] = tc.claim
				}
				if tc.email == "" {
					delete(c, "email")
				}
			})
			id, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA))
			if err != nil {
				t.Fatal(err)
			}
			if id.EmailVerified != tc.want || id.Email != tc.email {
				t.Fatalf("email %q verified %v, want %q %v", id.Email, id.EmailVerified, tc.email, tc.want)
			}
			m := id.AuthorizerContext()
			if v, ok := m[auth.CtxEmailVerified]; ok != tc.want || (ok && v != true) {
				t.Fatalf("context email_verified = %v (present %v), want present %v", v, ok, tc.want)
			}
			back, err := auth.IdentityFromAuthorizerContext(m)
			if err != nil || !reflect.DeepEqual(back, id) {
				t.Fatalf("round trip\n got %+v %v\nwant %+v", back, err, id)
			}
		})
	}
}

func TestBearerClockSkew(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now()
	// Expired 30s ago: inside the default 60s skew.
	tok := e.mint(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })
	if _, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA)); err != nil {
		t.Fatalf("token inside the skew refused: %v", err)
	}
	// Not valid for another 30s: inside the skew too.
	tok = e.mint(func(c map[string]any) { c["nbf"] = now.Add(30 * time.Second).Unix() })
	if _, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA)); err != nil {
		t.Fatalf("nbf inside the skew refused: %v", err)
	}
	// Without leeway the first token is expired.
	e0 := newEnv(t, func(c *auth.Config) { c.ClockSkew = -1 })
	tok = e0.mint(func(c map[string]any) { c["exp"] = now.Add(-1 * time.Second).Unix() })
	_, err := e0.a.Authenticate(context.Background(), bearer(tok, tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "expired")
}

// craft signs claims with an arbitrary algorithm and key, for attacks.
func craft(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) fullClaims() map[string]any {
	c := baseClaims()
	now := e.clock.Now()
	c["iss"] = e.iss.IssuerURL()
	c["iat"] = now.Unix()
	c["nbf"] = now.Unix()
	c["exp"] = now.Add(10 * time.Minute).Unix()
	return c
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestBearerNegative(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now()
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(e.iss.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	good := e.mint(nil)
	parts := strings.Split(good, ".")
	tampered := e.fullClaims()
	tampered["groups"] = []string{"jitsudo-admins"}

	cases := []struct {
		name     string
		headers  map[string]string
		status   int
		code     string
		contains []string
	}{
		{"expired", bearer(e.mint(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), tenantA), 401, auth.CodeUnauthorized, []string{"expired"}},
		{"not yet valid", bearer(e.mint(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }), tenantA), 401, auth.CodeUnauthorized, []string{"not yet valid"}},
		{"issued in the future", bearer(e.mint(func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() }), tenantA), 401, auth.CodeUnauthorized, []string{"future"}},
		{"wrong aud", bearer(e.mint(func(c map[string]any) { c["aud"] = "other-api" }), tenantA), 401, auth.CodeUnauthorized, []string{"audience"}},
		{"no aud", bearer(e.mint(func(c map[string]any) { delete(c, "aud") }), tenantA), 401, auth.CodeUnauthorized, []string{"audience"}},
		{"wrong iss", bearer(e.mint(func(c map[string]any) { c["iss"] = "https://evil.example/dev-idp" }), tenantA), 401, auth.CodeUnauthorized, []string{"issuer is not trusted"}},
		{"alg none", bearer(b64(map[string]any{"alg": "none", "typ": "JWT", "kid": e.iss.KeyID()})+"."+b64(e.fullClaims())+".", tenantA), 401, auth.CodeUnauthorized, []string{"malformed jwt"}},
		{"HS256 with public key PEM", bearer(craft(t, jose.HS256, pubPEM, e.iss.KeyID(), e.fullClaims()), tenantA), 401, auth.CodeUnauthorized, []string{"malformed jwt"}},
		{"HS256 with public key DER", bearer(craft(t, jose.HS256, pubDER, e.iss.KeyID(), e.fullClaims()), tenantA), 401, auth.CodeUnauthorized, []string{"malformed jwt"}},
		{"unknown kid", bearer(craft(t, jose.RS256, foreign, "no-such-kid", e.fullClaims()), tenantA), 401, auth.CodeUnauthorized, []string{"verify"}},
		{"foreign key, issuer's kid", bearer(craft(t, jose.RS256, foreign, e.iss.KeyID(), e.fullClaims()), tenantA), 401, auth.CodeUnauthorized, []string{"verify"}},
		{"tampered payload", bearer(parts[0]+"."+b64(tampered)+"."+parts[2], tenantA), 401, auth.CodeUnauthorized, []string{"verify"}},
		{"garbage token", bearer("not.a.jwt", tenantA), 401, auth.CodeUnauthorized, []string{"no readable iss"}},
		{"no subject", bearer(e.mint(func(c map[string]any) { delete(c, "sub") }), tenantA), 401, auth.CodeUnauthorized, []string{"subject"}},
		{"missing tenant header", bearer(good, ""), 401, auth.CodeUnauthorized, []string{"missing X-Tenant-ID"}},
		{"malformed tenant header", bearer(good, "ACME!"), 401, auth.CodeUnauthorized, []string{"malformed X-Tenant-ID"}},
		{"tenant header too short", bearer(good, "a"), 401, auth.CodeUnauthorized, []string{"malformed X-Tenant-ID"}},
		{"tenant claim missing", bearer(e.mint(func(c map[string]any) { delete(c, "tenant_id") }), tenantA), 401, auth.CodeUnauthorized, []string{"tenant_id"}},
		{"tenant claim not a string", bearer(e.mint(func(c map[string]any) { c["tenant_id"] = []string{tenantA} }), tenantA), 401, auth.CodeUnauthorized, []string{"not a string"}},
		{"tenant mismatch", bearer(good, tenantB), 403, auth.CodeTenantMismatch, nil},
		{"groups malformed", bearer(e.mint(func(c map[string]any) { c["groups"] = []any{"eng", 7} }), tenantA), 401, auth.CodeUnauthorized, []string{"non-string"}},
		{"basic scheme", map[string]string{"Authorization": "Basic dXNlcjpwYXNz", "X-Tenant-ID": tenantA}, 401, auth.CodeUnauthorized, []string{"Bearer"}},
		{"bearer without token", map[string]string{"Authorization": "Bearer", "X-Tenant-ID": tenantA}, 401, auth.CodeUnauthorized, []string{"Bearer"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := e.a.Authenticate(context.Background(), tc.headers)
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			wantErr(t, err, tc.status, tc.code, tc.contains...)
		})
	}
	// The baseline token the cases were derived from is valid, so each case
	// fails because of its own defect.
	if _, err := e.a.Authenticate(context.Background(), bearer(good, tenantA)); err != nil {
		t.Fatalf("baseline refused: %v", err)
	}
}

// TestBearerNoExpiry: a correctly signed token without exp is refused (go-oidc's
// own expiry check is disabled in favour of ours, so ours must demand exp).
func TestBearerNoExpiry(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.mint(func(c map[string]any) { c["exp"] = nil })
	_, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "no expiry")
}

func TestBearerNotConfigured(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Issuer = ""; c.Audience = "" })
	_, err := e.a.Authenticate(context.Background(), bearer(e.mint(nil), tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "no OIDC issuer")
}

func TestNewValidation(t *testing.T) {
	keys := newMemKeys()
	bad := []auth.Config{
		{Issuer: "https://idp.example", Audience: ""},
		{Issuer: "idp.example", Audience: "x"},
		{PlatformAdminKey: "short"},
		{PlatformAdminKey: "has a space in the platform key"},
	}
	for _, c := range bad {
		if _, err := auth.New(context.Background(), c, keys); err == nil {
			t.Errorf("New accepted %+v", c)
		}
	}
	if _, err := auth.New(context.Background(), auth.Config{}, nil); err == nil {
		t.Error("New accepted a nil KeyLookup")
	}
	if _, err := auth.New(context.Background(), auth.Config{}, keys); err != nil {
		t.Errorf("empty config: %v", err)
	}
}

func TestDiscoveryIsLazyAndCached(t *testing.T) {
	e := newEnv(t, nil)
	if n := e.requests.Load(); n != 0 {
		t.Fatalf("New made %d HTTP requests", n)
	}
	tok := e.mint(nil)
	if _, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA)); err != nil {
		t.Fatal(err)
	}
	after := e.requests.Load()
	if after != 2 { // discovery + JWKS
		t.Fatalf("first token: %d requests, want 2", after)
	}
	for range 3 {
		if _, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA)); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.requests.Load(); n != after {
		t.Fatalf("warm verifications made %d more requests", n-after)
	}
}

func TestDiscoveryFailureIsUnavailableAndRetried(t *testing.T) {
	e := newEnv(t, nil)
	e.down.Store(true)
	tok := e.mint(nil)
	_, err := e.a.Authenticate(context.Background(), bearer(tok, tenantA))
	wantErr(t, err, 503, auth.CodeUnavailable)
	n := e.requests.Load()
	_, err = e.a.Authenticate(context.Background(), bearer(tok, tenantA))
	wantErr(t, err, 503, auth.CodeUnavailable)
	if e.requests.Load() != n {
		t.Fatal("discovery retried within the back-off")
	}
	e.down.Store(false)
	e.clock.Add(6 * time.Second)
	if _, err := e.a.Authenticate(context.Background(), bearer(e.mint(nil), tenantA)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestExplicitJWKSURLSkipsDiscovery(t *testing.T) {
	var jwksURL string
	e := newEnv(t, func(c *auth.Config) { c.JWKSURL = "set below" })
	jwksURL = e.iss.JWKSURL()
	cfg := e.cfg
	cfg.JWKSURL = jwksURL
	a, err := auth.New(context.Background(), cfg, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	before := e.requests.Load()
	if _, err := a.Authenticate(context.Background(), bearer(e.mint(nil), tenantA)); err != nil {
		t.Fatal(err)
	}
	if n := e.requests.Load() - before; n != 1 {
		t.Fatalf("%d requests, want 1 (JWKS only)", n)
	}
	// JWKS endpoint down and kid not cached: unavailable, not "bad token".
	cfg.JWKSURL = e.srv.URL + "/nowhere/jwks.json"
	a, err = auth.New(context.Background(), cfg, e.keys)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authenticate(context.Background(), bearer(e.mint(nil), tenantA))
	wantErr(t, err, 503, auth.CodeUnavailable)
}

// ---- API keys -------------------------------------------------------------

func TestAPIKeyValid(t *testing.T) {
	e := newEnv(t, nil)
	raw, k := e.addKey(tenantA, []string{auth.ScopePoliciesRead, "bogus", auth.ScopePlatform}, nil)
	id, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Identity{TenantID: tenantA, PrincipalID: k.ID, PrincipalType: auth.PrincipalAPIKey, Scopes: []string{auth.ScopePoliciesRead}, Name: "ci"}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("identity\n got %+v\nwant %+v", id, want)
	}
	if err := auth.RequireScope(id, auth.ScopePoliciesRead); err != nil {
		t.Fatal(err)
	}
	// Wrong scope.
	wantErr(t, auth.RequireScope(id, auth.ScopePoliciesWrite), 403, auth.CodeForbidden, "policies:write")
	wantErr(t, auth.RequireScope(id, auth.ScopePlatform), 403, auth.CodeForbidden)
	wantErr(t, auth.RequireScope(id, "made-up"), 403, auth.CodeForbidden)

	// admin implies every tenant scope, never platform.
	rawAdmin, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	admin, err := e.a.Authenticate(context.Background(), apiKey(rawAdmin, tenantA))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range auth.TenantScopes {
		if err := auth.RequireScope(admin, s); err != nil {
			t.Errorf("admin key: %v", err)
		}
	}
	wantErr(t, auth.RequireScope(admin, auth.ScopePlatform), 403, auth.CodeForbidden)

	// Header names are case-insensitive.
	if _, err := e.a.Authenticate(context.Background(), map[string]string{"X-Api-Key": raw, "X-TENANT-ID": tenantA}); err != nil {
		t.Fatalf("canonical header names: %v", err)
	}
}

func TestAPIKeyNegative(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.KeyCacheTTL = 0 })
	now := e.clock.Now()
	rawRevoked, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, func(k *store.APIKey) { k.RevokedAt = &now })
	past := now.Add(-time.Second)
	rawExpired, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, func(k *store.APIKey) { k.ExpiresAt = &past })
	future := now.Add(time.Hour)
	rawGood, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, func(k *store.APIKey) { k.ExpiresAt = &future })
	unknown, _, _, _ := auth.GenerateKey()

	// A store that returns a record of another tenant for (tenantB, hash).
	rawLying, lying := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	e.keys.putUnder(tenantB, lying.Hash, lying)
	// A record whose hash disagrees with the lookup.
	rawWrongHash, wh := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	e.keys.update(tenantA, wh.Hash, func(k *store.APIKey) { k.Hash = strings.Repeat("0", 64) })

	cases := []struct {
		name     string
		headers  map[string]string
		contains string
	}{
		{"revoked", apiKey(rawRevoked, tenantA), "revoked"},
		{"expired", apiKey(rawExpired, tenantA), "expired"},
		{"unknown", apiKey(unknown, tenantA), "invalid API key"},
		{"key of another tenant", apiKey(rawGood, tenantB), "invalid API key"},
		{"store returns other tenant's record", apiKey(rawLying, tenantB), "another tenant"},
		{"store returns record with other hash", apiKey(rawWrongHash, tenantA), "another tenant or hash"},
		{"missing tenant header", apiKey(rawGood, ""), "missing X-Tenant-ID"},
		{"malformed tenant header", apiKey(rawGood, "-acme"), "malformed X-Tenant-ID"},
		{"malformed key", apiKey("jit_ with space", tenantA), "malformed API key"},
		{"overlong key", apiKey(strings.Repeat("k", 600), tenantA), "malformed API key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := e.a.Authenticate(context.Background(), tc.headers)
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			wantErr(t, err, 401, auth.CodeUnauthorized, tc.contains)
		})
	}
	// Baseline: the good key works for its own tenant, and expiry is exclusive.
	if _, err := e.a.Authenticate(context.Background(), apiKey(rawGood, tenantA)); err != nil {
		t.Fatalf("baseline key refused: %v", err)
	}
	e.clock.Add(time.Hour)
	_, err := e.a.Authenticate(context.Background(), apiKey(rawGood, tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "expired")
}

func TestAPIKeyStoreErrorIsUnavailableAndNotCached(t *testing.T) {
	e := newEnv(t, nil)
	raw, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	e.keys.setErr(errors.New("dynamodb: throttled"))
	_, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA))
	wantErr(t, err, 503, auth.CodeUnavailable, "throttled")
	e.keys.setErr(nil)
	if _, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA)); err != nil {
		t.Fatalf("store error was cached: %v", err)
	}
}

// ---- cache ------------------------------------------------------------------

func TestKeyCacheRevocationDelay(t *testing.T) {
	e := newEnv(t, nil) // TTL 30s
	raw, k := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	ctx := context.Background()
	for range 3 {
		if _, err := e.a.Authenticate(ctx, apiKey(raw, tenantA)); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.keys.nCalls(); n != 1 {
		t.Fatalf("%d store lookups for 3 calls, want 1", n)
	}
	revokedAt := e.clock.Now()
	e.keys.update(tenantA, k.Hash, func(k *store.APIKey) { k.RevokedAt = &revokedAt })

	// Within the TTL the cached record still allows (documented delay).
	e.clock.Add(10 * time.Second)
	if _, err := e.a.Authenticate(ctx, apiKey(raw, tenantA)); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	// Once the TTL passes, the revocation is seen.
	e.clock.Add(21 * time.Second)
	_, err := e.a.Authenticate(ctx, apiKey(raw, tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "revoked")
	if n := e.keys.nCalls(); n != 2 {
		t.Fatalf("%d store lookups, want 2", n)
	}
}

func TestKeyCacheExpiryIsImmediate(t *testing.T) {
	e := newEnv(t, nil)
	exp := e.clock.Now().Add(10 * time.Second)
	raw, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, func(k *store.APIKey) { k.ExpiresAt = &exp })
	if _, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA)); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(11 * time.Second) // well within the 30s TTL
	_, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA))
	wantErr(t, err, 401, auth.CodeUnauthorized, "expired")
	if n := e.keys.nCalls(); n != 1 {
		t.Fatalf("%d store lookups, want 1 (decided from the cache)", n)
	}
}

func TestKeyCacheNegativeAndDisabled(t *testing.T) {
	e := newEnv(t, nil)
	raw, hash, prefix, _ := auth.GenerateKey()
	for range 2 {
		_, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA))
		wantErr(t, err, 401, auth.CodeUnauthorized)
	}
	if n := e.keys.nCalls(); n != 1 {
		t.Fatalf("not-found not cached: %d lookups", n)
	}
	e.keys.put(store.APIKey{ID: "k1", TenantID: tenantA, Hash: hash, Prefix: prefix, Scopes: []string{auth.ScopeAdmin}})
	e.clock.Add(31 * time.Second)
	if _, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantA)); err != nil {
		t.Fatalf("after TTL: %v", err)
	}
	// A different tenant is a different cache entry.
	_, err := e.a.Authenticate(context.Background(), apiKey(raw, tenantB))
	wantErr(t, err, 401, auth.CodeUnauthorized)

	d := newEnv(t, func(c *auth.Config) { c.KeyCacheTTL = 0 })
	raw2, _ := d.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	for range 3 {
		if _, err := d.a.Authenticate(context.Background(), apiKey(raw2, tenantA)); err != nil {
			t.Fatal(err)
		}
	}
	if n := d.keys.nCalls(); n != 3 {
		t.Fatalf("cache disabled but %d lookups for 3 calls", n)
	}
}

// ---- platform key -------------------------------------------------------------

func TestPlatformKey(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	id, err := e.a.Authenticate(ctx, map[string]string{"x-api-key": platformKey})
	if err != nil {
		t.Fatal(err)
	}
	want := auth.Identity{PrincipalID: "platform", PrincipalType: auth.PrincipalPlatform, Scopes: []string{auth.ScopePlatform}}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("got %+v", id)
	}
	if e.keys.nCalls() != 0 {
		t.Fatal("platform key was looked up in the tenant store")
	}
	if !id.HasScope(auth.ScopePlatform) {
		t.Fatal("platform identity lacks platform scope")
	}
	for _, s := range auth.TenantScopes {
		if id.HasScope(s) {
			t.Errorf("platform identity holds tenant scope %s", s)
		}
	}
	// On the platform route: allowed, with or without X-Tenant-ID.
	if _, err := e.a.AuthorizeRoute(ctx, "POST /v1/tenants", map[string]string{"x-api-key": platformKey, "x-tenant-id": tenantA}); err != nil {
		t.Fatal(err)
	}
	// Platform key on a tenant route.
	_, err = e.a.AuthorizeRoute(ctx, "GET /v1/policy-rules", map[string]string{"x-api-key": platformKey, "x-tenant-id": tenantA})
	wantErr(t, err, 403, auth.CodeForbidden, "not a tenant credential")

	// Tenant admin key and admin user on the platform route.
	raw, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	_, err = e.a.AuthorizeRoute(ctx, "POST /v1/tenants", apiKey(raw, tenantA))
	wantErr(t, err, 403, auth.CodeForbidden, "platform admin key")
	tok := e.mint(func(c map[string]any) { c["groups"] = []string{"jitsudo-admins"} })
	_, err = e.a.AuthorizeRoute(ctx, "POST /v1/tenants", bearer(tok, tenantA))
	wantErr(t, err, 403, auth.CodeForbidden, "platform admin key")
	// ...and the same credentials do work on a tenant route.
	if _, err := e.a.AuthorizeRoute(ctx, "GET /v1/policy-rules", apiKey(raw, tenantA)); err != nil {
		t.Fatal(err)
	}

	// Even if the platform key's hash were stored as a tenant key, it stays
	// the platform identity and never acts for the tenant.
	e.keys.put(store.APIKey{ID: "planted", TenantID: tenantA, Hash: auth.HashKey(platformKey), Scopes: []string{auth.ScopeAdmin}})
	id, err = e.a.Authenticate(ctx, apiKey(platformKey, tenantA))
	if err != nil || id.PrincipalType != auth.PrincipalPlatform || id.TenantID != "" {
		t.Fatalf("got %+v, %v", id, err)
	}

	// Near misses are not the platform key.
	for _, k := range []string{platformKey + "x", platformKey[:len(platformKey)-1], strings.ToUpper(platformKey)} {
		_, err := e.a.Authenticate(ctx, map[string]string{"x-api-key": k})
		wantErr(t, err, 401, auth.CodeUnauthorized, "X-Tenant-ID")
	}
}

func TestPlatformKeyDisabled(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.PlatformAdminKey = "" })
	ctx := context.Background()
	_, err := e.a.Authenticate(ctx, map[string]string{"x-api-key": platformKey})
	wantErr(t, err, 401, auth.CodeUnauthorized)
	_, err = e.a.AuthorizeRoute(ctx, "POST /v1/tenants", map[string]string{"x-api-key": platformKey, "x-tenant-id": tenantA})
	wantErr(t, err, 401, auth.CodeUnauthorized, "invalid API key")
}

// ---- credential selection ---------------------------------------------------------

func TestCredentialSelection(t *testing.T) {
	e := newEnv(t, nil)
	raw, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	tok := e.mint(nil)
	cases := []struct {
		name     string
		headers  map[string]string
		contains string
	}{
		{"none", map[string]string{"x-tenant-id": tenantA}, "missing credentials"},
		{"nil map", nil, "missing credentials"},
		{"empty values", map[string]string{"authorization": " ", "x-api-key": "", "x-tenant-id": tenantA}, "missing credentials"},
		{"both", map[string]string{"authorization": "Bearer " + tok, "x-api-key": raw, "x-tenant-id": tenantA}, "not both"},
		{"both, platform key", map[string]string{"authorization": "Bearer " + tok, "x-api-key": platformKey}, "not both"},
		{"conflicting duplicate header", map[string]string{"x-api-key": raw, "X-API-KEY": platformKey, "x-tenant-id": tenantA}, "conflicting"},
		{"conflicting tenant", map[string]string{"x-api-key": raw, "x-tenant-id": tenantA, "X-Tenant-Id": tenantB}, "conflicting"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := e.a.Authenticate(context.Background(), tc.headers)
			if err == nil {
				t.Fatalf("accepted: %+v", id)
			}
			wantErr(t, err, 401, auth.CodeUnauthorized, tc.contains)
		})
	}
	// Same value under two spellings is fine.
	if _, err := e.a.Authenticate(context.Background(), map[string]string{"x-api-key": raw, "X-Api-Key": raw, "x-tenant-id": tenantA}); err != nil {
		t.Fatal(err)
	}
}

// ---- Lambda entry point and context -------------------------------------------------

func event(route string, headers map[string]string) events.APIGatewayV2CustomAuthorizerV2Request {
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST", RouteKey: route, Headers: headers,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-123"},
	}
}

func TestHandleRequest(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	tok := e.mint(func(c map[string]any) { c["groups"] = []string{"jitsudo-admins"} })

	resp, err := e.a.HandleRequest(ctx, event("GET /v1/policy-rules", bearer(tok, tenantA)))
	if err != nil || !resp.IsAuthorized {
		t.Fatalf("allow: %+v %v", resp, err)
	}
	// The context survives API Gateway's JSON hop and rebuilds the identity.
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var wire struct {
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	for k, v := range wire.Context {
		switch v.(type) {
		case string, float64, bool:
		default:
			t.Errorf("context %s has type %T; simple responses allow only strings, numbers, booleans", k, v)
		}
	}
	got, err := auth.IdentityFromAuthorizerContext(wire.Context)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := e.a.Authenticate(ctx, bearer(tok, tenantA))
	if !reflect.DeepEqual(got, direct) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, direct)
	}

	// Denials: bad credential, tenant mismatch, wrong route kind.
	raw, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	for name, ev := range map[string]events.APIGatewayV2CustomAuthorizerV2Request{
		"no credentials":     event("GET /v1/policy-rules", map[string]string{"x-tenant-id": tenantA}),
		"tenant mismatch":    event("GET /v1/policy-rules", bearer(tok, tenantB)),
		"platform on tenant": event("GET /v1/policy-rules", map[string]string{"x-api-key": platformKey}),
		"tenant on platform": event("POST /v1/tenants", apiKey(raw, tenantA)),
		"unknown key":        event("GET /v1/policy-rules", apiKey(raw+"x", tenantA)),
	} {
		resp, err := e.a.HandleRequest(ctx, ev)
		if err != nil || resp.IsAuthorized || resp.Context != nil {
			t.Errorf("%s: %+v %v", name, resp, err)
		}
	}
	// Platform allowed on its route.
	resp, err = e.a.HandleRequest(ctx, event("POST /v1/tenants", map[string]string{"x-api-key": platformKey}))
	if err != nil || !resp.IsAuthorized || resp.Context["principal_type"] != "platform" {
		t.Fatalf("platform: %+v %v", resp, err)
	}
	// Store outage: an error (API Gateway 500), not a deny.
	e.keys.setErr(errors.New("dynamodb down"))
	raw2, _, _, _ := auth.GenerateKey()
	resp, err = e.a.HandleRequest(ctx, event("GET /v1/policy-rules", apiKey(raw2, tenantA)))
	if err == nil || resp.IsAuthorized {
		t.Fatalf("outage: %+v %v", resp, err)
	}

	// Logs carry decisions and tenant, never credentials.
	logs := e.logs.String()
	for _, secret := range []string{tok, raw, platformKey, raw2, strings.Split(tok, ".")[2]} {
		if strings.Contains(logs, secret) {
			t.Fatal("a credential leaked into the logs")
		}
	}
	if !strings.Contains(logs, `"tenant_id":"acme"`) || !strings.Contains(logs, `"code":"tenant_mismatch"`) || !strings.Contains(logs, "authorizer allow") {
		t.Fatalf("logs lack decisions:\n%s", logs)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(logs, "\n", 2)[0]), &line); err != nil {
		t.Fatalf("logs are not JSON: %v", err)
	}
}

func TestAuthorizerContextRoundTrip(t *testing.T) {
	ids := []auth.Identity{
		{TenantID: tenantA, PrincipalID: "u1", PrincipalType: auth.PrincipalUser, Groups: []string{"a", "b \"quoted\""}, Scopes: []string{"requests:read"}, Email: "u@x", Name: "U"},
		{TenantID: tenantA, PrincipalID: "u2", PrincipalType: auth.PrincipalUser, Email: "v@x", EmailVerified: true},
		{TenantID: tenantA, PrincipalID: "k1", PrincipalType: auth.PrincipalAPIKey, Scopes: []string{"admin"}, Name: "ci"},
		{PrincipalID: "platform", PrincipalType: auth.PrincipalPlatform, Scopes: []string{"platform"}},
	}
	for _, id := range ids {
		m := id.AuthorizerContext()
		if _, ok := m["email"]; ok != (id.Email != "") {
			t.Errorf("email presence wrong in %v", m)
		}
		got, err := auth.IdentityFromAuthorizerContext(m)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, id) {
			t.Errorf("round trip\n got %+v\nwant %+v", got, id)
		}
	}
	bad := []map[string]any{
		nil,
		{},
		{"tenant_id": tenantA, "principal_id": "u", "principal_type": "root"},
		{"tenant_id": "BAD", "principal_id": "u", "principal_type": "user"},
		{"tenant_id": "", "principal_id": "u", "principal_type": "api_key"},
		{"tenant_id": tenantA, "principal_id": "", "principal_type": "user"},
		{"tenant_id": tenantA, "principal_type": "user"},
		{"tenant_id": tenantA, "principal_id": "platform", "principal_type": "platform"},
		{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "scopes": "admin"},
		{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "groups": 7},
		{"tenant_id": tenantA, "principal_id": 7, "principal_type": "user"},
		{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "email": "u@x", "email_verified": 1},
		{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "email": "u@x", "email_verified": "yes"},
	}
	for _, m := range bad {
		if id, err := auth.IdentityFromAuthorizerContext(m); err == nil {
			t.Errorf("accepted %v → %+v", m, id)
		} else {
			wantErr(t, err, 401, auth.CodeUnauthorized)
		}
	}
	// Lists decoded by a JSON hop that kept them as arrays are accepted too.
	id, err := auth.IdentityFromAuthorizerContext(map[string]any{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "scopes": []any{"requests:read"}})
	if err != nil || !id.HasScope(auth.ScopeRequestsRead) {
		t.Fatalf("%+v %v", id, err)
	}
	// email_verified as a string (a string-only hop), and never without an email.
	id, err = auth.IdentityFromAuthorizerContext(map[string]any{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "email": "u@x", "email_verified": "true"})
	if err != nil || !id.EmailVerified {
		t.Fatalf("%+v %v", id, err)
	}
	id, err = auth.IdentityFromAuthorizerContext(map[string]any{"tenant_id": tenantA, "principal_id": "u", "principal_type": "user", "email_verified": true})
	if err != nil || id.EmailVerified {
		t.Fatalf("verified without an email: %+v %v", id, err)
	}
}

func TestHasScopeNeedsPrincipalType(t *testing.T) {
	// A forged identity with the admin scope but no type holds nothing.
	if (auth.Identity{TenantID: tenantA, Scopes: []string{"admin", "platform"}}).HasScope(auth.ScopePoliciesRead) {
		t.Fatal("untyped identity holds a scope")
	}
	if (auth.Identity{TenantID: tenantA, PrincipalType: auth.PrincipalAPIKey, Scopes: []string{"platform"}}).HasScope(auth.ScopePlatform) {
		t.Fatal("tenant key holds platform scope")
	}
}

// ---- keys ---------------------------------------------------------------------

func TestGenerateKeyAndHash(t *testing.T) {
	raw, hash, prefix, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, "jit_") || len(raw) != 4+43 {
		t.Fatalf("raw %q", raw)
	}
	if _, err := base64.RawURLEncoding.DecodeString(raw[4:]); err != nil {
		t.Fatalf("not base64url: %v", err)
	}
	if prefix != raw[:12] || hash != auth.HashKey(raw) {
		t.Fatal("prefix or hash mismatch")
	}
	// Known vector: sha256("abc").
	if got := auth.HashKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashKey(abc) = %s", got)
	}
	raw2, _, _, _ := auth.GenerateKey()
	if raw2 == raw {
		t.Fatal("two identical keys")
	}
}

// ---- fuzz ----------------------------------------------------------------------

// FuzzAuthenticate feeds arbitrary header values. Authenticate must never
// panic, must return *Error on failure, and may only succeed for the
// credentials the fixture knows: the platform key, the one tenant key for
// tenant acme, or a token the dev issuer signed (all for alice@acme).
func FuzzAuthenticate(f *testing.F) {
	e := newEnv(f, nil)
	raw, k := e.addKey(tenantA, []string{auth.ScopePoliciesRead}, nil)
	tok := e.mint(nil)
	f.Add("Bearer "+tok, "", tenantA, "", "")
	f.Add("", raw, tenantA, "", "")
	f.Add("", platformKey, "", "", "")
	f.Add("bearer  "+tok, "", " acme ", "X-Tenant-Id", "globex")
	f.Add("Bearer "+tok[:len(tok)-2], "", tenantA, "", "")
	f.Add("Bearer "+tok, raw, tenantA, "", "")
	f.Add("", raw, "globex", "X-API-KEY", raw)
	f.Add("Bearer eyJhbGciOiJub25lIn0.e30.", "", tenantA, "authorization", "x")
	f.Add("", "\x00\xff", "\u212a", "x-api-\u212aey", raw)
	f.Fuzz(func(t *testing.T, authz, key, tenant, extraName, extraVal string) {
		h := map[string]string{}
		if authz != "" {
			h["Authorization"] = authz
		}
		if key != "" {
			h["x-api-key"] = key
		}
		if tenant != "" {
			h["x-tenant-id"] = tenant
		}
		if extraName != "" {
			h[extraName] = extraVal
		}
		id, err := e.a.Authenticate(context.Background(), h)
		if err != nil {
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Status < 400 {
				t.Fatalf("error is not a 4xx/5xx *auth.Error: %v", err)
			}
			if id.PrincipalType != "" || id.PrincipalID != "" {
				t.Fatalf("identity alongside an error: %+v", id)
			}
			return
		}
		switch id.PrincipalType {
		case auth.PrincipalPlatform:
			if !headerHas(h, "x-api-key", platformKey) {
				t.Fatalf("platform identity without the platform key: %q", h)
			}
		case auth.PrincipalAPIKey:
			if !headerHas(h, "x-api-key", raw) || id.TenantID != tenantA || id.PrincipalID != k.ID {
				t.Fatalf("api-key identity without the key: %q → %+v", h, id)
			}
		case auth.PrincipalUser:
			if id.PrincipalID != "user-alice" || id.TenantID != tenantA || !headerHasPrefix(h, "authorization") {
				t.Fatalf("user identity without a signed token: %q → %+v", h, id)
			}
		default:
			t.Fatalf("unknown principal type: %+v", id)
		}
		if id.TenantID != "" && !headerHas(h, "x-tenant-id", id.TenantID) {
			t.Fatalf("tenant %q not from X-Tenant-ID: %q", id.TenantID, h)
		}
	})
}

func headerHas(h map[string]string, name, want string) bool {
	for k, v := range h {
		if strings.EqualFold(k, name) && strings.TrimSpace(v) == want {
			return true
		}
	}
	return false
}

func headerHasPrefix(h map[string]string, name string) bool {
	for k, v := range h {
		if strings.EqualFold(k, name) && v != "" {
			return true
		}
	}
	return false
}

// touchingKeys is memKeys that also records TouchAPIKey calls.
type touchingKeys struct {
	*memKeys
	mu      sync.Mutex
	touches []string // "tenant/key@time"
	err     error
}

func (k *touchingKeys) TouchAPIKey(_ context.Context, tenantID, keyID string, at time.Time, every time.Duration) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.touches = append(k.touches, fmt.Sprintf("%s/%s@%s/%s", tenantID, keyID, at.Format(time.TimeOnly), every))
	return k.err == nil, k.err
}

func (k *touchingKeys) got() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.touches)
}

// TestAPIKeyLastUsed: a successful API-key call records the key's use, at
// most once per KeyTouchEvery per key (cache hits included); refused
// calls, JWTs and a failing write never change the outcome.
func TestAPIKeyLastUsed(t *testing.T) {
	e := newEnv(t, nil)
	tk := &touchingKeys{memKeys: e.keys}
	a, err := auth.New(context.Background(), e.cfg, tk)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	raw, k := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	raw2, k2 := e.addKey(tenantA, []string{auth.ScopeAdmin}, nil)
	call := func(raw string) {
		t.Helper()
		if _, err := a.Authenticate(ctx, apiKey(raw, tenantA)); err != nil {
			t.Fatal(err)
		}
	}
	call(raw) // 12:00:00
	e.clock.Add(time.Minute)
	call(raw) // cached, and within the interval
	call(raw2)
	e.clock.Add(4*time.Minute + time.Second)
	call(raw) // 12:05:01: due again
	want := []string{
		tenantA + "/" + k.ID + "@12:00:00/5m0s",
		tenantA + "/" + k2.ID + "@12:01:00/5m0s",
		tenantA + "/" + k.ID + "@12:05:01/5m0s",
	}
	if got := tk.got(); !slices.Equal(got, want) {
		t.Fatalf("touches\n got %q\nwant %q", got, want)
	}

	// Refused calls and bearer tokens touch nothing.
	revoked := e.clock.Now()
	rawRevoked, _ := e.addKey(tenantA, []string{auth.ScopeAdmin}, func(k *store.APIKey) { k.RevokedAt = &revoked })
	if _, err := a.Authenticate(ctx, apiKey(rawRevoked, tenantA)); err == nil {
		t.Fatal("revoked key accepted")
	}
	if _, err := a.Authenticate(ctx, apiKey(raw, tenantB)); err == nil {
		t.Fatal("key accepted for another tenant")
	}
	if _, err := a.Authenticate(ctx, bearer(e.mint(nil), tenantA)); err != nil {
		t.Fatal(err)
	}
	if got := tk.got(); len(got) != len(want) {
		t.Fatalf("touches after refused calls and a JWT: %q", got)
	}

	// A failing write is logged, and the call still succeeds.
	tk.mu.Lock()
	tk.err = errors.New("throttled")
	tk.mu.Unlock()
	e.clock.Add(10 * time.Minute)
	call(raw)
	if !strings.Contains(e.logs.String(), "API key last-used not recorded") {
		t.Fatalf("failed touch not logged: %s", e.logs)
	}

	// Negative KeyTouchEvery disables it.
	cfg := e.cfg
	cfg.KeyTouchEvery = -1
	off, err := auth.New(context.Background(), cfg, tk)
	if err != nil {
		t.Fatal(err)
	}
	n := len(tk.got())
	if _, err := off.Authenticate(ctx, apiKey(raw2, tenantA)); err != nil {
		t.Fatal(err)
	}
	if len(tk.got()) != n {
		t.Fatal("touched with tracking disabled")
	}
}
