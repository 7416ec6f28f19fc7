package store

// The audit log: per tenant a hash chain of events under PK T#<tenant>#AUDIT,
// SK EVT#<seq, 20 digits>. An append is a Put with attribute_not_exists in
// the same transaction as the state change it records, chained after the
// head read with one consistent Query (newest first, Limit 1) — there is no
// separate head item. The hash (access.AuditHash) covers every field of the
// event but hash; the item also carries created_key (fixed-width time, for
// the from/to filter), which is derived and not hashed.

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

const attrCreatedKey = "created_key"

func auditItem(tenant string, e access.AuditEvent) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(e)
	if err != nil {
		return nil, fmt.Errorf("store: encode audit event: %w", err)
	}
	item[AttrPK], item[AttrSK] = str(auditPK(tenant)), str(auditSK(e.Seq))
	item[AttrEntityType] = str(entityAudit)
	item[attrCreatedKey] = str(sortTime(e.CreatedAt))
	return item, nil
}

// UnmarshalAuditItem decodes an item of the table as an audit event, the
// way the store reads them back: ok is false (and err nil) when the item is
// not an audit event (entity_type is not AUDIT, or its keys are not an
// audit event's), and an error means an audit item that does not decode or
// whose partition is not its own tenant's audit chain. For readers of the
// table's stream (the notification outbox), which see raw items.
func UnmarshalAuditItem(item map[string]types.AttributeValue) (access.AuditEvent, bool, error) {
	et, _ := item[AttrEntityType].(*types.AttributeValueMemberS)
	pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
	sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
	if et == nil || et.Value != entityAudit || pk == nil || sk == nil || !strings.HasSuffix(pk.Value, "#AUDIT") {
		return access.AuditEvent{}, false, nil
	}
	seq, ok := parseSeqSK(sk.Value)
	if !ok {
		return access.AuditEvent{}, false, nil
	}
	var e access.AuditEvent
	if err := attributevalue.UnmarshalMap(item, &e); err != nil {
		return access.AuditEvent{}, true, fmt.Errorf("store: decode audit event %s: %w", sk.Value, err)
	}
	if !ValidTenantID(e.TenantID) || pk.Value != auditPK(e.TenantID) || e.Seq != seq {
		return access.AuditEvent{}, true, fmt.Errorf("store: audit event at %s/%s claims tenant %q, sequence %d", pk.Value, sk.Value, e.TenantID, e.Seq)
	}
	return e, true, nil
}

// auditHead returns the sequence number and hash of the newest event (0, ""
// for an empty chain).
func (s *Store) auditHead(ctx context.Context, tenant string) (int64, string, error) {
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :evt)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(auditPK(tenant)), ":evt": str(skEventPrefix),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(1),
		ConsistentRead:   aws.Bool(true),
	})
	if err != nil {
		return 0, "", fmt.Errorf("store: audit head: %w", err)
	}
	if len(out.Items) == 0 {
		return 0, "", nil
	}
	it := out.Items[0]
	sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return 0, "", fmt.Errorf("store: audit head: no sort key")
	}
	seq, ok := parseSeqSK(sk.Value)
	if !ok {
		return 0, "", fmt.Errorf("store: audit head: bad sort key %q", sk.Value)
	}
	h, _ := it["hash"].(*types.AttributeValueMemberS)
	if h == nil {
		return 0, "", fmt.Errorf("store: audit head: event %d has no hash", seq)
	}
	return seq, h.Value, nil
}

// ListAudit lists audit events newest first (consistent), filtered by
// actor, resource, action and created_at range.
func (s *Store) ListAudit(ctx context.Context, tenantID string, q access.AuditQuery, p access.Page) ([]access.AuditEvent, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	pk := auditPK(tenantID)
	in := &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :evt)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pk), ":evt": str(skEventPrefix),
		},
		ScanIndexForward: aws.Bool(false),
		ConsistentRead:   aws.Bool(true),
	}
	var conds []string
	eq := func(attr, val string) {
		if val == "" {
			return
		}
		n := fmt.Sprintf("f%d", len(conds))
		in.ExpressionAttributeNames["#"+n] = attr
		in.ExpressionAttributeValues[":"+n] = str(val)
		conds = append(conds, "#"+n+" = :"+n)
	}
	eq("actor_id", q.ActorID)
	eq("resource_type", q.ResourceType)
	eq("resource_id", q.ResourceID)
	eq("action", q.Action)
	if q.From != nil {
		in.ExpressionAttributeNames["#ck"] = attrCreatedKey
		in.ExpressionAttributeValues[":from"] = str(sortTime(*q.From))
		conds = append(conds, "#ck >= :from")
	}
	if q.To != nil {
		in.ExpressionAttributeNames["#ck"] = attrCreatedKey
		in.ExpressionAttributeValues[":to"] = str(sortTime(*q.To))
		conds = append(conds, "#ck <= :to")
	}
	if len(conds) > 0 {
		expr := conds[0]
		for _, c := range conds[1:] {
			expr += " AND " + c
		}
		in.FilterExpression = aws.String(expr)
	}
	items, next, err := s.queryPage(ctx, tenantID, in, pk, storePage(p))
	if err != nil {
		return nil, "", fmt.Errorf("store: list audit log: %w", err)
	}
	out := make([]access.AuditEvent, 0, len(items))
	for _, it := range items {
		var e access.AuditEvent
		if err := attributevalue.UnmarshalMap(it, &e); err != nil {
			return nil, "", fmt.Errorf("store: decode audit event: %w", err)
		}
		out = append(out, e)
	}
	return out, next, nil
}

// WalkAudit reads the whole chain in sequence order (consistent, all pages).
func (s *Store) WalkAudit(ctx context.Context, tenantID string, fn func(keySeq int64, e access.AuditEvent) error) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :evt)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(auditPK(tenantID)), ":evt": str(skEventPrefix),
		},
		ConsistentRead: aws.Bool(true),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("store: walk audit log: %w", err)
		}
		for _, it := range out.Items {
			sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
			var seq int64
			if sk != nil {
				seq, _ = parseSeqSK(sk.Value)
			}
			var e access.AuditEvent
			if err := attributevalue.UnmarshalMap(it, &e); err != nil {
				// A mangled item is a broken link, not an I/O error.
				e = access.AuditEvent{Seq: -1}
			}
			if err := fn(seq, e); err != nil {
				return err
			}
		}
	}
	return nil
}
