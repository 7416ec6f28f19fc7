package store

// The audit log: one item per event under PK T#<tenant>#AUDIT, SK
// EVT#<event id> (ids begin with their creation time, so keys sort by
// time), put with attribute_not_exists in the same transaction as the
// change it records. Writers never contend: there is no sequence to claim
// on the request path. The item's hash is the event's content hash
// (access.AuditHash with seq 0 and prev_hash ""); the item also carries
// created_key (fixed-width time, for the from/to filter), which is derived
// and not hashed. The tenant's hash chain over the events (sequence
// numbers, links, MACs) lives under T#<tenant>#CHAIN (chain.go), written
// only by the chain extender (shared/audit) from the table's stream.

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
	item[AttrPK], item[AttrSK] = str(auditPK(tenant)), str(auditSK(e.ID))
	item[AttrEntityType] = str(entityAudit)
	item[attrCreatedKey] = str(sortTime(e.CreatedAt))
	return item, nil
}

// auditPuts normalizes events for storage (seq 0, no prev_hash, UTC
// time, content hash) and returns them with their put-if-absent actions.
func (s *Store) auditPuts(tenant string, events []access.AuditEvent) ([]access.AuditEvent, []types.TransactWriteItem, error) {
	if len(events) == 0 {
		return nil, nil, nil
	}
	out := make([]access.AuditEvent, len(events))
	tx := make([]types.TransactWriteItem, len(events))
	for i, e := range events {
		e, item, err := AuditEventItem(tenant, e)
		if err != nil {
			return nil, nil, err
		}
		out[i], tx[i] = e, s.putIfAbsent(item)
	}
	return out, tx, nil
}

// AuditEventItem normalizes e for storage (seq 0, no prev_hash, UTC time,
// content hash) and returns it with its table item — what Commit writes
// for it. Exported for bulk loads (the verify benchmark); the request
// path writes events only through Commit.
func AuditEventItem(tenant string, e access.AuditEvent) (access.AuditEvent, map[string]types.AttributeValue, error) {
	if e.TenantID != tenant || !validItemID(e.ID) || strings.Contains(e.ID, "#") {
		return e, nil, fmt.Errorf("%w: audit event tenant/id", ErrInvalidInput)
	}
	e.Seq, e.PrevHash = 0, ""
	e.CreatedAt = e.CreatedAt.UTC()
	e.Metadata = access.NormalizeMetadata(e.Metadata)
	e.Hash = access.AuditHash(e)
	item, err := auditItem(tenant, e)
	return e, item, err
}

// CommitAudit writes events alone (a change with nothing else to write,
// such as a drift report or a channel test), atomically.
func (s *Store) CommitAudit(ctx context.Context, tenantID string, events ...access.AuditEvent) error {
	_, err := s.Commit(ctx, tenantID, access.Change{Audit: events})
	return err
}

// withAudit appends the audit puts of events (of tenant) to tx, for the
// store's own privileged writes (keys, tenants, rules, settings, channels).
func (s *Store) withAudit(tenant string, tx []types.TransactWriteItem, events []access.AuditEvent) ([]types.TransactWriteItem, error) {
	_, puts, err := s.auditPuts(tenant, events)
	if err != nil {
		return nil, err
	}
	if len(tx)+len(puts) > maxTransactItems {
		return nil, fmt.Errorf("%w: change has more than %d items", ErrInvalidInput, maxTransactItems)
	}
	return append(tx, puts...), nil
}

// UnmarshalAuditItem decodes an item of the table as an audit event, the
// way the store reads them back: ok is false (and err nil) when the item is
// not an audit event (entity_type is not AUDIT, or its keys are not an
// audit event's), and an error means an audit item that does not decode or
// whose keys are not its own (tenant's audit partition, EVT#<its id>). For
// readers of the table's stream (the notification outbox, the chain
// extender), which see raw items.
func UnmarshalAuditItem(item map[string]types.AttributeValue) (access.AuditEvent, bool, error) {
	et, _ := item[AttrEntityType].(*types.AttributeValueMemberS)
	pk, _ := item[AttrPK].(*types.AttributeValueMemberS)
	sk, _ := item[AttrSK].(*types.AttributeValueMemberS)
	if et == nil || et.Value != entityAudit || pk == nil || sk == nil || !strings.HasSuffix(pk.Value, "#AUDIT") || !strings.HasPrefix(sk.Value, skEventPrefix) {
		return access.AuditEvent{}, false, nil
	}
	var e access.AuditEvent
	if err := attributevalue.UnmarshalMap(item, &e); err != nil {
		return access.AuditEvent{}, true, fmt.Errorf("store: decode audit event %s: %w", sk.Value, err)
	}
	if !ValidTenantID(e.TenantID) || pk.Value != auditPK(e.TenantID) || sk.Value != auditSK(e.ID) {
		return access.AuditEvent{}, true, fmt.Errorf("store: audit event at %s/%s claims tenant %q, id %q", pk.Value, sk.Value, e.TenantID, e.ID)
	}
	return e, true, nil
}

// GetAuditEvents reads the events with the given ids (consistent,
// BatchGetItem in groups of 100); missing ids are absent from the map.
func (s *Store) GetAuditEvents(ctx context.Context, tenantID string, ids []string) (map[string]access.AuditEvent, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	out := make(map[string]access.AuditEvent, len(ids))
	for start := 0; start < len(ids); start += 100 {
		end := min(start+100, len(ids))
		seen := map[string]bool{}
		var keys []map[string]types.AttributeValue
		for _, id := range ids[start:end] {
			if seen[id] || !validItemID(id) {
				continue
			}
			seen[id] = true
			keys = append(keys, keyOf(auditPK(tenantID), auditSK(id)))
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req) > 0 && len(req[s.table].Keys) > 0; attempt++ {
			if attempt > 8 {
				return nil, fmt.Errorf("store: get audit events: unprocessed keys persisted")
			}
			res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("store: get audit events: %w", err)
			}
			for _, it := range res.Responses[s.table] {
				e, ok, err := UnmarshalAuditItem(it)
				if err != nil || !ok {
					continue // a mangled item reads as missing: a broken link for verify
				}
				out[e.ID] = e
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// AuditEventsAfter reads up to limit events in key (time) order after the
// event id afterID ("" = from the first): the chain extender's catch-up
// path. next is the last id read ("" when there are no more).
func (s *Store) AuditEventsAfter(ctx context.Context, tenantID, afterID string, limit int) ([]access.AuditEvent, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :evt)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(auditPK(tenantID)), ":evt": str(skEventPrefix),
		},
		ConsistentRead: aws.Bool(true),
		Limit:          aws.Int32(int32(limit)),
	}
	if afterID != "" {
		in.ExclusiveStartKey = keyOf(auditPK(tenantID), auditSK(afterID))
	}
	res, err := s.client.Query(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("store: audit events after %s: %w", afterID, err)
	}
	var out []access.AuditEvent
	for _, it := range res.Items {
		e, ok, err := UnmarshalAuditItem(it)
		if err != nil {
			return nil, "", err
		}
		if ok {
			out = append(out, e)
		}
	}
	next := ""
	if len(res.LastEvaluatedKey) > 0 && len(out) > 0 {
		next = out[len(out)-1].ID
	}
	return out, next, nil
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
