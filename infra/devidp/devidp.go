// Package devidp is the local stack's per-tenant OpenID provider, built on
// github.com/zitadel/oidc/v3's op package: discovery, JWKS, the
// authorization endpoint with a small "sign in as" page listing the
// tenant's demo users, and the token endpoint with PKCE (S256) for one
// public client (the Approvals page). Its access tokens are JWTs for the
// API audience carrying sub, groups, email, email_verified, name and
// tenant_id. Mint signs tokens with the same key (the demo env file's
// tokens, tests).
//
// It is a development tool with no passwords: whoever reaches it can sign
// in as any listed user. Never mount it in a deployed stack (it is linked
// only into infra/devstack; infra/invoke's deps test keeps it out of the
// function binaries).
package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a demo person of the provider.
type User struct {
	ID     string // sub, and the name on the sign-in button
	Name   string
	Email  string
	Groups []string
}

// Config of a Provider.
type Config struct {
	Issuer       string   // absolute URL; the handler is mounted at its path
	Tenant       string   // tenant_id claim
	Audience     string   // the API's audience: every access token's aud
	ClientID     string   // the public client (PKCE, no secret)
	RedirectURIs []string // the client's allowed redirect URIs
	Users        []User
	TokenTTL     time.Duration // default 1h
	// Key signs the tokens (default: a fresh 2048-bit RSA key). Test
	// suites that start many stacks pass keys generated once.
	Key *rsa.PrivateKey
}

// Provider is one tenant's dev identity provider.
type Provider struct {
	cfg     Config
	key     *rsa.PrivateKey
	kid     string
	signer  jose.Signer
	op      *op.Provider
	prefix  string
	handler http.Handler

	mu       sync.Mutex
	requests map[string]*authRequest // by id
	codes    map[string]string       // code → request id
}

// New creates the provider (no network I/O).
func New(cfg Config) (*Provider, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("devidp: issuer %q must be an absolute http(s) URL", cfg.Issuer)
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = time.Hour
	}
	key := cfg.Key
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	kidb := make([]byte, 8)
	_, _ = rand.Read(kidb)
	p := &Provider{cfg: cfg, key: key, kid: "devidp-" + hex.EncodeToString(kidb), prefix: strings.TrimSuffix(u.Path, "/"),
		requests: map[string]*authRequest{}, codes: map[string]string{}}
	p.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	var crypto [32]byte
	_, _ = rand.Read(crypto[:])
	opts := []op.Option{}
	if u.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(&op.Config{CryptoKey: crypto, CodeMethodS256: true,
		SupportedScopes: []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, "groups"}},
		(*storage)(p), op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("devidp: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", p.login)
	mux.Handle("/", p.op)
	p.handler = http.StripPrefix(p.prefix, mux)
	return p, nil
}

// Issuer is the issuer URL.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// ClientID is the public client's id.
func (p *Provider) ClientID() string { return p.cfg.ClientID }

// Handler serves everything under the issuer URL's path (mount it at
// that path, e.g. mux.Handle("/idp/acme/", p.Handler())).
func (p *Provider) Handler() http.Handler { return p.handler }

func (p *Provider) user(id string) (User, bool) {
	for _, u := range p.cfg.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}

// Claims are the claims of a user's access token besides iss, sub, aud,
// iat and exp.
func (p *Provider) Claims(u User) map[string]any {
	return map[string]any{"tenant_id": p.cfg.Tenant, "groups": slices.Clone(u.Groups), "email": u.Email,
		"email_verified": true, "name": u.Name}
}

