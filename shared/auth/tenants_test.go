package auth_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devissuer"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/auth/principal"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// idpServer is an issuer on an httptest server whose signing key can be
// replaced (rotation); it counts JWKS fetches.
type idpServer struct {
	srv     *httptest.Server
	iss     atomic.Pointer[devissuer.Issuer]
	fetches atomic.Int64
	url     string
}

func newIDP(t testing.TB, path string) *idpServer {
	t.Helper()
	s := &idpServer{}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path+"/.well-known/jwks.json" {
			s.fetches.Add(1)
		}
		s.iss.Load().Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.url = s.srv.URL + path
	s.rotate(t)
	return s
}

func (s *idpServer) rotate(t testing.TB) {
	t.Helper()
	iss, err := devissuer.New(s.url)
	if err != nil {
		t.Fatal(err)
	}
	s.iss.Store(iss)
}

func (s *idpServer) settings(tenant, aud string) store.IdentitySettings {
	return store.IdentitySettings{TenantID: tenant, IssuerURL: s.url, JWKSURL: s.iss.Load().JWKSURL(), Audience: aud, ClientID: "ui"}
}

func (s *idpServer) mint(t testing.TB, now time.Time, claims map[string]any) string {
	t.Helper()
	iss := s.iss.Load()
	iss.SetNow(func() time.Time { return now })
	tok, err := iss.Mint(claims, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// memIdentities holds identity settings and tenants in memory: a tenant
// exists when it has settings or is in tenants.
type memIdentities struct {
	mu          sync.Mutex
	m           map[string]store.IdentitySettings
	tenants     map[string]bool
	calls       int // settings reads
	tenantReads int
}

func (m *memIdentities) GetTenant(_ context.Context, id string) (store.Tenant, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tenantReads++
	if _, ok := m.m[id]; !ok && !m.tenants[id] {
		return store.Tenant{}, fmt.Errorf("tenant: %w", store.ErrNotFound)
	}
	return store.Tenant{ID: id}, nil
}

func (m *memIdentities) GetIdentitySettings(_ context.Context, tenant string) (store.IdentitySettings, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	v, ok := m.m[tenant]
	if !ok {
		return store.IdentitySettings{}, fmt.Errorf("identity settings: %w", store.ErrNotFound)
	}
	return v, nil
}

type tenantEnv struct {
	a           *auth.Authorizer
	def         *idpServer
	acme, glbx  *idpServer
	migr        *idpServer
	ids         *memIdentities
	clk         *clock
	defAudience string
}

func newTenantEnv(t testing.TB) *tenantEnv {
	t.Helper()
	e := &tenantEnv{def: newIDP(t, "/default"), acme: newIDP(t, "/acme"), glbx: newIDP(t, "/globex"), migr: newIDP(t, "/migr"),
		clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, defAudience: audience}
	e.ids = &memIdentities{m: map[string]store.IdentitySettings{
		"acme":   e.acme.settings("acme", "api-acme"),
		"globex": e.glbx.settings("globex", "api-globex"),
	}, tenants: map[string]bool{"initech": true}}
	m := e.migr.settings("migr", "api-migr")
	m.AcceptDefaultIssuer = true
	m.ExtraAudiences = []string{"api-migr-old"}
	e.ids.m["migr"] = m
	a, err := auth.New(context.Background(), auth.Config{Issuer: e.def.url, Audience: audience, JWKSURL: e.def.iss.Load().JWKSURL(),
		Identities: e.ids, Now: e.clk.Now, Logger: discard()}, newMemKeys())
	if err != nil {
		t.Fatal(err)
	}
	e.a = a
	return e
}

func TestTenantIssuersAreNotInterchangeable(t *testing.T) {
	e := newTenantEnv(t)
	now := e.clk.Now()
	ctx := context.Background()
	acmeTok := e.acme.mint(t, now, map[string]any{"sub": "alice", "aud": "api-acme", "groups": []string{"jitsudo-admins"}})
	globexTok := e.glbx.mint(t, now, map[string]any{"sub": "mallory", "aud": "api-globex"})

	id, err := e.a.Authenticate(ctx, bearer(acmeTok, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if id.PrincipalID != principal.Qualify(e.acme.url, "alice") || id.Issuer != e.acme.url || !id.HasScope(auth.ScopeAdmin) {
		t.Fatalf("acme identity: %+v", id)
	}
	// acme's token against globex and the reverse: refused.
	_, err = e.a.Authenticate(ctx, bearer(acmeTok, "globex"))
	wantErr(t, err, 401, auth.CodeUnauthorized, "issuer is not trusted")
	_, err = e.a.Authenticate(ctx, bearer(globexTok, "acme"))
	wantErr(t, err, 401, auth.CodeUnauthorized, "issuer is not trusted")
	// Signed by acme's IdP but claiming globex: refused at both tenants.
	claimsGlobex := e.acme.mint(t, now, map[string]any{"sub": "alice", "aud": "api-acme", "tenant_id": "globex"})
	_, err = e.a.Authenticate(ctx, bearer(claimsGlobex, "acme"))
	wantErr(t, err, 403, auth.CodeTenantMismatch)
	_, err = e.a.Authenticate(ctx, bearer(claimsGlobex, "globex"))
	wantErr(t, err, 401, auth.CodeUnauthorized)
	// Another tenant's audience at the same issuer shape: refused.
	wrongAud := e.acme.mint(t, now, map[string]any{"sub": "alice", "aud": "api-globex"})
	wantErr(t, func() error { _, err := e.a.Authenticate(ctx, bearer(wrongAud, "acme")); return err }(), 401, auth.CodeUnauthorized)
	// The default issuer with a correct tenant claim: refused for a
	// tenant with its own issuer that does not accept the default one.
	defAcme := e.def.mint(t, now, map[string]any{"sub": "alice", "aud": audience, "tenant_id": "acme"})
	_, err = e.a.Authenticate(ctx, bearer(defAcme, "acme"))
	wantErr(t, err, 401, auth.CodeUnauthorized, "issuer is not trusted")
	// A tenant without settings: the default issuer, bare sub, as before.
	defInitech := e.def.mint(t, now, map[string]any{"sub": "alice", "aud": audience, "tenant_id": "initech"})
	if id, err := e.a.Authenticate(ctx, bearer(defInitech, "initech")); err != nil || id.PrincipalID != "alice" || id.Issuer != "" {
		t.Fatalf("default issuer: %+v %v", id, err)
	}
	_, err = e.a.Authenticate(ctx, bearer(acmeTok, "initech"))
	wantErr(t, err, 401, auth.CodeUnauthorized, "issuer is not trusted")
	// A default-issuer subject may not pose as a qualified id.
	forged := e.def.mint(t, now, map[string]any{"sub": principal.Qualify(e.acme.url, "alice"), "aud": audience, "tenant_id": "initech"})
	_, err = e.a.Authenticate(ctx, bearer(forged, "initech"))
	wantErr(t, err, 401, auth.CodeUnauthorized, "qualified")
}

// TestDefaultIssuerServesOnlyExistingTenants: the default issuer may name
// any tenant; one that was never created is refused, so nothing is written
// under its partition. Whether it exists is cached with the settings.
func TestDefaultIssuerServesOnlyExistingTenants(t *testing.T) {
	e := newTenantEnv(t)
	ctx := context.Background()
	ghost := e.def.mint(t, e.clk.Now(), map[string]any{"sub": "alice", "aud": audience, "tenant_id": "ghost", "groups": []string{"jitsudo-admins"}})
	for range 3 {
		_, err := e.a.Authenticate(ctx, bearer(ghost, "ghost"))
		wantErr(t, err, 401, auth.CodeUnauthorized, "no such tenant")
	}
	if e.ids.calls != 1 || e.ids.tenantReads != 1 {
		t.Fatalf("reads within the TTL: %d settings, %d tenant", e.ids.calls, e.ids.tenantReads)
	}
	// Created: served once the cached answer is older than the TTL.
	e.ids.mu.Lock()
	e.ids.tenants["ghost"] = true
	e.ids.mu.Unlock()
	e.clk.Add(auth.DefaultIdentityTTL + time.Second)
	ghost = e.def.mint(t, e.clk.Now(), map[string]any{"sub": "alice", "aud": audience, "tenant_id": "ghost"})
	if id, err := e.a.Authenticate(ctx, bearer(ghost, "ghost")); err != nil || id.TenantID != "ghost" {
		t.Fatalf("after the tenant's creation: %+v %v", id, err)
	}
	// A tenant with settings is not read again for its existence.
	acme := e.acme.mint(t, e.clk.Now(), map[string]any{"sub": "alice", "aud": "api-acme"})
	before := e.ids.tenantReads
	if _, err := e.a.Authenticate(ctx, bearer(acme, "acme")); err != nil || e.ids.tenantReads != before {
		t.Fatalf("acme: %v, %d tenant reads", err, e.ids.tenantReads-before)
	}
}

// TestSameSubjectTwoIssuersTwoPeople: a tenant migrating from the default
// issuer to its own trusts both; the same sub from each is two principals.
func TestSameSubjectTwoIssuersTwoPeople(t *testing.T) {
	e := newTenantEnv(t)
	now := e.clk.Now()
	ctx := context.Background()
	fromDefault := e.def.mint(t, now, map[string]any{"sub": "sam", "aud": audience, "tenant_id": "migr"})
	fromOwn := e.migr.mint(t, now, map[string]any{"sub": "sam", "aud": "api-migr-old"}) // an extra audience
	a, err := e.a.Authenticate(ctx, bearer(fromDefault, "migr"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.a.Authenticate(ctx, bearer(fromOwn, "migr"))
	if err != nil {
		t.Fatal(err)
	}
	if a.PrincipalID == b.PrincipalID || a.Issuer == b.Issuer || b.PrincipalID != principal.Qualify(e.migr.url, "sam") {
		t.Fatalf("two issuers, one principal: %+v %+v", a, b)
	}
	// The context carries the issuer to the handlers.
	back, err := auth.IdentityFromAuthorizerContext(b.AuthorizerContext())
	if err != nil || back.Issuer != e.migr.url {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

// TestTenantKeyRotation: a rotated key at a tenant's IdP is picked up on
// the first token that names it once the refresh limit has passed; a
// made-up kid does not make the authorizer fetch the JWKS per call.
func TestTenantKeyRotation(t *testing.T) {
	e := newTenantEnv(t)
	ctx := context.Background()
	old := e.acme.mint(t, e.clk.Now(), map[string]any{"sub": "alice", "aud": "api-acme"})
	if _, err := e.a.Authenticate(ctx, bearer(old, "acme")); err != nil {
		t.Fatal(err)
	}
	if n := e.acme.fetches.Load(); n != 1 {
		t.Fatalf("fetches after first token: %d", n)
	}
	// Made-up kids: refused without a fetch, many times.
	forger := newIDP(t, "/forger")
	for i := range 20 {
		iss := forger.iss.Load()
		iss.SetNow(e.clk.Now)
		tok, _ := iss.Mint(map[string]any{"sub": "alice", "aud": "api-acme", "iss": e.acme.url, "n": i}, time.Hour)
		if _, err := e.a.Authenticate(ctx, bearer(tok, "acme")); err == nil {
			t.Fatal("forged token accepted")
		}
	}
	if n := e.acme.fetches.Load(); n > 2 {
		t.Fatalf("made-up kids caused %d JWKS fetches", n)
	}
	e.acme.rotate(t)
	e.clk.Add(auth.MinKeyRefresh + time.Second)
	rotated := e.acme.mint(t, e.clk.Now(), map[string]any{"sub": "alice", "aud": "api-acme"})
	if _, err := e.a.Authenticate(ctx, bearer(rotated, "acme")); err != nil {
		t.Fatalf("rotated key not picked up within the refresh limit: %v", err)
	}
}

// TestIdentitySettingsCached: one settings read per tenant per TTL.
func TestIdentitySettingsCached(t *testing.T) {
	e := newTenantEnv(t)
	tok := e.acme.mint(t, e.clk.Now(), map[string]any{"sub": "alice", "aud": "api-acme"})
	for range 5 {
		if _, err := e.a.Authenticate(context.Background(), bearer(tok, "acme")); err != nil {
			t.Fatal(err)
		}
	}
	if e.ids.calls != 1 {
		t.Fatalf("settings reads: %d", e.ids.calls)
	}
	e.clk.Add(auth.DefaultIdentityTTL + time.Second)
	if _, err := e.a.Authenticate(context.Background(), bearer(tok, "acme")); err != nil {
		t.Fatal(err)
	}
	if e.ids.calls != 2 {
		t.Fatalf("settings reads after the TTL: %d", e.ids.calls)
	}
}

// BenchmarkColdPath50Tenants: a cold authorizer authenticating one person
// of each of 50 tenants, each with its own issuer (50 JWKS fetched and
// cached). Reports the heap the warm authorizer holds afterwards.
func BenchmarkColdPath50Tenants(b *testing.B) {
	const n = 50
	ids := &memIdentities{m: map[string]store.IdentitySettings{}}
	type tt struct {
		tenant, tok string
	}
	var toks []tt
	now := time.Now()
	for i := range n {
		s := newIDP(b, fmt.Sprintf("/t%02d", i))
		tenant := fmt.Sprintf("tenant-%02d", i)
		ids.m[tenant] = s.settings(tenant, "api")
		toks = append(toks, tt{tenant, s.mint(b, now, map[string]any{"sub": "alice", "aud": "api", "groups": []string{"engineering"}})})
	}
	var held float64
	b.ReportAllocs()
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		a, err := auth.New(context.Background(), auth.Config{Identities: ids, Logger: discard()}, newMemKeys())
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range toks {
			if _, err := a.Authenticate(context.Background(), bearer(x.tok, x.tenant)); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		held = float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
		runtime.KeepAlive(a)
	}
	b.ReportMetric(held/1024, "KiB-held")
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
