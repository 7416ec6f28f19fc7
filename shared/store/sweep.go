package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Overdue is one item the sweeper index (GSI5) holds: a request or grant
// of a tenant, what it is due for (access.Sweep*) and since when.
type Overdue struct {
	TenantID string
	Kind     string // access.SweepApproval, SweepProvisioning, SweepEnd, SweepRevokeRetry; DueAnchor
	Entity   string // "request" or "grant"; "chain" (DueAnchor)
	ID       string
	DueAt    time.Time
}

// ListOverdue returns the items of kind due at or before `before`, oldest
// first, at most limit (1..1000; 0: 100). It reads only overdue index
// entries (keys only), so its cost follows the overdue items, not the
// table. The index is eventually consistent: the caller re-reads each item
// (its transitions are conditional) before acting.
func (s *Store) ListOverdue(ctx context.Context, kind string, before time.Time, limit int) ([]Overdue, error) {
	if kind == "" || strings.Contains(kind, "#") {
		return nil, fmt.Errorf("%w: sweep kind %q", ErrInvalidInput, kind)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(IndexGSI5),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk <= :before"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrGSI5PK, "#sk": AttrGSI5SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(sweepPK(kind)),
			// every key of a time ≤ before sorts before "<before>#~"
			":before": str(sortTime(before) + "#~"),
		},
		ScanIndexForward: aws.Bool(true),
	}
	var out []Overdue
	for len(out) < limit {
		in.Limit = aws.Int32(int32(limit - len(out)))
		page, err := s.client.Query(ctx, in)
		if err != nil {
			return out, fmt.Errorf("store: list overdue %s: %w", kind, err)
		}
		for _, item := range page.Items {
			if o, ok := overdueOf(kind, item); ok {
				out = append(out, o)
			}
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
	return out, nil
}

// overdueOf decodes an index entry from its keys: the base PK
// T#<tenant>#REQ#<id> or T#<tenant>#GRANT#<id>, and the due time leading
// GSI5SK.
func overdueOf(kind string, item map[string]types.AttributeValue) (Overdue, bool) {
	pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
	sk, _ := item[AttrGSI5SK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil || !strings.HasPrefix(pk.Value, "T#") {
		return Overdue{}, false
	}
	rest := pk.Value[len("T#"):]
	tenant, rest, ok := strings.Cut(rest, "#")
	if !ok || !ValidTenantID(tenant) {
		return Overdue{}, false
	}
	o := Overdue{TenantID: tenant, Kind: kind}
	switch {
	case strings.HasPrefix(rest, "REQ#"):
		o.Entity, o.ID = "request", rest[len("REQ#"):]
	case strings.HasPrefix(rest, "GRANT#"):
		o.Entity, o.ID = "grant", rest[len("GRANT#"):]
	case rest == "CHAIN" && kind == DueAnchor:
		o.Entity, o.ID = "chain", skChainAnchor // the tenant's anchor-due marker
	default:
		return Overdue{}, false
	}
	if at, _, ok := strings.Cut(sk.Value, "#"); ok {
		o.DueAt, _ = time.Parse(sortTimeLayout, at)
	}
	return o, o.ID != ""
}
