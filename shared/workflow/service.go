package workflow

import (
	"context"
	"errors"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// NoProvider is the provider of functions built without one: every call
// fails (permanently). Only the functions built with wiring.WithProvider
// (provision-grant, fail-grant, expire-grant, revoke-grant, sweep-overdue
// and the reconciler) have a real one.
type NoProvider struct{}

var errNoProvider = errors.New("no access provider is configured in this function")

// Provision implements access.Provider.
func (NoProvider) Provision(context.Context, access.Assignment) error { return errNoProvider }

// Revoke implements access.Provider.
func (NoProvider) Revoke(context.Context, access.Assignment) error { return errNoProvider }

// Policies is an access.PolicySource over the store with a per-process
// cache keyed by the tenant's rule-set version.
func Policies(s *store.Store) access.PolicySource {
	cache := policy.NewCache()
	return func(ctx context.Context, tenantID string) (*policy.PolicySet, error) {
		ps, _, err := cache.Current(ctx, s, tenantID)
		return ps, err
	}
}
