package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// credentialExpiryWindow: assumed-role credentials are refreshed this long
// before they expire, so no call (or poll loop, bounded by PollBudget) is
// signed with credentials about to lapse. stscreds asks for its default
// 15-minute sessions.
const credentialExpiryWindow = 2 * time.Minute

// tenantClients are one tenant's clients, signed with the tenant role's
// cached temporary credentials. They are rebuilt when the settings change.
type tenantClients struct {
	settings Settings
	sso      *ssoadmin.Client
	ids      *identitystore.Client
	creds    *aws.CredentialsCache
}

// tenant returns the tenant's validated settings and clients.
func (p *Provider) tenant(ctx context.Context, tenantID string) (*tenantClients, error) {
	if p.Settings == nil {
		return nil, fmt.Errorf("%w: no settings source configured", ErrNoSettings)
	}
	s, err := p.Settings(ctx, tenantID)
	if err != nil {
		if errors.Is(err, access.ErrNotFound) || errors.Is(err, ErrNoSettings) {
			return nil, fmt.Errorf("%w (tenant %s): %w", ErrNoSettings, tenantID, err)
		}
		return nil, storeErr("read tenant settings", err)
	}
	if s.Region == "" {
		s.Region = p.Base.Region
	}
	if err := validSettings(s); err != nil {
		return nil, fmt.Errorf("%w (tenant %s): %w", ErrNoSettings, tenantID, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if tc := p.tenants[tenantID]; tc != nil && tc.settings == s {
		return tc, nil
	}
	tc := p.newClients(tenantID, s)
	if p.tenants == nil {
		p.tenants = map[string]*tenantClients{}
	}
	p.tenants[tenantID] = tc
	return tc, nil
}

func validSettings(s Settings) error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"instance_arn", s.InstanceARN}, {"identity_store_id", s.IdentityStoreID}, {"region", s.Region},
		{"role_arn", s.RoleARN}, {"external_id", s.ExternalID},
	} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("incomplete settings: missing %s", strings.Join(missing, ", "))
	}
	if _, _, err := userAttribute(s); err != nil {
		return err
	}
	return nil
}

// newClients builds the tenant's clients: STS with the platform
// credentials, SSO Admin and Identity Store with the assumed role's.
func (p *Provider) newClients(tenantID string, s Settings) *tenantClients {
	cfg := p.Base.Copy()
	cfg.Region = s.Region
	if p.HTTPClient != nil {
		cfg.HTTPClient = p.HTTPClient
	}
	stsClient := sts.NewFromConfig(cfg, func(o *sts.Options) {
		p.clientOptions(&o.BaseEndpoint, &o.Retryer, &o.RetryMaxAttempts)
	})
	ext := s.ExternalID
	assume := stscreds.NewAssumeRoleProvider(stsClient, s.RoleARN, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = &ext
		o.RoleSessionName = sessionName(tenantID)
	})
	creds := aws.NewCredentialsCache(assume, func(o *aws.CredentialsCacheOptions) {
		o.ExpiryWindow = credentialExpiryWindow
	})
	cfg.Credentials = creds
	return &tenantClients{
		settings: s,
		creds:    creds,
		sso: ssoadmin.NewFromConfig(cfg, func(o *ssoadmin.Options) {
			p.clientOptions(&o.BaseEndpoint, &o.Retryer, &o.RetryMaxAttempts)
		}),
		ids: identitystore.NewFromConfig(cfg, func(o *identitystore.Options) {
			p.clientOptions(&o.BaseEndpoint, &o.Retryer, &o.RetryMaxAttempts)
		}),
	}
}

// call is retry for a call signed with the tenant's credentials: when AWS
// says they expired (clock skew, a revoked session), the cache is
// invalidated so the retry assumes the role afresh.
func (p *Provider) call(ctx context.Context, tc *tenantClients, op string, fn func(context.Context) error) error {
	return p.retry(ctx, op, func(ctx context.Context) error {
		err := fn(ctx)
		if code := apiCode(err); code == "ExpiredTokenException" || code == "ExpiredToken" {
			tc.creds.Invalidate()
		}
		return err
	})
}

// clientOptions: the endpoint override, and no SDK retries (one attempt
// per call; retry owns the budget).
func (p *Provider) clientOptions(endpoint **string, retryer *aws.Retryer, maxAttempts *int) {
	if p.Endpoint != "" {
		*endpoint = aws.String(p.Endpoint)
	}
	*retryer = aws.NopRetryer{}
	*maxAttempts = 0
}

// sessionName is "jitsudo-<tenant>" restricted to what STS accepts
// ([\w+=,.@-], at most 64 characters): CloudTrail in the tenant's account
// shows which tenant's broker acted.
func sessionName(tenantID string) string {
	var b strings.Builder
	b.WriteString("jitsudo-")
	for _, r := range tenantID {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_+=,.@-", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}
