// Package store keeps jitsudo's state in one DynamoDB table (see keys.go for
// the table design). Every method takes the tenant first, rejects invalid
// tenant ids, and maps failed conditions onto ErrConflict / ErrNotFound.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Store is the DynamoDB-backed store. It is safe for concurrent use.
type Store struct {
	client  *dynamodb.Client
	table   string
	cursors *cursorCodec
}

// New returns a Store on table, using client. Its list cursors are sealed
// under a random key of this process until SetCursorSecret gives it the
// deployment's (wiring.Store does): enough for tests and a one-process stack,
// not for several functions that must open each other's cursors.
func New(client *dynamodb.Client, table string) *Store {
	return &Store{client: client, table: table, cursors: randomCursorCodec()}
}

// SetCursorSecret makes the store seal list cursors under a key derived
// from secret (at least MinCursorSecretLen bytes), so that every function
// of a deployment opens the cursors any of them issued. Call it before the
// store is used.
func (s *Store) SetCursorSecret(secret []byte) error {
	c, err := newCursorCodec(secret)
	if err != nil {
		return err
	}
	s.cursors = c
	return nil
}

// NewClient builds a DynamoDB client from cfg (wiring.AWSConfig). When
// cfg has a BaseEndpoint (DynamoDB Local, the embedded server, a VPC
// endpoint), responses are not checked for X-Amz-Crc32: local stand-ins
// (minidyn) send none, and real DynamoDB behind a custom endpoint is still
// protected by TLS.
func NewClient(cfg aws.Config) *dynamodb.Client {
	if cfg.BaseEndpoint == nil {
		return dynamodb.NewFromConfig(cfg)
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
}

// Table is the table name the store uses.
func (s *Store) Table() string { return s.table }

// maxTransactItems is DynamoDB's limit on actions per TransactWriteItems.
const maxTransactItems = 100

// transact runs one TransactWriteItems. Cancellations caused only by
// contention (TransactionConflict, throttling) are retried with jittered
// backoff — every rule write touches the tenant item, so concurrent rule
// writes of one tenant conflict on real DynamoDB. Each attempt gets a fresh
// idempotency token from the SDK. If contention outlasts the retries the
// error wraps ErrConflict (the caller may retry later). Other errors are
// returned unchanged, for the caller to classify with failedAt.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	backoff := 10 * time.Millisecond
	const attempts = 10
	var err error
	for i := 0; i < attempts; i++ {
		_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil || !contentionOnly(err) {
			return err
		}
		d := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(d):
		}
		if backoff < 500*time.Millisecond {
			backoff *= 2
		}
	}
	return fmt.Errorf("store: %w: transaction contention persisted: %w", ErrConflict, err)
}

// contentionOnly reports whether err is a cancelled transaction whose only
// reasons are contention (worth retrying as is).
func contentionOnly(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	retry := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded":
			retry = true
		default:
			return false
		}
	}
	return retry
}

// failedAt returns the index of the first transaction action whose condition
// failed, or -1 when err is not a condition failure. A plain
// ConditionalCheckFailedException (single-item write) reports index 0.
func failedAt(err error) int {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return i
			}
		}
		return -1
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return 0
	}
	return -1
}

// bumpRuleSetVersion is the transaction action every rule write carries:
// ADD 1 to the tenant's rule_set_version, only if the tenant exists.
func (s *Store) bumpRuleSetVersion(tenant string) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:           aws.String(s.table),
		Key:                 keyOf(tenantPK(tenant), skTenant),
		UpdateExpression:    aws.String("ADD #v :one"),
		ConditionExpression: aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{
			"#v": AttrRuleSetVersion, "#pk": AttrPK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"},
		},
	}}
}

// queryPage runs a paginated Query of one partition. in must set
// KeyConditionExpression etc.; queryPage sets Limit and ExclusiveStartKey.
// It returns at most the page limit of items and a cursor that is non-empty
// only if more items exist (it reads one item ahead, so has_more is exact).
func (s *Store) queryPage(ctx context.Context, tenant string, in *dynamodb.QueryInput, partition string, p Page) ([]map[string]types.AttributeValue, string, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	start, err := s.cursors.decode(tenant, p.Viewer, p.Cursor)
	if err != nil {
		return nil, "", err
	}
	index := aws.ToString(in.IndexName)
	if err := cursorFitsQuery(start, index, partition); err != nil {
		return nil, "", err
	}
	in.TableName = aws.String(s.table)
	in.ExclusiveStartKey = start
	var items []map[string]types.AttributeValue
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(items)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, "", err
		}
		items = append(items, out.Items...)
		if len(items) > limit || len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if len(items) <= limit {
		return items, "", nil
	}
	items = items[:limit]
	last := items[limit-1]
	key := map[string]types.AttributeValue{AttrPK: last[AttrPK], AttrSK: last[AttrSK]}
	if index != "" {
		ia := indexKeyAttrs[index]
		key[ia[0]], key[ia[1]] = last[ia[0]], last[ia[1]]
	}
	next, err := s.cursors.encode(tenant, p.Viewer, key)
	if err != nil {
		return nil, "", err
	}
	return items, next, nil
}

// queryAll reads every item of a query (all pages).
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput) ([]map[string]types.AttributeValue, error) {
	in.TableName = aws.String(s.table)
	var items []map[string]types.AttributeValue
	p := dynamodb.NewQueryPaginator(s.client, in)
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
	}
	return items, nil
}

// getItem is a consistent GetItem; a missing item is (nil, nil).
func (s *Store) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            keyOf(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: fmt.Sprint(v)}
}

// timeString is how the store writes times: UTC RFC3339 with nanoseconds,
// which sorts lexically.
func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
