package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// ProviderFunc builds the access provider over the table (e.g.
// providers.FromEnv). Functions that never provision pass none.
type ProviderFunc func(ctx context.Context, s *store.Store, logger *slog.Logger) (access.Provider, error)

// NoProvider is the provider of functions built without one: every call
// fails (permanently). Only provision-grant, fail-grant, expire-grant,
// revoke-grant and the reconciler are built with a real one.
type NoProvider struct{}

var errNoProvider = errors.New("no access provider is configured in this function")

// Provision implements access.Provider.
func (NoProvider) Provision(context.Context, access.Assignment) error { return errNoProvider }

// Revoke implements access.Provider.
func (NoProvider) Revoke(context.Context, access.Assignment) error { return errNoProvider }

// EnvNoticeLead is the expiring-soon lead (Go duration, default 15m).
const EnvNoticeLead = "NOTICE_LEAD"

// ServiceFromEnv builds the access.Service a worker runs with: the table
// (store.FromEnv), the tenant's compiled policies (cached per rule-set
// version, for the life of the warm Lambda), the workflow (FromEnv) and the
// provider newProvider builds (nil: NoProvider).
func ServiceFromEnv(ctx context.Context, logger *slog.Logger, newProvider ProviderFunc) (*access.Service, error) {
	svc, _, err := serviceAndStoreFromEnv(ctx, logger, newProvider)
	return svc, err
}

// serviceAndStoreFromEnv is ServiceFromEnv returning the store under the
// service too (the sweeper queries its index).
func serviceAndStoreFromEnv(ctx context.Context, logger *slog.Logger, newProvider ProviderFunc) (*access.Service, *store.Store, error) {
	s, err := store.FromEnv(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("workflow: %w", err)
	}
	wf, err := FromEnv()
	if err != nil {
		return nil, nil, err
	}
	var prov access.Provider = NoProvider{}
	if newProvider != nil {
		if prov, err = newProvider(ctx, s, logger); err != nil {
			return nil, nil, fmt.Errorf("workflow: %w", err)
		}
	}
	return &access.Service{Repo: s, Policies: Policies(s), Workflow: wf, Provider: prov, Now: time.Now, Logger: logger}, s, nil
}

// Policies is an access.PolicySource over the store with a per-process
// cache keyed by the tenant's rule-set version.
func Policies(s *store.Store) access.PolicySource {
	cache := policy.NewCache()
	return func(ctx context.Context, tenantID string) (*policy.PolicySet, error) {
		version, err := s.RuleSetVersion(ctx, tenantID)
		if err != nil {
			return nil, fmt.Errorf("rule-set version: %w", err)
		}
		return cache.Get(tenantID, version, func() ([]policy.Rule, error) {
			rules, _, err := s.LoadRuleSet(ctx, tenantID)
			return rules, err
		})
	}
}

// WorkersFromEnv builds the workers over ServiceFromEnv, with the notice
// lead (NOTICE_LEAD) and the API links (events.EnvAPIBaseURL). The events
// publisher is set by the one worker that publishes (notify-expiring).
func WorkersFromEnv(ctx context.Context, logger *slog.Logger, newProvider ProviderFunc) (*Workers, error) {
	svc, err := ServiceFromEnv(ctx, logger, newProvider)
	if err != nil {
		return nil, err
	}
	w := &Workers{Service: svc, Workflow: svc.Workflow, Logger: logger, Links: events.LinksFromEnv()}
	if w.NoticeLead, err = config.Duration(EnvNoticeLead, 0); err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	return w, nil
}

// BuildWorkers is WorkersFromEnv with its provider fixed: the build step
// of lambdaapp.Worker for the state machine's task functions.
func BuildWorkers(newProvider ProviderFunc) func(context.Context, *slog.Logger) (*Workers, error) {
	return func(ctx context.Context, logger *slog.Logger) (*Workers, error) {
		return WorkersFromEnv(ctx, logger, newProvider)
	}
}

// DriverFromEnv builds the workflow driver (the relay-outbox function's second half) over the table st
// (the function builds it once for both halves) and the workflow (FromEnv).
func DriverFromEnv(s *store.Store, logger *slog.Logger) (*Driver, error) {
	wf, err := FromEnv()
	if err != nil {
		return nil, err
	}
	return &Driver{Repo: s, Workflow: wf, Logger: logger}, nil
}
