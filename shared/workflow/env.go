package workflow

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// EnvProvider selects the access provider: "recording" (the default; the
// local stand-in that records assignments in the table).
const EnvProvider = "PROVIDER"

// ServiceFromEnv builds the access.Service a worker runs with: the table
// (store.FromEnv), the tenant's compiled policies (cached per rule-set
// version, for the life of the warm Lambda), the workflow (FromEnv) and the
// provider (PROVIDER).
func ServiceFromEnv(ctx context.Context, logger *slog.Logger) (*access.Service, error) {
	s, err := store.FromEnv(ctx)
	if err != nil {
		return nil, fmt.Errorf("workflow: %w", err)
	}
	wf, err := FromEnv()
	if err != nil {
		return nil, err
	}
	var prov access.Provider
	switch p := strings.TrimSpace(os.Getenv(EnvProvider)); p {
	case "", "recording":
		prov = recording.New(s)
	default:
		return nil, fmt.Errorf("workflow: %s=%q is not supported (want recording)", EnvProvider, p)
	}
	return &access.Service{Repo: s, Policies: Policies(s), Workflow: wf, Provider: prov, Now: time.Now, Logger: logger}, nil
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

// WorkersFromEnv builds the workers over ServiceFromEnv.
func WorkersFromEnv(ctx context.Context, logger *slog.Logger) (*Workers, error) {
	svc, err := ServiceFromEnv(ctx, logger)
	if err != nil {
		return nil, err
	}
	return &Workers{Service: svc, Workflow: svc.Workflow, Logger: logger}, nil
}
