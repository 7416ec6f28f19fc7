package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// KeyLookup finds a tenant API key by the SHA-256 of its raw value. It returns
// an error wrapping store.ErrNotFound when the tenant has no such key.
// *store.Store satisfies it.
type KeyLookup interface {
	GetAPIKeyByHash(ctx context.Context, tenantID, hash string) (store.APIKey, error)
}

// KeyPrefix starts every generated tenant API key.
const KeyPrefix = "jit_"

// HashKey is the SHA-256 of a raw key, lowercase hex: what the store keeps.
func HashKey(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// GenerateKey makes a new tenant API key: raw is "jit_" followed by 43
// base64url characters (32 random bytes), shown to the user once; hash is
// what to store; prefix (first 12 characters of raw) helps people recognise
// the key in listings.
func GenerateKey() (raw, hash, prefix string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", "", fmt.Errorf("auth: generate key: %w", err)
	}
	raw = KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, HashKey(raw), raw[:12], nil
}

// keyCache is a concurrency-safe TTL cache of API-key lookups keyed by
// (tenant, hash). It stores found keys and not-found results; store errors
// are never cached. Size is bounded: when full, expired entries are dropped,
// and if that is not enough the whole cache is cleared (a cold start, not a
// correctness problem).
type keyCache struct {
	ttl time.Duration
	max int

	mu sync.Mutex
	m  map[cacheKey]cacheEntry
}

type cacheKey struct{ tenant, hash string }

type cacheEntry struct {
	key     store.APIKey
	found   bool
	expires time.Time
}

const defaultCacheMax = 10_000

func newKeyCache(ttl time.Duration) *keyCache {
	if ttl <= 0 {
		return nil
	}
	return &keyCache{ttl: ttl, max: defaultCacheMax, m: make(map[cacheKey]cacheEntry)}
}

// get returns the cached lookup for k if it is still fresh at now.
func (c *keyCache) get(k cacheKey, now time.Time) (cacheEntry, bool) {
	if c == nil {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return cacheEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(c.m, k)
		return cacheEntry{}, false
	}
	return e, true
}

func (c *keyCache) put(k cacheKey, key store.APIKey, found bool, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.m[k]; !exists && len(c.m) >= c.max {
		for ck, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, ck)
			}
		}
		if len(c.m) >= c.max {
			clear(c.m)
		}
	}
	c.m[k] = cacheEntry{key: key, found: found, expires: now.Add(c.ttl)}
}

func (c *keyCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
