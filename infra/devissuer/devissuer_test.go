package devissuer_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/jitsudo/jitsudo-serverless/infra/devissuer"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// serve mounts the issuer at /dev-idp/, directly or behind StripPrefix.
func serve(t *testing.T, strip bool) (*devissuer.Issuer, *httptest.Server) {
	t.Helper()
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux := http.NewServeMux()
		if strip {
			mux.Handle("/dev-idp/", http.StripPrefix("/dev-idp", iss.Handler()))
		} else {
			mux.Handle("/dev-idp/", iss.Handler())
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var err error
	iss, err = devissuer.New(srv.URL + "/dev-idp")
	if err != nil {
		t.Fatal(err)
	}
	return iss, srv
}

func TestDocumentsAndMint(t *testing.T) {
	for _, strip := range []bool{false, true} {
		iss, srv := serve(t, strip)
		var disc map[string]any
		if code := getJSON(t, srv.URL+"/dev-idp/.well-known/openid-configuration", &disc); code != 200 {
			t.Fatalf("strip=%v: discovery %d", strip, code)
		}
		if disc["issuer"] != srv.URL+"/dev-idp" || disc["jwks_uri"] != srv.URL+"/dev-idp/.well-known/jwks.json" || disc["jwks_uri"] != iss.JWKSURL() {
			t.Fatalf("discovery %v", disc)
		}
		var set jose.JSONWebKeySet
		if code := getJSON(t, iss.JWKSURL(), &set); code != 200 {
			t.Fatalf("strip=%v: jwks %d", strip, code)
		}
		if len(set.Keys) != 1 || set.Keys[0].KeyID != iss.KeyID() || !set.Keys[0].IsPublic() || set.Keys[0].Algorithm != "RS256" {
			t.Fatalf("jwks %+v", set.Keys)
		}
		if code := getJSON(t, srv.URL+"/dev-idp/other", nil); code != 404 {
			t.Fatalf("unknown path %d", code)
		}

		now := time.Unix(1_800_000_000, 0)
		iss.SetNow(func() time.Time { return now })
		tok, err := iss.Mint(map[string]any{"sub": "alice", "aud": "api", "nbf": nil}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if jws.Signatures[0].Header.KeyID != iss.KeyID() {
			t.Fatal("kid missing")
		}
		payload, err := jws.Verify(&set.Keys[0])
		if err != nil {
			t.Fatalf("token does not verify with the served JWKS: %v", err)
		}
		var c map[string]any
		_ = json.Unmarshal(payload, &c)
		if c["iss"] != iss.IssuerURL() || c["sub"] != "alice" || c["iat"] != float64(now.Unix()) || c["exp"] != float64(now.Add(time.Minute).Unix()) {
			t.Fatalf("claims %v", c)
		}
		if _, ok := c["nbf"]; ok {
			t.Fatal("nil claim not omitted")
		}
		// Explicit claims win over defaults.
		tok, _ = iss.Mint(map[string]any{"iss": "https://other", "exp": 5}, time.Minute)
		jws, _ = jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		payload, _ = jws.Verify(&set.Keys[0])
		_ = json.Unmarshal(payload, &c)
		if c["iss"] != "https://other" || c["exp"] != float64(5) {
			t.Fatalf("overrides lost: %v", c)
		}
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "dev-idp", "ftp://x/y", "http://x/y?q=1", "http:///nohost"} {
		if _, err := devissuer.New(u); err == nil {
			t.Errorf("accepted %q", u)
		}
	}
	a, _ := devissuer.New("http://127.0.0.1:1/dev-idp")
	b, _ := devissuer.New("http://127.0.0.1:1/dev-idp")
	if a.KeyID() == b.KeyID() || a.PublicKey().Equal(b.PublicKey()) {
		t.Fatal("two issuers share a key")
	}
}

func TestHandlerRejectsWrites(t *testing.T) {
	iss, _ := serve(t, false)
	resp, err := http.Post(iss.JWKSURL(), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST → %d", resp.StatusCode)
	}
}
