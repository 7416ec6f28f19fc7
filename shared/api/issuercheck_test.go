package api_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

type privateResolver struct{}

func (privateResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.ParseIP("10.1.2.3")}}, nil
}

// fakeIssuer serves a discovery document and a JWKS, each replaceable.
func fakeIssuer(t *testing.T, discovery func(iss string) any, jwks func(w http.ResponseWriter)) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(discovery(srv.URL))
		case "/jwks":
			jwks(w)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func goodDiscovery(iss string) any { return map[string]any{"issuer": iss, "jwks_uri": iss + "/jwks"} }

func goodJWKS(t *testing.T) func(http.ResponseWriter) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	return func(w http.ResponseWriter) { _ = json.NewEncoder(w).Encode(set) }
}

// TestIssuerCheck: every bad issuer is a clear refusal (a 400 with the
// reason in the API); a good one yields its JWKS URL.
func TestIssuerCheck(t *testing.T) {
	ctx := context.Background()
	local := api.NewIssuerCheck(notify.Guard{Mode: notify.ModeLocal}, 500*time.Millisecond)
	good := fakeIssuer(t, goodDiscovery, goodJWKS(t))
	if jwks, err := local(ctx, good); err != nil || jwks != good+"/jwks" {
		t.Fatalf("good issuer: %q %v", jwks, err)
	}
	aws := api.NewIssuerCheck(notify.Guard{Mode: notify.ModeAWS, Resolver: privateResolver{}}, 500*time.Millisecond)
	cases := []struct {
		name, issuer string
		check        api.IssuerCheck
		want         string
	}{
		{"http issuer", "http://idp.example.com", aws, "https"},
		{"private-address issuer", "https://idp.example.com", aws, "not a public address"},
		{"IP-literal issuer", "https://10.0.0.1", aws, "not an IP address"},
		{"link-local issuer", "https://169.254.169.254", aws, "not an IP address"},
		{"discovery names another issuer", fakeIssuer(t, func(string) any {
			return map[string]any{"issuer": "https://other.example", "jwks_uri": "https://other.example/jwks"}
		}, goodJWKS(t)), local, "names the issuer"},
		{"oversized JWKS", fakeIssuer(t, goodDiscovery, func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 300<<10) + `"}`))
		}), local, "larger than"},
		{"slow JWKS", fakeIssuer(t, goodDiscovery, func(w http.ResponseWriter) {
			time.Sleep(2 * time.Second)
			_, _ = w.Write([]byte(`{"keys":[]}`))
		}), local, "took longer"},
		{"JWKS without usable keys", fakeIssuer(t, goodDiscovery, func(w http.ResponseWriter) {
			_, _ = w.Write([]byte(`{"keys":[]}`))
		}), local, "no usable signature key"},
		{"issuer with a fragment", good + "#x", local, "without query or fragment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.check(ctx, c.issuer)
			var ie *api.IssuerError
			if !errors.As(err, &ie) || !strings.Contains(ie.Reason, c.want) {
				t.Fatalf("got %v, want an IssuerError mentioning %q", err, c.want)
			}
		})
	}
}
