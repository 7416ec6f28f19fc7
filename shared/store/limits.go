package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// Abuse limits (docs/limits.md).
//
// Rate windows: one item per (principal, kind, fixed window) under the
// principal's rate partition (ratePK, rateSK). TakeRate is one UpdateItem
// that adds 1 to the window's count only while it is below the limit: a
// refused call writes nothing, and of any number of parallel calls exactly
// the limit succeed. The item expires through the table's TTL a window
// after its window ended (locally, without TTL, it stays: harmless, the
// next window has its own item).
//
// Message count: one item beside the request (COUNT#MSG) counts its posted
// messages; Commit adds the messages of a Change with MessageCap to it in
// the same transaction, on the condition that the sum stays within the
// cap. It is a separate item, not an attribute of the request item: every
// decision rewrites the request item whole (versioned Put), which would
// drop the count, and messages must not move the request's version.

// TakeRate implements access.RateLimiter.
func (s *Store) TakeRate(ctx context.Context, tenantID, kind, principalID string, r access.Rate, now time.Time) (bool, error) {
	if err := checkTenant(tenantID); err != nil {
		return false, err
	}
	if kind == "" || principalID == "" || r.Max <= 0 {
		return false, fmt.Errorf("%w: rate limit kind, principal and max", ErrInvalidInput)
	}
	start, end := r.WindowAt(now)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 keyOf(ratePK(tenantID, principalID), rateSK(kind, start)),
		UpdateExpression:    aws.String("ADD #n :one SET #ttl = :ttl, #et = :et, #tid = :tid"),
		ConditionExpression: aws.String("attribute_not_exists(#n) OR #n < :max"),
		ExpressionAttributeNames: map[string]string{
			"#n": "count", "#ttl": AttrTTL, "#et": AttrEntityType, "#tid": AttrTenantID,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":max": num(r.Max),
			":ttl": num(end.Add(end.Sub(start)).Unix()), ":et": str(entityRate), ":tid": str(tenantID),
		},
	})
	if failedAt(err) == 0 {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: rate limit %s: %w", kind, err)
	}
	return true, nil
}

// messageCapItem is the transaction action that counts n posted messages
// against the request's cap.
func (s *Store) messageCapItem(tenant string, c access.MessageCap, n int) (types.TransactWriteItem, error) {
	if !validItemID(c.RequestID) || c.Max <= 0 || int64(n) > c.Max {
		return types.TransactWriteItem{}, fmt.Errorf("%w: message cap request id and max", ErrInvalidInput)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:           aws.String(s.table),
		Key:                 keyOf(requestPK(tenant, c.RequestID), skMsgCount),
		UpdateExpression:    aws.String("ADD #n :n SET #et = :et, #tid = :tid"),
		ConditionExpression: aws.String("attribute_not_exists(#n) OR #n <= :room"),
		ExpressionAttributeNames: map[string]string{
			"#n": "count", "#et": AttrEntityType, "#tid": AttrTenantID,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":n": num(int64(n)), ":room": num(c.Max - int64(n)), ":et": str(entityMsgCount), ":tid": str(tenant),
		},
	}}, nil
}

// MessageCount reads how many messages were posted on a request (the
// capped count; 0 when none).
func (s *Store) MessageCount(ctx context.Context, tenantID, requestID string) (int64, error) {
	if err := checkTenant(tenantID); err != nil {
		return 0, err
	}
	item, err := s.getItem(ctx, requestPK(tenantID, requestID), skMsgCount)
	if err != nil {
		return 0, fmt.Errorf("store: message count: %w", err)
	}
	var n int64
	if v, ok := item["count"].(*types.AttributeValueMemberN); ok {
		if _, err := fmt.Sscan(v.Value, &n); err != nil {
			return 0, fmt.Errorf("store: message count: %w", err)
		}
	}
	return n, nil
}
