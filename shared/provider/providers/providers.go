// Package providers is the Identity Center provider over the table: the
// tenant's settings from its AWS settings (GET/PUT /v1/settings/aws), the
// assignments' bookkeeping in the table, and the drift reconciler. Only
// the functions that provision or revoke (provision-grant, fail-grant,
// expire-grant, revoke-grant, sweep-overdue) and the reconciler import it,
// passing IdentityCenter to shared/wiring, so the others do not link the
// Identity Center clients (STS, SSO Admin, Identity Store). Which provider
// runs (PROVIDER) is wiring's choice.
package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// IdentityCenter is the Identity Center provider over s: tenant settings
// from the table, the platform's credentials (cfg, from wiring.AWSConfig,
// whose BaseEndpoint is PROVIDER_ENDPOINT when set: a local stand-in of
// STS, SSO Admin and Identity Store) for sts:AssumeRole only, waiting at
// most pollBudget for Identity Center's asynchronous status (0: the
// provider's default).
func IdentityCenter(cfg aws.Config, s *store.Store, logger *slog.Logger, pollBudget time.Duration) *identitycenter.Provider {
	p := identitycenter.New(cfg, Settings(s), s)
	p.PollBudget = pollBudget
	if cfg.BaseEndpoint != nil {
		p.Endpoint = *cfg.BaseEndpoint
	}
	p.Logger = logger
	return p
}

// Settings reads a tenant's Identity Center settings from its AWS settings
// in the table.
func Settings(s *store.Store) identitycenter.SettingsSource {
	return func(ctx context.Context, tenantID string) (identitycenter.Settings, error) {
		v, err := s.GetAWSSettings(ctx, tenantID)
		if errors.Is(err, store.ErrNotFound) {
			return identitycenter.Settings{}, fmt.Errorf("%w: PUT /v1/settings/aws first", identitycenter.ErrNoSettings)
		}
		if err != nil {
			return identitycenter.Settings{}, err
		}
		return identitycenter.Settings{
			InstanceARN: v.InstanceARN, IdentityStoreID: v.IdentityStoreID, Region: v.Region,
			RoleARN: v.RoleARN, ExternalID: v.ExternalID, UserAttribute: v.UserAttribute,
		}, nil
	}
}
