package store

// The audit hash chain: per tenant, under PK T#<tenant>#CHAIN, one entry
// per audit event in commit order (SK SEQ#<seq, 20 digits>) and one
// reference per chained event (SK REF#<event id> → seq). Only the chain
// extender (shared/audit, the extend-audit-chain function) writes here; in
// AWS the API functions' IAM policies deny writes to these partitions
// (dynamodb:LeadingKeys "T#*#CHAIN"). An append is one transaction of
// put-if-absent entries and references: two extenders racing for the same
// seq, or chaining the same event twice, cannot both win.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ChainEntry is one link of a tenant's audit chain. Hash covers
// tenant_id, seq, event_id, event_hash and prev_hash (audit.EntryHash);
// MAC (hex), when set, authenticates the entry's hash with the chain key
// (the extender sets it on the last entry of every append).
type ChainEntry struct {
	TenantID  string    `dynamodbav:"tenant_id" json:"tenant_id"`
	Seq       int64     `dynamodbav:"seq" json:"seq"`
	EventID   string    `dynamodbav:"event_id" json:"event_id"`
	EventHash string    `dynamodbav:"event_hash" json:"event_hash"`
	PrevHash  string    `dynamodbav:"prev_hash" json:"prev_hash"`
	Hash      string    `dynamodbav:"hash" json:"hash"`
	MAC       string    `dynamodbav:"mac,omitempty" json:"mac,omitempty"`
	KeyID     string    `dynamodbav:"key_id,omitempty" json:"key_id,omitempty"`
	ChainedAt time.Time `dynamodbav:"chained_at" json:"chained_at"`
}

// ErrChainConflict: an append lost a race (the seq or an event's reference
// exists already); re-read the head and the references and retry.
var ErrChainConflict = errors.New("store: audit chain append conflict")

// MaxChainAppend is the most entries one AppendChain takes (two items each
// in one transaction, plus the anchor-due marker).
const MaxChainAppend = (maxTransactItems - 1) / 2

// DueAnchor is the sweeper index's kind (GSI5PK DUE#anchor) of the
// anchor-due markers: one item per tenant whose chain head is not
// anchored yet (PK T#<tenant>#CHAIN, SK ANCHOR; GSI5SK <due>#<tenant>#ANCHOR,
// head_seq). AppendChain sets it, keeping the first due time;
// AnchoredChain removes it once an anchor covers head_seq. Idle tenants'
// heads are found through it, at a cost proportional to the tenants due,
// not to the table or to all tenants.
const DueAnchor = "anchor"

const (
	skChainAnchor = "ANCHOR"
	attrHeadSeq   = "head_seq"
	entityAnchor  = "ANCHOR_DUE"
)

// ChainHead returns the newest entry of the tenant's chain (ok false for
// an empty chain).
func (s *Store) ChainHead(ctx context.Context, tenantID string) (ChainEntry, bool, error) {
	if err := checkTenant(tenantID); err != nil {
		return ChainEntry{}, false, err
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :seq)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(chainPK(tenantID)), ":seq": str(skChainSeqPrefix),
		},
		ScanIndexForward: aws.Bool(false),
		Limit:            aws.Int32(1),
		ConsistentRead:   aws.Bool(true),
	})
	if err != nil {
		return ChainEntry{}, false, fmt.Errorf("store: chain head: %w", err)
	}
	if len(out.Items) == 0 {
		return ChainEntry{}, false, nil
	}
	e, err := decodeChainEntry(out.Items[0])
	return e, err == nil, err
}

func decodeChainEntry(it map[string]types.AttributeValue) (ChainEntry, error) {
	var e ChainEntry
	sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
	if sk == nil {
		return e, fmt.Errorf("store: chain entry without sort key")
	}
	keySeq, ok := parseSeqSK(sk.Value)
	if !ok {
		return e, fmt.Errorf("store: chain entry with bad sort key %q", sk.Value)
	}
	if err := attributevalue.UnmarshalMap(it, &e); err != nil {
		// A mangled entry is a broken link (seq -1), not an I/O error.
		return ChainEntry{Seq: -1, TenantID: "?"}, nil
	}
	if e.Seq != keySeq {
		e.Seq = -keySeq // claims another seq than its key: a broken link
	}
	return e, nil
}

