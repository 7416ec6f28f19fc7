// Package providers selects the access provider a function runs with, from
// the environment. Only the functions that provision or revoke import it
// (provision-grant, fail-grant, expire-grant, revoke-grant and the drift
// reconciler), so the others do not link the Identity Center clients.
//
//	PROVIDER=identitycenter  AWS IAM Identity Center, in each tenant's own
//	                         organization, through the role its AWS settings
//	                         name (GET/PUT /v1/settings/aws)
//	PROVIDER=recording       the local stand-in: records assignments in the
//	                         table and grants nothing. Only in binaries built
//	                         with -tags jitsudo_local (the local Lambda runs);
//	                         the binaries built for AWS do not link it.
//
// Selection fails closed: PROVIDER unset, unknown, or naming a provider this
// binary was not built with is an error at init, so a misconfigured
// deployment stops instead of approving access it never provisions.
//
//	PROVIDER_POLL_BUDGET     how long one call waits for Identity Center's
//	                         asynchronous status (Go duration; default 20s,
//	                         within the API's 30 s and the workers' timeout)
//	PROVIDER_ENDPOINT        base URL of STS, SSO Admin and Identity Store
//	                         (a local stand-in; unset on AWS)
package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/awsenv"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Environment variables (see the package comment).
const (
	EnvProvider   = "PROVIDER"
	EnvPollBudget = "PROVIDER_POLL_BUDGET"
	EnvEndpoint   = "PROVIDER_ENDPOINT"
)

// Provider names.
const (
	Recording      = "recording"
	IdentityCenter = "identitycenter"
)

// DefaultPollBudget bounds one call's wait for Identity Center.
const DefaultPollBudget = 20 * time.Second

// Name is the provider PROVIDER selects ("" when unset).
func Name() string { return config.String(EnvProvider) }

// local builds the recording provider; nil unless the binary was built with
// -tags jitsudo_local (local.go).
var local func(*store.Store) access.Provider

// ErrNotConfigured: PROVIDER is unset, unknown or not in this binary.
var ErrNotConfigured = errors.New("providers: no usable provider")

// FromEnv returns the provider PROVIDER selects, over the table s.
func FromEnv(_ context.Context, s *store.Store, logger *slog.Logger) (access.Provider, error) {
	switch p := Name(); p {
	case IdentityCenter:
		return IdentityCenterFromEnv(s, logger)
	case Recording:
		if local == nil {
			return nil, fmt.Errorf("%w: %s=%s is the local stand-in, not built into this binary (build with -tags jitsudo_local for the local stack)", ErrNotConfigured, EnvProvider, Recording)
		}
		return local(s), nil
	case "":
		return nil, fmt.Errorf("%w: %s is not set (want %s)", ErrNotConfigured, EnvProvider, IdentityCenter)
	default:
		return nil, fmt.Errorf("%w: %s=%q is not supported (want %s)", ErrNotConfigured, EnvProvider, p, IdentityCenter)
	}
}

// IdentityCenterFromEnv is the Identity Center provider over s: tenant
// settings from the table, the platform's credentials (awsenv) for
// sts:AssumeRole only.
func IdentityCenterFromEnv(s *store.Store, logger *slog.Logger) (*identitycenter.Provider, error) {
	budget, err := config.Duration(EnvPollBudget, DefaultPollBudget)
	if err != nil {
		return nil, fmt.Errorf("providers: %w", err)
	}
	p := identitycenter.New(awsenv.Config(""), Settings(s), s)
	p.PollBudget = budget
	p.Endpoint = config.String(EnvEndpoint)
	p.Logger = logger
	return p, nil
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