// Mint signs an access token for user id as the token endpoint would,
// valid for ttl; extra claims override.
func (p *Provider) Mint(id string, ttl time.Duration, extra map[string]any) (string, error) {
	u, ok := p.user(id)
	if !ok {
		return "", fmt.Errorf("devidp: no user %q", id)
	}
	now := time.Now()
	c := p.Claims(u)
	maps.Copy(c, map[string]any{"iss": p.cfg.Issuer, "sub": u.ID, "aud": []string{p.cfg.Audience, p.cfg.ClientID},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(ttl).Unix()})
	maps.Copy(c, extra)
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := p.signer.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// ---- the "sign in as" page ------------------------------------------------

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in to {{.Tenant}} (dev identity provider)</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}button{display:block;width:100%;margin:.5rem 0;padding:.75rem;font-size:1rem}</style>
</head>
<body>
<main>
<h1>Sign in to {{.Tenant}}</h1>
<p>Development identity provider: choose a demo user. There are no passwords.</p>
<form method="post" action="{{.Action}}" aria-label="Choose a demo user">
<input type="hidden" name="authRequestID" value="{{.ID}}">
{{range .Users}}<button type="submit" name="user" value="{{.ID}}">Sign in as {{.ID}}</button>
{{end}}</form>
</main>
</body>
</html>
`))

func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get("authRequestID")
	p.mu.Lock()
	req, ok := p.requests[id]
	p.mu.Unlock()
	if !ok {
		http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		h.Set("Content-Type", "text/html; charset=utf-8")
		_ = loginPage.Execute(w, map[string]any{"Tenant": p.cfg.Tenant, "ID": id, "Users": p.cfg.Users, "Action": p.prefix + "/login"})
	case http.MethodPost:
		u, ok := p.user(r.PostForm.Get("user"))
		if !ok {
			http.Error(w, "unknown user", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		req.subject, req.done, req.authTime = u.ID, true, time.Now()
		p.mu.Unlock()
		http.Redirect(w, r, op.AuthCallbackURL(p.op)(op.ContextWithIssuer(r.Context(), p.cfg.Issuer), id), http.StatusFound)
	default:
		h.Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// ---- op.Storage ------------------------------------------------------------

type authRequest struct {
	id, clientID, redirectURI, state, nonce, subject string
	scopes                                           []string
	responseType                                     oidc.ResponseType
	responseMode                                     oidc.ResponseMode
	challenge                                        *oidc.CodeChallenge
	audience                                         []string
	done                                             bool
	authTime, created                                time.Time
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string                 { return a.audience }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

type client struct{ p *Provider }

func (c client) GetID() string                       { return c.p.cfg.ClientID }
func (c client) RedirectURIs() []string              { return c.p.cfg.RedirectURIs }
func (c client) PostLogoutRedirectURIs() []string    { return c.p.cfg.RedirectURIs }
func (c client) ApplicationType() op.ApplicationType { return op.ApplicationTypeUserAgent }
func (c client) AuthMethod() oidc.AuthMethod         { return oidc.AuthMethodNone }
func (c client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c client) GrantTypes() []oidc.GrantType { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c client) LoginURL(id string) string {
	return c.p.prefix + "/login?authRequestID=" + url.QueryEscape(id)
}
func (c client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (c client) IDTokenLifetime() time.Duration       { return c.p.cfg.TokenTTL }
func (c client) DevMode() bool                        { return true }
func (c client) IsScopeAllowed(string) bool           { return true }
func (c client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c client) ClockSkew() time.Duration             { return 0 }
func (c client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

type signingKey struct{ p *Provider }

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.p.key }
func (k signingKey) ID() string                                  { return k.p.kid }

type publicKey struct{ p *Provider }

func (k publicKey) ID() string                         { return k.p.kid }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.p.key.PublicKey }

type storage Provider

var errNotFound = errors.New("devidp: not found")

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if r.CodeChallenge == "" || r.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required")
	}
	a := &authRequest{id: randomID(), clientID: r.ClientID, redirectURI: r.RedirectURI, state: r.State, nonce: r.Nonce,
		scopes: r.Scopes, responseType: r.ResponseType, responseMode: r.ResponseMode, created: time.Now(),
		challenge: &oidc.CodeChallenge{Challenge: r.CodeChallenge, Method: r.CodeChallengeMethod},
		audience:  []string{s.cfg.Audience, s.cfg.ClientID}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, old := range s.requests { // keep the map small: requests live 10 minutes
		if time.Since(old.created) > 10*time.Minute {
			delete(s.requests, id)
		}
	}
	s.requests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.requests[id]; ok {
		return a, nil
	}
	return nil, errNotFound
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for c, rid := range s.codes {
		if rid == id {
			delete(s.codes, c)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return randomID(), time.Now().Add(s.cfg.TokenTTL), nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, oidc.ErrInvalidGrant()
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{(*Provider)(s)}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{(*Provider)(s)}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != s.cfg.ClientID {
		return nil, errNotFound
	}
	return client{(*Provider)(s)}, nil
}

func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("devidp: the client is public (PKCE), it has no secret")
}

func (s *storage) SetUserinfoFromScopes(_ context.Context, ui *oidc.UserInfo, userID, _ string, _ []string) error {
	u, ok := (*Provider)(s).user(userID)
	if !ok {
		return errNotFound
	}
	ui.Subject, ui.Name, ui.Email, ui.EmailVerified = u.ID, u.Name, u.Email, true
	ui.AppendClaims("groups", slices.Clone(u.Groups))
	ui.AppendClaims("tenant_id", s.cfg.Tenant)
	return nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, _, subject, _ string) error {
	return s.SetUserinfoFromScopes(ctx, ui, subject, "", nil)
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("devidp: no introspection")
}

func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	u, ok := (*Provider)(s).user(userID)
	if !ok {
		return nil, errNotFound
	}
	return (*Provider)(s).Claims(u), nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("devidp: no JWT profile grant")
}

func (s *storage) Health(context.Context) error { return nil }