// ChainRange reads up to limit entries with seq ≥ from, in seq order
// (consistent). A stored entry whose seq differs from its key is returned
// with Seq set to minus its key's seq.
func (s *Store) ChainRange(ctx context.Context, tenantID string, from int64, limit int) ([]ChainEntry, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	p := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(chainPK(tenantID)), ":from": str(chainSeqSK(from)), ":to": str(chainSeqSK(1 << 62)),
		},
		ConsistentRead: aws.Bool(true),
		Limit:          aws.Int32(int32(min(limit, 1000))),
	})
	var out []ChainEntry
	for p.HasMorePages() && len(out) < limit {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: chain range: %w", err)
		}
		for _, it := range page.Items {
			if len(out) >= limit {
				break
			}
			e, err := decodeChainEntry(it)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// ChainedEvents returns, of ids, the ones already chained (id → seq).
func (s *Store) ChainedEvents(ctx context.Context, tenantID string, ids []string) (map[string]int64, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for start := 0; start < len(ids); start += 100 {
		end := min(start+100, len(ids))
		seen := map[string]bool{}
		var keys []map[string]types.AttributeValue
		for _, id := range ids[start:end] {
			if !seen[id] {
				seen[id] = true
				keys = append(keys, keyOf(chainPK(tenantID), chainRefSK(id)))
			}
		}
		req := map[string]types.KeysAndAttributes{s.table: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for attempt := 0; len(req[s.table].Keys) > 0; attempt++ {
			if attempt > 8 {
				return nil, fmt.Errorf("store: chained events: unprocessed keys persisted")
			}
			res, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, fmt.Errorf("store: chained events: %w", err)
			}
			for _, it := range res.Responses[s.table] {
				var ref struct {
					EventID string `dynamodbav:"event_id"`
					Seq     int64  `dynamodbav:"seq"`
				}
				if err := attributevalue.UnmarshalMap(it, &ref); err == nil && ref.EventID != "" {
					out[ref.EventID] = ref.Seq
				}
			}
			req = res.UnprocessedKeys
		}
	}
	return out, nil
}

// AppendChain writes entries (consecutive seqs) and their references in
// one transaction, each put only if absent, and marks the tenant's head
// as due for an anchor at anchorDue. A lost race → ErrChainConflict.
func (s *Store) AppendChain(ctx context.Context, tenantID string, entries []ChainEntry, anchorDue time.Time) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if len(entries) > MaxChainAppend {
		return fmt.Errorf("%w: more than %d chain entries", ErrInvalidInput, MaxChainAppend)
	}
	tx := make([]types.TransactWriteItem, 0, 2*len(entries))
	for _, e := range entries {
		item, ref, err := ChainEntryItems(tenantID, e)
		if err != nil {
			return err
		}
		tx = append(tx, s.putIfAbsent(item), s.putIfAbsent(ref))
	}
	// The marker is put whole (not updated with if_not_exists): each
	// append moves the due time to its own anchorDue. A tenant that keeps
	// appending is anchored by the extender itself once its latest anchor
	// is AnchorInterval old; one that stops is due AnchorInterval after
	// its last append. (The embedded DynamoDB also mis-indexes items an
	// UpdateItem creates.)
	tx = append(tx, types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrPK: str(chainPK(tenantID)), AttrSK: str(skChainAnchor), AttrEntityType: str(entityAnchor),
			AttrTenantID: str(tenantID), attrHeadSeq: num(entries[len(entries)-1].Seq),
			AttrGSI5PK: str(sweepPK(DueAnchor)), AttrGSI5SK: str(sweepSK(anchorDue, tenantID, skChainAnchor)),
		},
	}})
	err := s.transact(ctx, tx)
	if err == nil {
		return nil
	}
	if failedAt(err) >= 0 {
		return fmt.Errorf("%w: %w", ErrChainConflict, err)
	}
	return fmt.Errorf("store: append chain: %w", err)
}

// ChainEntryItems returns the table items of a chain entry: the entry
// (SK SEQ#<seq>) and its event's reference (SK REF#<event id>) — what
// AppendChain writes. Exported for bulk loads (the verify benchmark).
func ChainEntryItems(tenantID string, e ChainEntry) (entry, ref map[string]types.AttributeValue, err error) {
	if e.TenantID != tenantID || !validItemID(e.EventID) {
		return nil, nil, fmt.Errorf("%w: chain entry tenant/event", ErrInvalidInput)
	}
	entry, err = attributevalue.MarshalMap(e)
	if err != nil {
		return nil, nil, fmt.Errorf("store: encode chain entry: %w", err)
	}
	entry[AttrPK], entry[AttrSK], entry[AttrEntityType] = str(chainPK(tenantID)), str(chainSeqSK(e.Seq)), str(entityChain)
	ref = map[string]types.AttributeValue{
		AttrPK: str(chainPK(tenantID)), AttrSK: str(chainRefSK(e.EventID)), AttrEntityType: str(entityChainRef),
		AttrTenantID: str(tenantID), "event_id": str(e.EventID), "seq": num(e.Seq),
	}
	return entry, ref, nil
}

// AnchoredChain records that an anchor covers the tenant's chain up to
// seq: the anchor-due marker goes, unless entries past seq were appended
// meanwhile (then it stays, with its due time: their anchor is due).
func (s *Store) AnchoredChain(ctx context.Context, tenantID string, seq int64) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       keyOf(chainPK(tenantID), skChainAnchor),
		ConditionExpression:       aws.String("#hs <= :seq"),
		ExpressionAttributeNames:  map[string]string{"#hs": attrHeadSeq},
		ExpressionAttributeValues: map[string]types.AttributeValue{":seq": num(seq)},
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("store: anchored chain of %s: %w", tenantID, err)
	}
	return nil
}
