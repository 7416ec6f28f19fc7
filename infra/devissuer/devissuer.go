// Package devissuer is an in-process OpenID Connect issuer for local
// development and tests. It holds one RSA-2048 signing key (random kid),
// serves the discovery document and the JWKS, and mints RS256 tokens with any
// claims the caller asks for.
//
// It is NOT an identity provider: there is no login, no client registration
// and no token endpoint. Never mount it in a deployed stack — whoever can reach
// Mint (or a handler exposing it) can become anyone.
//
// # Mounting
//
// The issuer URL given to New decides where the documents live. With
// issuer "http://127.0.0.1:8080/dev-idp" the handler answers
//
//	/dev-idp/.well-known/openid-configuration
//	/dev-idp/.well-known/jwks.json
//
// and, for callers that mount it behind http.StripPrefix("/dev-idp", ...),
// the same documents without the prefix. So both
//
//	mux.Handle("/dev-idp/", iss.Handler())
//	mux.Handle("/dev-idp/", http.StripPrefix("/dev-idp", iss.Handler()))
//
// work. The discovery document always names the issuer URL and JWKSURL
// exactly as configured, which is what OIDC clients verify.
package devissuer

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	discoveryPath = "/.well-known/openid-configuration"
	jwksPath      = "/.well-known/jwks.json"
)

// Issuer is an in-process OIDC issuer with one RSA signing key.
type Issuer struct {
	issuer string
	prefix string // path of the issuer URL, without trailing slash
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer

	mu  sync.RWMutex
	now func() time.Time
}

// New creates an issuer whose `iss` is issuerURL (absolute http or https URL,
// no query or fragment; a trailing slash is kept as given, since `iss` is
// compared byte for byte by verifiers).
func New(issuerURL string) (*Issuer, error) { return NewWithKey(issuerURL, nil) }

// NewWithKey is New signing with key (nil: a fresh 2048-bit RSA key). Test
// suites that start many issuers pass keys generated once.
func NewWithKey(issuerURL string, key *rsa.PrivateKey) (*Issuer, error) {
	u, err := url.Parse(issuerURL)
	if err != nil {
		return nil, fmt.Errorf("devissuer: issuer URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("devissuer: issuer URL %q must be an absolute http(s) URL without query or fragment", issuerURL)
	}
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("devissuer: generate key: %w", err)
		}
	}
	kidBytes := make([]byte, 12)
	if _, err := rand.Read(kidBytes); err != nil {
		return nil, fmt.Errorf("devissuer: kid: %w", err)
	}
	kid := "dev-" + hex.EncodeToString(kidBytes)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("devissuer: signer: %w", err)
	}
	return &Issuer{
		issuer: issuerURL,
		prefix: strings.TrimSuffix(u.Path, "/"),
		key:    key,
		kid:    kid,
		signer: signer,
		now:    time.Now,
	}, nil
}

// IssuerURL is the `iss` of every minted token.
func (i *Issuer) IssuerURL() string { return i.issuer }

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return strings.TrimSuffix(i.issuer, "/") + jwksPath }

// KeyID is the `kid` of the signing key.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey is the verification key (tests use it to craft malicious tokens).
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// SetNow replaces the clock used for iat/nbf/exp (tests).
func (i *Issuer) SetNow(now func() time.Time) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if now == nil {
		now = time.Now
	}
	i.now = now
}

// Mint signs claims with RS256 under the issuer's kid. `iss`, `iat`, `nbf`
// and `exp` (= now + ttl) are filled in unless claims already has them, so
// tests can mint wrong-issuer or expired tokens on purpose; a claim whose
// value is nil is left out altogether (e.g. "exp": nil mints a token without
// expiry). `aud`, `sub` and everything else come from claims as given.
func (i *Issuer) Mint(claims map[string]any, ttl time.Duration) (string, error) {
	i.mu.RLock()
	now := i.now()
	i.mu.RUnlock()
	c := make(map[string]any, len(claims)+4)
	maps.Copy(c, claims)
	setDefault(c, "iss", i.issuer)
	setDefault(c, "iat", now.Unix())
	setDefault(c, "nbf", now.Unix())
	setDefault(c, "exp", now.Add(ttl).Unix())
	for k, v := range c {
		if v == nil {
			delete(c, k)
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("devissuer: claims: %w", err)
	}
	jws, err := i.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("devissuer: sign: %w", err)
	}
	return jws.CompactSerialize()
}

func setDefault(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// JWKS is the public key set served at JWKSURL.
func (i *Issuer) JWKS() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}
}

// Discovery is the OpenID provider metadata served at
// <issuer>/.well-known/openid-configuration. Only what a relying party needs
// to verify tokens is meaningful; the endpoints are placeholders.
func (i *Issuer) Discovery() map[string]any {
	base := strings.TrimSuffix(i.issuer, "/")
	return map[string]any{
		"issuer":                                i.issuer,
		"jwks_uri":                              i.JWKSURL(),
		"authorization_endpoint":                base + "/authorize", // not served
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nbf", "email", "name", "groups", "tenant_id"},
	}
}

// Handler serves the discovery document and the JWKS (GET and HEAD), under
// the issuer URL's path and, for http.StripPrefix mounts, without it.
func (i *Issuer) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.Path
		if i.prefix != "" && strings.HasPrefix(p, i.prefix+"/") {
			p = strings.TrimPrefix(p, i.prefix)
		}
		var body any
		switch p {
		case discoveryPath:
			body = i.Discovery()
		case jwksPath:
			body = i.JWKS()
		default:
			http.NotFound(w, r)
			return
		}
		b, err := json.Marshal(body)
		if err != nil {
			http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
	})
}
