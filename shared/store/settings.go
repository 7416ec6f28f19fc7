package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// AWSSettings is a tenant's AWS configuration for real provisioning: the
// IAM Identity Center instance of its organization and the role jitsudo
// assumes there (PK T#<tenant>, SK SETTINGS#AWS). ExternalID is generated
// by jitsudo when the settings are first saved and never chosen by the
// tenant (the confused-deputy guard of the role's trust policy); the API
// validates the other fields (shared/api).
type AWSSettings struct {
	TenantID        string `json:"tenant_id" dynamodbav:"tenant_id"`
	InstanceARN     string `json:"instance_arn" dynamodbav:"instance_arn"`
	IdentityStoreID string `json:"identity_store_id" dynamodbav:"identity_store_id"`
	Region          string `json:"region" dynamodbav:"region"`
	RoleARN         string `json:"role_arn" dynamodbav:"role_arn"`
	ExternalID      string `json:"external_id" dynamodbav:"external_id"`
	UserAttribute   string `json:"user_attribute" dynamodbav:"user_attribute"` // user_name | email
	// MaxGrantDurationSeconds is the tenant's ceiling on a grant's total
	// duration (expires_at − granted_at): no request nor extension goes
	// beyond it. 0 = unset: the platform's 7 days (access.MaxDurationSeconds),
	// which is also the most it can be.
	MaxGrantDurationSeconds int64     `json:"max_grant_duration_seconds,omitempty" dynamodbav:"max_grant_duration_seconds,omitempty"`
	UpdatedAt               time.Time `json:"updated_at" dynamodbav:"updated_at"`
	UpdatedBy               string    `json:"updated_by" dynamodbav:"updated_by"`
	Version                 int64     `json:"version" dynamodbav:"version"`
}

// How a requester is matched to an Identity Center user
// (AWSSettings.UserAttribute): by user name (the requester's principal id)
// or by email.
const (
	UserAttributeUserName = "user_name"
	UserAttributeEmail    = "email"
)

// GetAWSSettings reads the tenant's AWS settings (consistent); ErrNotFound
// if none were saved.
func (s *Store) GetAWSSettings(ctx context.Context, tenantID string) (AWSSettings, error) {
	return getSettings[AWSSettings](ctx, s, tenantID, skSettingsAWS, "AWS settings")
}

// getSettings reads one of a tenant's settings items (consistent);
// ErrNotFound if none were saved.
func getSettings[T any](ctx context.Context, s *Store, tenantID, sk, what string) (T, error) {
	var out T
	if err := checkTenant(tenantID); err != nil {
		return out, err
	}
	item, err := s.getItem(ctx, tenantPK(tenantID), sk)
	if err != nil {
		return out, fmt.Errorf("store: get %s of %s: %w", what, tenantID, err)
	}
	if item == nil {
		return out, fmt.Errorf("store: %s of %s: %w", what, tenantID, ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(item, &out); err != nil {
		return out, fmt.Errorf("store: decode %s of %s: %w", what, tenantID, err)
	}
	return out, nil
}

// putSettings writes one of a tenant's settings items, v (its version
// already set to expectVersion+1), plus extra attributes, together with
// its audit events in one transaction: a change whose audit write fails
// does not happen. expectVersion 0 creates the item; otherwise the stored
// version must be expectVersion, and a conflict names the current one
// (current reads it).
func (s *Store) putSettings(ctx context.Context, tenantID, sk, what string, v any, extra map[string]types.AttributeValue, expectVersion int64, audit []access.AuditEvent, current func() (int64, error)) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return fmt.Errorf("store: put %s: %w", what, err)
	}
	item[AttrPK], item[AttrSK], item[AttrEntityType] = str(tenantPK(tenantID)), str(sk), str(entitySettings)
	maps.Copy(item, extra)
	put := &types.Put{TableName: aws.String(s.table), Item: item}
	if expectVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		put.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		put.ConditionExpression = aws.String("#v = :v")
		put.ExpressionAttributeNames = map[string]string{"#v": "version"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": num(expectVersion)}
	}
	tx, err := s.withAudit(tenantID, []types.TransactWriteItem{{Put: put}}, audit)
	if err != nil {
		return err
	}
	if err := s.transact(ctx, tx); err != nil {
		if failedAt(err) == 0 {
			if expectVersion == 0 {
				return conflict(nil, "the %s exist already; update them with If-Match: <version>", what)
			}
			cur, gerr := current()
			if gerr != nil {
				return fmt.Errorf("store: %s changed meanwhile: %w", what, gerr)
			}
			return conflict(map[string]any{"version": cur}, "the %s are at version %d now, not %d", what, cur, expectVersion)
		}
		return fmt.Errorf("store: put %s of %s: %w", what, tenantID, err)
	}
	return nil
}

