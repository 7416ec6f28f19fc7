package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	if err := checkTenant(tenantID); err != nil {
		return IdentitySettings{}, err
	}
	item, err := s.getItem(ctx, tenantPK(tenantID), skSettingsIdentity)
	if err != nil {
		return IdentitySettings{}, fmt.Errorf("store: get identity settings of %s: %w", tenantID, err)
	}
	if item == nil {
		return IdentitySettings{}, fmt.Errorf("store: identity settings of %s: %w", tenantID, ErrNotFound)
	}
	var out IdentitySettings
	if err := attributevalue.UnmarshalMap(item, &out); err != nil {
		return IdentitySettings{}, fmt.Errorf("store: decode identity settings of %s: %w", tenantID, err)
	}
	if out.ExtraAudiences == nil {
		out.ExtraAudiences = []string{}
	}
	slices.Sort(out.ExtraAudiences)
	// openid first, then the others sorted (sets have no order)
	slices.SortFunc(out.Scopes, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == "openid":
			return -1
		case b == "openid":
			return 1
		}
		return strings.Compare(a, b)
	})
	return out, nil
}

// PutIdentitySettings writes the tenant's identity settings conditionally:
// with expectVersion 0 they must not exist yet, otherwise the stored
// version must equal expectVersion (ErrConflict when not). v.Version is
// stored as expectVersion+1.
func (s *Store) PutIdentitySettings(ctx context.Context, v IdentitySettings, expectVersion int64, audit ...access.AuditEvent) (IdentitySettings, error) {
	if err := checkTenant(v.TenantID); err != nil {
		return IdentitySettings{}, err
	}
	v.Version = expectVersion + 1
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return IdentitySettings{}, fmt.Errorf("store: put identity settings: %w", err)
	}
	item[AttrPK], item[AttrSK], item[AttrEntityType] = str(tenantPK(v.TenantID)), str(skSettingsIdentity), str(entitySettings)
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item, ExpressionAttributeNames: map[string]string{"#pk": AttrPK}}
	if expectVersion == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(expectVersion)}
	}
	// The settings and their audit event in one transaction: a change
	// whose audit write fails does not happen (as for the AWS settings).
	tx, err := s.withAudit(v.TenantID, []types.TransactWriteItem{{Put: &types.Put{TableName: in.TableName, Item: in.Item,
		ConditionExpression: in.ConditionExpression, ExpressionAttributeNames: in.ExpressionAttributeNames, ExpressionAttributeValues: in.ExpressionAttributeValues}}}, audit)
	if err != nil {
		return IdentitySettings{}, err
	}
	if err := s.transact(ctx, tx); err != nil {
		if failedAt(err) == 0 {
			if expectVersion == 0 {
				return IdentitySettings{}, conflict(nil, "the identity settings exist already; update them with If-Match: <version>")
			}
			cur, gerr := s.GetIdentitySettings(ctx, v.TenantID)
			if gerr != nil {
				return IdentitySettings{}, fmt.Errorf("store: identity settings changed meanwhile: %w", gerr)
			}
			return IdentitySettings{}, conflict(map[string]any{"version": cur.Version}, "the identity settings are at version %d now, not %d", cur.Version, expectVersion)
		}
		return IdentitySettings{}, fmt.Errorf("store: put identity settings of %s: %w", v.TenantID, err)
	}
	return v, nil
}
