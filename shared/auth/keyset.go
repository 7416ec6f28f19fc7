package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// MinKeyRefresh is the least time between two JWKS fetches caused by tokens
// whose key id is not in the cached set.
const MinKeyRefresh = 30 * time.Second

// maxJWKSBytes bounds a fetched key set.
const maxJWKSBytes = 1 << 20

// keySet verifies token signatures against the issuer's JWKS, cached. It
// replaces go-oidc's RemoteKeySet, which fetches the JWKS again for every
// token whose key id it does not know: tokens with made-up key ids would
// turn each warm authorizer into a JWKS-fetching amplifier against the
// identity provider. Here an unknown key id refreshes the set at most once
// per MinKeyRefresh (key rotation is still picked up: a new kid triggers one
// fetch); otherwise the token is refused at once.
type keySet struct {
	url    string
	client *http.Client
	algs   []jose.SignatureAlgorithm
	now    func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // zero: never fetched
}

var _ oidc.KeySet = (*keySet)(nil)

func newKeySet(url string, client *http.Client, algs []string, now func() time.Time) *keySet {
	ks := &keySet{url: url, client: client, now: now}
	for _, a := range algs {
		ks.algs = append(ks.algs, jose.SignatureAlgorithm(a))
	}
	return ks
}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, fmt.Errorf("oidc: malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: token must carry exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := k.candidates(ctx, kid)
	if err != nil {
		return nil, err
	}
	for _, key := range keys {
		if payload, err := jws.Verify(&key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("failed to verify id token signature")
}

// candidates returns the cached keys for kid (all keys when the token names
// none), refreshing the set first when kid is unknown and the last fetch is
// older than MinKeyRefresh.
func (k *keySet) candidates(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if found := match(k.keys, kid); len(found) > 0 {
		return found, nil
	}
	if !k.fetchedAt.IsZero() && k.now().Sub(k.fetchedAt) < MinKeyRefresh {
		return nil, nil // unknown key id, refreshed recently: refuse without a fetch
	}
	keys, err := k.fetch(ctx)
	k.fetchedAt = k.now()
	if err != nil {
		return nil, fmt.Errorf("oidc: fetching keys %w", err)
	}
	k.keys = keys
	return match(keys, kid), nil
}

func match(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range keys {
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
}

func (k *keySet) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %d", k.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
	if err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", k.url, err)
	}
	var public []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.IsPublic() && key.Use != "enc" {
			public = append(public, key)
		}
	}
	return public, nil
}