// UsersByEmail reports whether the tenant's AWS settings map a person to
// the Identity Center user by email (user_attribute "email"); no settings
// is false (user name, the default). What access.Service.UsersByEmail
// asks.
func (s *Store) UsersByEmail(ctx context.Context, tenantID string) (bool, error) {
	v, err := s.GetAWSSettings(ctx, tenantID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return v.UserAttribute == UserAttributeEmail, nil
}

// MaxGrantDurationSeconds reads the tenant's ceiling on a grant's total
// duration (AWSSettings.MaxGrantDurationSeconds) with one consistent,
// projected GetItem: 0 when unset or when the tenant has no settings.
func (s *Store) MaxGrantDurationSeconds(ctx context.Context, tenantID string) (int64, error) {
	if err := checkTenant(tenantID); err != nil {
		return 0, err
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      keyOf(tenantPK(tenantID), skSettingsAWS),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#m"),
		ExpressionAttributeNames: map[string]string{"#m": attrMaxGrantDuration},
	})
	if err != nil {
		return 0, fmt.Errorf("store: max grant duration of %s: %w", tenantID, err)
	}
	n, ok := out.Item[attrMaxGrantDuration].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: max grant duration of %s: %w", tenantID, err)
	}
	return v, nil
}

const attrMaxGrantDuration = "max_grant_duration_seconds"

// PutAWSSettings writes the tenant's AWS settings conditionally: with
// expectVersion 0 they must not exist yet, otherwise the stored version
// must equal expectVersion (ErrConflict when not). v.Version is stored as
// expectVersion+1.
func (s *Store) PutAWSSettings(ctx context.Context, v AWSSettings, expectVersion int64, audit ...access.AuditEvent) (AWSSettings, error) {
	v.Version = expectVersion + 1
	index := map[string]types.AttributeValue{AttrGSI4PK: str(settingsIndexPK(v.TenantID)), AttrGSI4SK: str("AWS")}
	err := s.putSettings(ctx, v.TenantID, skSettingsAWS, "AWS settings", v, index, expectVersion, audit, func() (int64, error) {
		cur, err := s.GetAWSSettings(ctx, v.TenantID)
		return cur.Version, err
	})
	if err != nil {
		return AWSSettings{}, err
	}
	return v, nil
}

// TenantsWithAWSSettings lists the tenants whose AWS settings are saved,
// by a Scan of the sparse GSI4 (one small key item per configured tenant):
// what the drift reconciler runs over.
func (s *Store) TenantsWithAWSSettings(ctx context.Context) ([]string, error) {
	p := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{TableName: aws.String(s.table), IndexName: aws.String(IndexGSI4)})
	var out []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: scan configured tenants: %w", err)
		}
		for _, it := range page.Items {
			pk, _ := it[AttrGSI4PK].(*types.AttributeValueMemberS)
			if pk == nil {
				continue
			}
			t, ok := strings.CutSuffix(strings.TrimPrefix(pk.Value, "T#"), "#SETTINGS")
			if ok && ValidTenantID(t) {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// SwapDriftDigest records digest as the last drift the reconciler
// reported for the tenant (PK T#<tenant>, SK DRIFT) and reports whether it
// differs from the one recorded before: the reconciler reports unexpected
// assignments once, not every run. Read, then write only on a change.
func (s *Store) SwapDriftDigest(ctx context.Context, tenantID, digest string) (changed bool, err error) {
	if err := checkTenant(tenantID); err != nil {
		return false, err
	}
	item, err := s.getItem(ctx, tenantPK(tenantID), skDrift)
	if err != nil {
		return false, fmt.Errorf("store: read drift digest: %w", err)
	}
	if v, ok := item["digest"].(*types.AttributeValueMemberS); ok && v.Value == digest {
		return false, nil
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: map[string]types.AttributeValue{
		AttrPK: str(tenantPK(tenantID)), AttrSK: str(skDrift), AttrEntityType: str(entityDrift),
		"digest": str(digest), AttrUpdatedAt: str(timeString(time.Now())),
	}})
	if err != nil {
		return false, fmt.Errorf("store: write drift digest: %w", err)
	}
	return true, nil
}
