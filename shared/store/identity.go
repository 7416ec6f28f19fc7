package store

import (
	"context"
	"slices"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// IdentitySettings is a tenant's own OpenID Connect identity provider
// (PK T#<tenant>, SK SETTINGS#IDENTITY): which issuer may authenticate
// its people, and what a sign-in client needs to start a sign-in there.
// A tenant without them signs in with the deployment's default issuer
// (whose tokens carry the tenant claim). The API validates the fields and
// checks the issuer before saving (shared/api/identity.go).
type IdentitySettings struct {
	TenantID string `json:"tenant_id" dynamodbav:"tenant_id"`
	// IssuerURL is compared byte for byte with the tokens' `iss`.
	IssuerURL string `json:"issuer_url" dynamodbav:"issuer_url"`
	// JWKSURL is the key set URL the issuer's discovery document named
	// when the settings were saved (the authorizer uses it directly).
	JWKSURL string `json:"jwks_url" dynamodbav:"jwks_url"`
	// Audience must appear in a token's `aud` (the API's audience at the
	// IdP); ExtraAudiences are also accepted.
	Audience string `json:"audience" dynamodbav:"audience"`
	// Lists are stored as string sets (the local DynamoDB stand-in
	// mangles list attributes on this item); read back sorted.
	ExtraAudiences []string `json:"extra_audiences" dynamodbav:"extra_audiences,stringset,omitempty"`
	// ClientID is the Approvals page's public client (PKCE, no secret).
	ClientID string `json:"client_id" dynamodbav:"client_id"`
	// Scopes the sign-in client asks for (openid always among them).
	Scopes      []string `json:"scopes" dynamodbav:"scopes,stringset,omitempty"`
	GroupsClaim string   `json:"groups_claim" dynamodbav:"groups_claim"`
	AdminGroup  string   `json:"admin_group" dynamodbav:"admin_group"`
	EmailClaim  string   `json:"email_claim" dynamodbav:"email_claim"`
	// AcceptDefaultIssuer keeps the deployment's default issuer (with its
	// tenant claim) valid for this tenant too: a migration from the
	// default issuer to the tenant's own.
	AcceptDefaultIssuer bool      `json:"accept_default_issuer" dynamodbav:"accept_default_issuer"`
	UpdatedAt           time.Time `json:"updated_at" dynamodbav:"updated_at"`
	UpdatedBy           string    `json:"updated_by" dynamodbav:"updated_by"`
	Version             int64     `json:"version" dynamodbav:"version"`
}

const skSettingsIdentity = "SETTINGS#IDENTITY"

// GetIdentitySettings reads the tenant's identity settings (consistent);
// ErrNotFound if none were saved.
func (s *Store) GetIdentitySettings(ctx context.Context, tenantID string) (IdentitySettings, error) {
	out, err := getSettings[IdentitySettings](ctx, s, tenantID, skSettingsIdentity, "identity settings")
	if err != nil {
		return IdentitySettings{}, err
	}
	out.normalizeSets()
	return out, nil
}

// normalizeSets puts the two lists stored as string sets in the form a
// read returns: without repeats (DynamoDB refuses a set with one),
// extra audiences sorted and never nil, scopes openid first, then sorted.
func (v *IdentitySettings) normalizeSets() {
	v.ExtraAudiences = slices.Compact(slices.Sorted(slices.Values(v.ExtraAudiences)))
	if v.ExtraAudiences == nil {
		v.ExtraAudiences = []string{}
	}
	v.Scopes = slices.Compact(slices.Sorted(slices.Values(v.Scopes)))
	slices.SortStableFunc(v.Scopes, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "openid":
			return -1
		case b == "openid":
			return 1
		}
		return 0
	})
}

// PutIdentitySettings writes the tenant's identity settings conditionally:
// with expectVersion 0 they must not exist yet, otherwise the stored
// version must equal expectVersion (ErrConflict when not). v.Version is
// stored as expectVersion+1.
func (s *Store) PutIdentitySettings(ctx context.Context, v IdentitySettings, expectVersion int64, audit ...access.AuditEvent) (IdentitySettings, error) {
	v.normalizeSets()
	v.Version = expectVersion + 1
	err := s.putSettings(ctx, v.TenantID, skSettingsIdentity, "identity settings", v, nil, expectVersion, audit, func() (int64, error) {
		cur, err := s.GetIdentitySettings(ctx, v.TenantID)
		return cur.Version, err
	})
	if err != nil {
		return IdentitySettings{}, err
	}
	return v, nil
}
