package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// An API key is kept as two items written together: the hash item
// (PK T#<tenant>#KEY#<sha256>, SK KEY), which the authorizer reads with one
// GetItem, and the id item (PK T#<tenant>#KEYS, SK KEY#<id>), for revoking by
// id and listing. Both hold the whole APIKey (hash included).

// Usable reports whether the key may authenticate at now: not revoked and
// not expired.
func (k APIKey) Usable(now time.Time) bool {
	if k.RevokedAt != nil {
		return false
	}
	return k.ExpiresAt == nil || now.Before(*k.ExpiresAt)
}

// ValidKeyHash reports whether h is a lowercase hex SHA-256.
func ValidKeyHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validKeyID(id string) bool { return id != "" && len(id) <= 256 }

// apiKeyPuts returns the two conditional puts that create key k.
func (s *Store) apiKeyPuts(k APIKey) ([]types.TransactWriteItem, error) {
	if err := checkTenant(k.TenantID); err != nil {
		return nil, err
	}
	if !validKeyID(k.ID) {
		return nil, fmt.Errorf("%w: API key id", ErrInvalidInput)
	}
	if !ValidKeyHash(k.Hash) {
		return nil, fmt.Errorf("%w: API key hash must be lowercase hex SHA-256", ErrInvalidInput)
	}
	base, err := attributevalue.MarshalMap(k)
	if err != nil {
		return nil, fmt.Errorf("store: encode API key: %w", err)
	}
	byHash := make(map[string]types.AttributeValue, len(base)+3)
	byID := make(map[string]types.AttributeValue, len(base)+3)
	for n, v := range base {
		byHash[n], byID[n] = v, v
	}
	byHash[AttrPK], byHash[AttrSK] = str(apiKeyHashPK(k.TenantID, k.Hash)), str(skKey)
	byHash[AttrEntityType] = str(entityAPIKey)
	byID[AttrPK], byID[AttrSK] = str(apiKeysPK(k.TenantID)), str(apiKeyIDSK(k.ID))
	byID[AttrEntityType] = str(entityAPIKeyID)
	put := func(item map[string]types.AttributeValue) types.TransactWriteItem {
		return types.TransactWriteItem{Put: &types.Put{
			TableName:                aws.String(s.table),
			Item:                     item,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
		}}
	}
	return []types.TransactWriteItem{put(byHash), put(byID)}, nil
}

// CreateAPIKey stores a new key of an existing tenant: a condition check on
// the tenant item and both key items in one transaction. ErrNotFound if the
// tenant does not exist, ErrConflict if the key id or hash is taken.
func (s *Store) CreateAPIKey(ctx context.Context, k APIKey, audit ...access.AuditEvent) error {
	puts, err := s.apiKeyPuts(k)
	if err != nil {
		return err
	}
	tx := append([]types.TransactWriteItem{{ConditionCheck: &types.ConditionCheck{
		TableName:                aws.String(s.table),
		Key:                      keyOf(tenantPK(k.TenantID), skTenant),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}}}, puts...)
	tx, err = s.withAudit(k.TenantID, tx, audit)
	if err != nil {
		return err
	}
	if err := s.transact(ctx, tx); err != nil {
		switch failedAt(err) {
		case -1:
			return fmt.Errorf("store: create API key: %w", err)
		case 0:
			return fmt.Errorf("store: create API key: tenant %s: %w", k.TenantID, ErrNotFound)
		default:
			return conflict(nil, "an API key with this id or secret exists already")
		}
	}
	return nil
}

// GetAPIKeyByHash finds a key by the SHA-256 (lowercase hex) of the raw key:
// one strongly consistent GetItem, so a revocation takes effect at once. It
// returns revoked and expired keys too; check Usable. ErrNotFound if none.
func (s *Store) GetAPIKeyByHash(ctx context.Context, tenantID, hash string) (APIKey, error) {
	if err := checkTenant(tenantID); err != nil {
		return APIKey{}, err
	}
	if !ValidKeyHash(hash) {
		return APIKey{}, fmt.Errorf("%w: API key hash must be lowercase hex SHA-256", ErrInvalidInput)
	}
	item, err := s.getItem(ctx, apiKeyHashPK(tenantID, hash), skKey)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: get API key: %w", err)
	}
	if item == nil {
		return APIKey{}, fmt.Errorf("store: API key: %w", ErrNotFound)
	}
	return decodeAPIKey(item)
}

func decodeAPIKey(item map[string]types.AttributeValue) (APIKey, error) {
	var k APIKey
	if err := attributevalue.UnmarshalMap(item, &k); err != nil {
		return APIKey{}, fmt.Errorf("store: decode API key: %w", err)
	}
	return k, nil
}

