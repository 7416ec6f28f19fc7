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

// KeyToucher records an API key's use (*store.Store satisfies it). When
// the KeyLookup given to New also implements it, the authorizer keeps each
// key's last_used_at current to within Config.KeyTouchEvery.
type KeyToucher interface {
	TouchAPIKey(ctx context.Context, tenantID, keyID string, at time.Time, every time.Duration) (bool, error)
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

// touchTimeout bounds the best-effort last-used write on the
// authorization path.
const touchTimeout = 500 * time.Millisecond

// touched remembers when this authorizer last recorded each key's use, so
// a warm authorizer asks the table at most once per interval per key; the
// store's condition makes that once per interval across authorizers.
type touched struct {
	mu sync.Mutex
	m  map[touchKey]time.Time // last attempt
}

type touchKey struct{ tenant, keyID string }

// due reports whether k's use should be recorded at now, and if so marks it.
func (t *touched) due(k touchKey, now time.Time, every time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if last, ok := t.m[k]; ok && now.Sub(last) < every && !now.Before(last) {
		return false
	}
	if t.m == nil || len(t.m) >= defaultCacheMax {
		t.m = make(map[touchKey]time.Time)
	}
	t.m[k] = now
	return true
}

// touch records key keyID's use at now, best effort: a failure is logged
// and never fails the call.
func (a *Authorizer) touch(ctx context.Context, tenant, keyID string, now time.Time) {
	if a.toucher == nil || a.cfg.KeyTouchEvery < 0 || !a.touched.due(touchKey{tenant, keyID}, now, a.cfg.KeyTouchEvery) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), touchTimeout)
	defer cancel()
	if _, err := a.toucher.TouchAPIKey(ctx, tenant, keyID, now, a.cfg.KeyTouchEvery); err != nil {
		a.cfg.Logger.WarnContext(ctx, "API key last-used not recorded", "tenant_id", tenant, "key_id", keyID, "error", err.Error())
	}
}
