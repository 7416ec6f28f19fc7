package policy

import (
	"context"
	"fmt"
	"sync"
)

// Cache holds one compiled PolicySet per tenant, keyed by the tenant's
// rule-set version. Concurrency-safe; concurrent misses for the same
// (tenant, version) load and compile once. A newer version replaces an
// older one; a set compiled for an older version never replaces a newer
// cached one. Errors are not cached.
type Cache struct {
	mu      sync.Mutex
	entries map[string]cacheEntry
	calls   map[cacheKey]*cacheCall
}

type cacheKey struct {
	tenant  string
	version int64
}

type cacheEntry struct {
	version int64
	ps      *PolicySet
}

type cacheCall struct {
	done chan struct{}
	ps   *PolicySet
	err  error
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{entries: make(map[string]cacheEntry), calls: make(map[cacheKey]*cacheCall)}
}

// Get returns the compiled set of tenantID at version, calling load and
// Compile on a miss.
func (c *Cache) Get(tenantID string, version int64, load func() ([]Rule, error)) (*PolicySet, error) {
	key := cacheKey{tenantID, version}
	c.mu.Lock()
	if e, ok := c.entries[tenantID]; ok && e.version == version {
		c.mu.Unlock()
		return e.ps, nil
	}
	if call, ok := c.calls[key]; ok {
		c.mu.Unlock()
		<-call.done
		return call.ps, call.err
	}
	call := &cacheCall{done: make(chan struct{})}
	c.calls[key] = call
	c.mu.Unlock()

	func() {
		defer func() {
			if p := recover(); p != nil {
				call.err = panicError{p}
			}
		}()
		rules, err := load()
		if err != nil {
			call.err = err
			return
		}
		call.ps, call.err = Compile(rules)
	}()

	c.mu.Lock()
	delete(c.calls, key)
	if call.err == nil {
		if e, ok := c.entries[tenantID]; !ok || e.version <= version {
			c.entries[tenantID] = cacheEntry{version: version, ps: call.ps}
		}
	}
	c.mu.Unlock()
	close(call.done)
	return call.ps, call.err
}

// Invalidate drops a tenant's cached set.
func (c *Cache) Invalidate(tenantID string) {
	c.mu.Lock()
	delete(c.entries, tenantID)
	c.mu.Unlock()
}

type panicError struct{ v any }

func (p panicError) Error() string { return "policy cache: load panicked" }

// RuleSets is where a tenant's rule set and its version are read
// (*store.Store).
type RuleSets interface {
	RuleSetVersion(ctx context.Context, tenantID string) (int64, error)
	LoadRuleSet(ctx context.Context, tenantID string) ([]Rule, int64, error)
}

// Source is Current without the version, over src: what the access
// service takes (access.PolicySource).
func (c *Cache) Source(src RuleSets) func(ctx context.Context, tenantID string) (*PolicySet, error) {
	return func(ctx context.Context, tenantID string) (*PolicySet, error) {
		ps, _, err := c.Current(ctx, src, tenantID)
		return ps, err
	}
}

// Current returns the tenant's compiled rule set at its current version
// in src, and that version: one read of the version per call, the rules
// loaded and compiled only when it moved.
func (c *Cache) Current(ctx context.Context, src RuleSets, tenantID string) (*PolicySet, int64, error) {
	version, err := src.RuleSetVersion(ctx, tenantID)
	if err != nil {
		return nil, 0, fmt.Errorf("rule-set version: %w", err)
	}
	ps, err := c.Get(tenantID, version, func() ([]Rule, error) {
		rules, _, err := src.LoadRuleSet(ctx, tenantID)
		return rules, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("compile rule set: %w", err)
	}
	return ps, version, nil
}