// RevokeAPIKey marks key keyID revoked at at, on both items in one
// transaction, conditional on neither being revoked yet. It returns the
// revoked key. ErrNotFound if there is no such key, ErrConflict if it is
// revoked already.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, keyID string, at time.Time, audit ...access.AuditEvent) (APIKey, error) {
	if err := checkTenant(tenantID); err != nil {
		return APIKey{}, err
	}
	if !validKeyID(keyID) {
		return APIKey{}, fmt.Errorf("%w: API key id", ErrInvalidInput)
	}
	k, err := s.getAPIKeyByID(ctx, tenantID, keyID)
	if err != nil {
		return APIKey{}, err
	}
	if k.RevokedAt != nil {
		return APIKey{}, keyRevoked(k)
	}
	at = at.UTC()
	atAV, err := attributevalue.Marshal(at)
	if err != nil {
		return APIKey{}, fmt.Errorf("store: revoke API key: %w", err)
	}
	update := func(pk, sk string) types.TransactWriteItem {
		return types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       keyOf(pk, sk),
			UpdateExpression:          aws.String("SET #r = :at"),
			ConditionExpression:       aws.String("attribute_exists(#pk) AND attribute_not_exists(#r)"),
			ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#r": AttrRevokedAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{":at": atAV},
		}}
	}
	tx, err := s.withAudit(tenantID, []types.TransactWriteItem{
		update(apiKeysPK(tenantID), apiKeyIDSK(keyID)),
		update(apiKeyHashPK(tenantID, k.Hash), skKey),
	}, audit)
	if err != nil {
		return APIKey{}, err
	}
	err = s.transact(ctx, tx)
	if err != nil {
		if failedAt(err) < 0 {
			return APIKey{}, fmt.Errorf("store: revoke API key %s: %w", keyID, err)
		}
		// Lost a race: classify by what is there now.
		cur, gerr := s.getAPIKeyByID(ctx, tenantID, keyID)
		if gerr != nil {
			return APIKey{}, gerr
		}
		return APIKey{}, keyRevoked(cur)
	}
	k.RevokedAt = &at
	return k, nil
}

// keyRevoked is the conflict of revoking a revoked key.
func keyRevoked(k APIKey) error {
	cur := map[string]any{"revoked": true}
	if k.RevokedAt != nil {
		cur["revoked_at"] = k.RevokedAt.UTC().Format(time.RFC3339)
		return conflict(cur, "the API key is already revoked (since %s)", k.RevokedAt.UTC().Format(time.RFC3339))
	}
	return conflict(cur, "the API key is already revoked")
}

func (s *Store) getAPIKeyByID(ctx context.Context, tenantID, keyID string) (APIKey, error) {
	item, err := s.getItem(ctx, apiKeysPK(tenantID), apiKeyIDSK(keyID))
	if err != nil {
		return APIKey{}, fmt.Errorf("store: get API key %s: %w", keyID, err)
	}
	if item == nil {
		return APIKey{}, fmt.Errorf("store: API key %s: %w", keyID, ErrNotFound)
	}
	return decodeAPIKey(item)
}

// ListAPIKeys lists the tenant's keys (revoked ones included), ordered by
// key id.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID string, p Page) ([]APIKey, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	pk := apiKeysPK(tenantID)
	items, next, err := s.queryPage(ctx, tenantID, &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pk), ":sk": str(skKeyIDPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}, pk, p)
	if err != nil {
		return nil, "", fmt.Errorf("store: list API keys: %w", err)
	}
	keys := make([]APIKey, 0, len(items))
	for _, it := range items {
		k, err := decodeAPIKey(it)
		if err != nil {
			return nil, "", err
		}
		keys = append(keys, k)
	}
	return keys, next, nil
}

// TouchAPIKey records that key keyID authenticated a call at at: it sets
// the id item's last_used_at (what ListAPIKeys shows) to at, truncated to
// the second, unless the stored value is newer than at-every, so a busy key
// costs at most one write per interval however many authorizers see it.
// It never creates an item. It reports whether it wrote; a key that does
// not exist, or was touched recently, is (false, nil).
func (s *Store) TouchAPIKey(ctx context.Context, tenantID, keyID string, at time.Time, every time.Duration) (bool, error) {
	if err := checkTenant(tenantID); err != nil {
		return false, err
	}
	if !validKeyID(keyID) {
		return false, fmt.Errorf("%w: API key id", ErrInvalidInput)
	}
	// Whole seconds in UTC: fixed-width RFC 3339, so the string comparison
	// in the condition is a time comparison.
	at = at.UTC().Truncate(time.Second)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 keyOf(apiKeysPK(tenantID), apiKeyIDSK(keyID)),
		UpdateExpression:    aws.String("SET #lu = :at"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND (attribute_not_exists(#lu) OR #lu < :cutoff)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrPK, "#lu": AttrLastUsedAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":at":     str(at.Format(time.RFC3339)),
			":cutoff": str(at.Add(-every).Format(time.RFC3339)),
		},
	})
	if err != nil {
		if failedAt(err) == 0 {
			return false, nil
		}
		return false, fmt.Errorf("store: touch API key %s: %w", keyID, err)
	}
	return true, nil
}
