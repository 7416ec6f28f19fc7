package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The credentials the sample events in events/ carry.
const (
	EventTenant      = "acme"
	EventAdminKey    = "jit_eventAdminKey000000000000000000000000000000"
	EventAdminKeyID  = "key-admin"
	EventCIKeyID     = "key-ci"
	EventPlatformKey = "platform-event-key-0000000000"
)

// fixtureRules are the seeded demo rules the events refer to.
var fixtureRules = []string{"dev-auto", "prod-require", "sre-leads-review"}

// SeedEventFixtures makes a fresh table look like the tenant the sample
// events were written against: tenant acme, its admin key (the one in
// events/authorizer.json), a CI key to revoke and the rules the events read
// and update.
func SeedEventFixtures(ctx context.Context, s *store.Store) error {
	now := time.Now().UTC()
	admin := store.APIKey{ID: EventAdminKeyID, Name: "sample-event admin key", Hash: auth.HashKey(EventAdminKey),
		Prefix: EventAdminKey[:12], Scopes: []string{auth.ScopeAdmin}, CreatedBy: "fixtures", CreatedAt: now}
	if err := s.CreateTenant(ctx, store.Tenant{ID: EventTenant, Name: "Acme (sample events)", CreatedAt: now}, admin); err != nil {
		return fmt.Errorf("fixtures: tenant: %w", err)
	}
	_, ciHash, ciPrefix, err := auth.GenerateKey()
	if err != nil {
		return err
	}
	ci := store.APIKey{ID: EventCIKeyID, TenantID: EventTenant, Name: "ci", Hash: ciHash, Prefix: ciPrefix,
		Scopes: []string{auth.ScopePoliciesWrite}, CreatedBy: EventAdminKeyID, CreatedAt: now}
	if err := s.CreateAPIKey(ctx, ci); err != nil {
		return fmt.Errorf("fixtures: ci key: %w", err)
	}
	for _, want := range fixtureRules {
		for _, m := range devstack.DemoRules {
			if m["id"] != want {
				continue
			}
			raw, _ := json.Marshal(m)
			r := policy.Rule{Enabled: true}
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("fixtures: rule %s: %w", want, err)
			}
			n, err := policy.Normalize(r)
			if err != nil {
				return fmt.Errorf("fixtures: rule %s: %w", want, err)
			}
			if _, err := s.CreateRule(ctx, EventTenant, n, now); err != nil {
				return fmt.Errorf("fixtures: rule %s: %w", want, err)
			}
		}
	}
	return nil
}

// FunctionEnv is the environment a function runs with locally: the table
// on a local endpoint, dummy credentials (so the SDK never probes EC2
// metadata), and the authorizer's settings for the sample events.
func FunctionEnv(endpoint, table string) []string {
	return []string{
		"TABLE_NAME=" + table, "DYNAMODB_ENDPOINT=" + endpoint, "AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local", "LOG_LEVEL=info",
		"PLATFORM_ADMIN_KEY=" + EventPlatformKey, "API_KEY_CACHE_TTL=0",
	}
}
