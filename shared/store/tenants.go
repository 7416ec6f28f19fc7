package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// CreateTenant creates tenant t together with its first API key, atomically
// (one transaction). The tenant starts at rule_set_version 0 whatever
// t.RuleSetVersion says. firstKey.TenantID may be empty (it is set to t.ID);
// any other value must equal t.ID. ErrConflict if the tenant (or the key)
// exists already.
func (s *Store) CreateTenant(ctx context.Context, t Tenant, firstKey APIKey, audit ...access.AuditEvent) error {
	if err := checkTenant(t.ID); err != nil {
		return err
	}
	if firstKey.TenantID == "" {
		firstKey.TenantID = t.ID
	}
	if firstKey.TenantID != t.ID {
		return fmt.Errorf("%w: first API key belongs to another tenant", ErrInvalidInput)
	}
	t.RuleSetVersion = 0
	item, err := attributevalue.MarshalMap(t)
	if err != nil {
		return fmt.Errorf("store: create tenant: %w", err)
	}
	item[AttrPK] = str(tenantPK(t.ID))
	item[AttrSK] = str(skTenant)
	item[AttrEntityType] = str(entityTenant)
	keyItems, err := s.apiKeyPuts(firstKey)
	if err != nil {
		return err
	}
	tx := append([]types.TransactWriteItem{{Put: &types.Put{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}}}, keyItems...)
	if tx, err = s.withAudit(t.ID, tx, audit); err != nil {
		return err
	}
	if err := s.transact(ctx, tx); err != nil {
		if failedAt(err) >= 0 {
			return conflict(nil, "the tenant (or its first API key) exists already")
		}
		return fmt.Errorf("store: create tenant %s: %w", t.ID, err)
	}
	return nil
}

// GetTenant reads a tenant (consistent read). ErrNotFound if there is none.
func (s *Store) GetTenant(ctx context.Context, id string) (Tenant, error) {
	if err := checkTenant(id); err != nil {
		return Tenant{}, err
	}
	item, err := s.getItem(ctx, tenantPK(id), skTenant)
	if err != nil {
		return Tenant{}, fmt.Errorf("store: get tenant %s: %w", id, err)
	}
	if item == nil {
		return Tenant{}, fmt.Errorf("store: tenant %s: %w", id, ErrNotFound)
	}
	var t Tenant
	if err := attributevalue.UnmarshalMap(item, &t); err != nil {
		return Tenant{}, fmt.Errorf("store: decode tenant %s: %w", id, err)
	}
	return t, nil
}

// RuleSetVersion returns the tenant's rule_set_version with one consistent
// GetItem. ErrNotFound if the tenant does not exist.
func (s *Store) RuleSetVersion(ctx context.Context, tenantID string) (int64, error) {
	if err := checkTenant(tenantID); err != nil {
		return 0, err
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                aws.String(s.table),
		Key:                      keyOf(tenantPK(tenantID), skTenant),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#pk, #v"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#v": AttrRuleSetVersion},
	})
	if err != nil {
		return 0, fmt.Errorf("store: rule set version of %s: %w", tenantID, err)
	}
	if out.Item == nil {
		return 0, fmt.Errorf("store: tenant %s: %w", tenantID, ErrNotFound)
	}
	n, ok := out.Item[AttrRuleSetVersion].(*types.AttributeValueMemberN)
	if !ok {
		return 0, nil // never bumped
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: rule set version of %s: %w", tenantID, err)
	}
	return v, nil
}
