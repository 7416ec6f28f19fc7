package devstack_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/auth/principal"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// signIn runs the Approvals page's sign-in against a tenant's dev IdP:
// discovery, authorization code + PKCE (S256), the "sign in as" form, the
// token endpoint. It returns the access token (verifier "" = correct).
func signIn(t *testing.T, e *env, tenant, user, badVerifier string) (int, string) {
	t.Helper()
	var si struct {
		Issuer   string   `json:"issuer"`
		ClientID string   `json:"client_id"`
		Scopes   []string `json:"scopes"`
	}
	r := e.want(http.StatusOK, "GET", "/v1/tenants/"+tenant+"/sign-in", nil, nil)
	if err := json.Unmarshal(r.Body, &si); err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
	}
	getJSON(t, si.Issuer+"/.well-known/openid-configuration", &meta)
	verifierB := make([]byte, 32)
	_, _ = rand.Read(verifierB)
	verifier := base64.RawURLEncoding.EncodeToString(verifierB)
	sum := sha256.Sum256([]byte(verifier))
	redirect := e.st.URL + "/ui/callback"
	q := url.Values{"response_type": {"code"}, "client_id": {si.ClientID}, "redirect_uri": {redirect}, "scope": {strings.Join(si.Scopes, " ")},
		"state": {"st8"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
	resp, err := noFollow.Get(meta.AuthorizationEndpoint + "?" + q.Encode())
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %v", resp, err)
	}
	loginURL, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	resp, err = noFollow.Get(loginURL.String())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(string(page), "<script") ||
		!strings.Contains(string(page), `<html lang="en">`) || !strings.Contains(string(page), `value="`+user+`">Sign in as `+user+`</button>`) {
		t.Fatalf("sign-in page (CSP %q): %s", csp, page)
	}
	resp, err = noFollow.PostForm(loginURL.Scheme+"://"+loginURL.Host+loginURL.Path, url.Values{"authRequestID": {loginURL.Query().Get("authRequestID")}, "user": {user}})
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("sign in as %s: %v %v", user, resp, err)
	}
	cb, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	resp, err = noFollow.Get(cb.String())
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %v %v", resp, err)
	}
	back, _ := url.Parse(resp.Header.Get("Location"))
	if !strings.HasPrefix(back.String(), redirect+"?") || back.Query().Get("state") != "st8" || back.Query().Get("code") == "" {
		t.Fatalf("redirect back: %s", back)
	}
	if badVerifier != "" {
		verifier = badVerifier
	}
	resp, err = http.PostForm(meta.TokenEndpoint, url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")},
		"redirect_uri": {redirect}, "client_id": {si.ClientID}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	return resp.StatusCode, tok.AccessToken
}

func getJSON(t *testing.T, u string, out any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
}

