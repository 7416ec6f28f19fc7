package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksServer serves the public halves of keys (swappable) and counts fetches.
type jwksServer struct {
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches atomic.Int32
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: s.keys})
}

func (s *jwksServer) publish(keys ...jose.JSONWebKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func newSigningKey(t *testing.T, kid string) (*rsa.PrivateKey, jose.JSONWebKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

func sign(t *testing.T, k *rsa.PrivateKey, kid, payload string) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: k}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeySetRefreshIsRateLimited: tokens naming unknown key ids cause at
// most one JWKS fetch per MinKeyRefresh; a rotated key is picked up by the
// first fetch after that.
func TestKeySetRefreshIsRateLimited(t *testing.T) {
	ctx := context.Background()
	k1, pub1 := newSigningKey(t, "k1")
	k2, pub2 := newSigningKey(t, "k2")
	srv := &jwksServer{}
	srv.publish(pub1)
	hs := httptest.NewServer(srv)
	defer hs.Close()
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	ks := newKeySet(hs.URL, hs.Client(), []string{string(jose.RS256)}, clock)

	if got, err := ks.VerifySignature(ctx, sign(t, k1, "k1", "hello")); err != nil || string(got) != "hello" {
		t.Fatalf("known key: %q %v", got, err)
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for the first token, want 1", n)
	}
	for range 50 { // made-up key ids: refused without fetching
		if _, err := ks.VerifySignature(ctx, sign(t, k2, "made-up", "x")); err == nil {
			t.Fatal("token with an unknown key id verified")
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after 50 unknown key ids within %s, want still 1", n, MinKeyRefresh)
	}
	if _, err := ks.VerifySignature(ctx, sign(t, k1, "k1", "again")); err != nil {
		t.Fatalf("known key after the flood: %v", err)
	}

	// The issuer rotates to k2; after MinKeyRefresh the first k2 token
	// refreshes the set and verifies.
	srv.publish(pub1, pub2)
	now = now.Add(MinKeyRefresh)
	if got, err := ks.VerifySignature(ctx, sign(t, k2, "k2", "rotated")); err != nil || string(got) != "rotated" {
		t.Fatalf("rotated key: %q %v", got, err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2", n)
	}
	// A signature by the wrong key under a known kid is refused, no fetch.
	if _, err := ks.VerifySignature(ctx, sign(t, k1, "k2", "forged")); err == nil {
		t.Fatal("k1 signature accepted under kid k2")
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after a bad signature on a known kid, want 2", n)
	}
}

// TestKeySetUnreachable: a failed fetch says "fetching keys" (the
// authorizer's 503 path) and is not retried before MinKeyRefresh.
func TestKeySetUnreachable(t *testing.T) {
	k1, _ := newSigningKey(t, "k1")
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer hs.Close()
	ks := newKeySet(hs.URL, hs.Client(), []string{string(jose.RS256)}, time.Now)
	_, err := ks.VerifySignature(context.Background(), sign(t, k1, "k1", "x"))
	if err == nil || !strings.Contains(err.Error(), "fetching keys") {
		t.Fatalf("want a fetching-keys error, got %v", err)
	}
	if _, err := ks.VerifySignature(context.Background(), sign(t, k1, "k1", "x")); err == nil {
		t.Fatal("verified without keys")
	}
}