// TestDefaultIssuerGhostTenant: a token of the deployment's default issuer
// naming a tenant that was never created is refused at the gateway: no
// settings or rules are written under that tenant's partition.
func TestDefaultIssuerGhostTenant(t *testing.T) {
	e := newEnv(t)
	tok, err := e.st.Issuer.Mint(map[string]any{"sub": "dana", "aud": e.st.Audience, "tenant_id": "ghost", "groups": []string{"jitsudo-admins"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ghost := devstack.BearerHeaders("ghost", tok)
	e.wantErr(http.StatusUnauthorized, "unauthorized", "PUT", "/v1/settings/aws", ghost, map[string]any{
		"instance_arn": "arn:aws:sso:::instance/ssoins-1234567890abcdef", "identity_store_id": "d-1234567890",
		"region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/jitsudo-provisioner"})
	e.wantErr(http.StatusUnauthorized, "unauthorized", "POST", "/v1/policy-rules", ghost, stagingRule("ghost-rule", 600))
	if _, err := e.st.Store.GetAWSSettings(t.Context(), "ghost"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("settings under a tenant never created: %v", err)
	}
	// A tenant the platform created, without identity settings: the
	// default issuer's tokens work for it. (The authorizer caches a
	// tenant's absence like its settings, auth.DefaultIdentityTTL.)
	e.want(http.StatusCreated, "POST", "/v1/tenants", e.platform(), map[string]string{"id": "latecomer", "name": "Latecomer"})
	tok, err = e.st.Issuer.Mint(map[string]any{"sub": "dana", "aud": e.st.Audience, "tenant_id": "latecomer"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.want(http.StatusOK, "GET", "/v1/requests", devstack.BearerHeaders("latecomer", tok), nil)
}

// TestTenantSignIn: the sign-in discovery and the page's sign-in at each
// demo tenant's own dev IdP; its tokens work at that tenant only; a wrong
// PKCE verifier gets no token.
func TestTenantSignIn(t *testing.T) {
	e := newEnv(t)
	var si map[string]any
	_ = json.Unmarshal(e.want(http.StatusOK, "GET", "/v1/tenants/acme/sign-in", nil, nil).Body, &si)
	if si["issuer"] != e.st.URL+"/idp/acme" || si["client_id"] != devstack.UIClientID || si["tenant_id"] != "acme" || len(si) != 4 {
		t.Fatalf("sign-in discovery: %v", si)
	}
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/tenants/nosuch/sign-in", nil, nil)

	status, acmeTok := signIn(t, e, "acme", "alice", "")
	if status != http.StatusOK || acmeTok == "" {
		t.Fatalf("token endpoint: %d", status)
	}
	var me struct {
		Data []any `json:"data"`
	}
	_ = json.Unmarshal(e.want(http.StatusOK, "GET", "/v1/requests", devstack.BearerHeaders("acme", acmeTok), nil).Body, &me)
	e.wantErr(http.StatusUnauthorized, "unauthorized", "GET", "/v1/requests", devstack.BearerHeaders("globex", acmeTok), nil)
	_, globexTok := signIn(t, e, "globex", "mallory", "")
	e.wantErr(http.StatusUnauthorized, "unauthorized", "GET", "/v1/requests", devstack.BearerHeaders("acme", globexTok), nil)
	e.want(http.StatusOK, "GET", "/v1/requests", devstack.BearerHeaders("globex", globexTok), nil)

	if status, tok := signIn(t, e, "acme", "bob", "wrong-verifier-wrong-verifier-wrong-verifier"); status != http.StatusBadRequest || tok != "" {
		t.Fatalf("wrong PKCE verifier: %d %q", status, tok)
	}
}

// TestTwoIssuersSameSubject: acme trusts its own IdP and (migration) the
// default issuer; "alice" from each is two people: one may review the
// other's request, while nobody reviews their own.
func TestTwoIssuersSameSubject(t *testing.T) {
	e := newEnv(t)
	idp := e.st.TenantIdPs["acme"]
	requester, err := idp.Mint("alice", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	selfReviewer, _ := idp.Mint("alice", time.Hour, map[string]any{"groups": []string{"engineering", "sre-leads"}})
	otherAlice, err := e.st.Issuer.Mint(map[string]any{"sub": "alice", "aud": e.st.Audience, "tenant_id": "acme", "groups": []string{"sre-leads"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"resource": map[string]any{"type": "aws_account", "id": devstack.ProdAccount}, "duration_seconds": 3600, "justification": "rotate a prod secret"}
	r := e.create(devstack.BearerHeaders("acme", requester), body)
	var got struct {
		RequesterID string `json:"requester_id"`
	}
	_ = json.Unmarshal(e.want(http.StatusOK, "GET", "/v1/requests/"+r.ID, devstack.BearerHeaders("acme", requester), nil).Body, &got)
	if got.RequesterID != principal.Qualify(idp.Issuer(), "alice") {
		t.Fatalf("requester id %q", got.RequesterID)
	}
	e.wantErr(http.StatusForbidden, "self_approval", "POST", "/v1/requests/"+r.ID+"/approve", devstack.BearerHeaders("acme", selfReviewer), nil)
	e.want(http.StatusOK, "POST", "/v1/requests/"+r.ID+"/approve", devstack.BearerHeaders("acme", otherAlice), nil)
}

// TestIdentitySettingsRefused: a bad issuer is 400 invalid_issuer and
// nothing is stored.
func TestIdentitySettingsRefused(t *testing.T) {
	e := newEnv(t)
	h := devstack.AdminHeaders("acme", e.demo.AdminKey)
	before := e.want(http.StatusOK, "GET", "/v1/settings/identity", h, nil)
	// the discovery document names ".../idp/acme", not ".../idp/acme/"
	e.wantErr(http.StatusBadRequest, "invalid_issuer", "PUT", "/v1/settings/identity", h, map[string]any{
		"issuer_url": e.st.URL + "/idp/acme/", "audience": "x", "client_id": "y"})
	e.wantErr(http.StatusBadRequest, "invalid_issuer", "PUT", "/v1/settings/identity", h, map[string]any{
		"issuer_url": e.st.URL + "/idp/nosuch", "audience": "x", "client_id": "y"})
	after := e.want(http.StatusOK, "GET", "/v1/settings/identity", h, nil)
	if string(before.Body) != string(after.Body) {
		t.Fatalf("settings changed by a refused PUT:\n%s\n%s", before.Body, after.Body)
	}
}
