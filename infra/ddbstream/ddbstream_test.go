package ddbstream_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// collector is a sink that keeps every batch it is given.
type collector struct {
	mu      sync.Mutex
	batches []lambdaevents.DynamoDBEvent
	fail    func(ev lambdaevents.DynamoDBEvent) error // nil: accept
}

func (c *collector) sink(_ context.Context, ev lambdaevents.DynamoDBEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, ev)
	if c.fail != nil {
		return c.fail(ev)
	}
	return nil
}

func (c *collector) records() []lambdaevents.DynamoDBEventRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []lambdaevents.DynamoDBEventRecord
	for _, b := range c.batches {
		out = append(out, b.Records...)
	}
	return out
}

type env struct {
	stream *ddbstream.Stream
	store  *store.Store
	client *dynamodb.Client
	table  string
}

// newEnv: the embedded DynamoDB behind a tap, a table, and a store on it.
func newEnv(t *testing.T, sink ddbstream.Sink, o ddbstream.Options) *env {
	t.Helper()
	s := ddbstream.TapWithOptions(dynamolocal.Handler(), sink, testLogger(t), o)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { srv.Close(); s.Close() })
	c := dynamolocal.Client(srv.URL)
	table := "jitsudo"
	if err := store.CreateTable(t.Context(), c, table); err != nil {
		t.Fatal(err)
	}
	return &env{stream: s, store: store.New(c, table), client: c, table: table}
}

// testLogger logs into the test's output (shown when it fails or with -v).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func flush(t *testing.T, s *ddbstream.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

type noWorkflow struct{}

func (noWorkflow) Start(context.Context, access.WorkflowInput) error { return nil }
func (noWorkflow) Resume(context.Context, string, access.WorkflowOutcome) error {
	return nil
}

// service is the real access.Service on st with one rule: every request
// needs one approval.
func service(t *testing.T, st *store.Store) *access.Service {
	t.Helper()
	r, err := policy.Normalize(policy.Rule{
		ID: "require", Name: "require", Priority: 10, Enabled: true, Effect: policy.EffectPermit,
		PrincipalScopeType: policy.ScopeAny, ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
		ResourceScopeType: policy.ScopeAny, ApprovalMode: policy.ModeRequire, ApprovalTimeout: "1h",
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := policy.Compile([]policy.Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	return &access.Service{
		Repo:     st,
		Policies: func(context.Context, string) (*policy.PolicySet, error) { return ps, nil },
		Workflow: noWorkflow{},
		Logger:   testLogger(t),
	}
}

func createTenant(t *testing.T, st *store.Store, id string) {
	t.Helper()
	err := st.CreateTenant(t.Context(), store.Tenant{ID: id, Name: id, CreatedAt: time.Now().UTC()},
		store.APIKey{ID: "k1", Name: "first", Hash: fmt.Sprintf("%064x", 1), Prefix: "jsk_k1", Scopes: []string{"requests:write"}, CreatedBy: "test", CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
}

func caller(tenant, id string) access.Caller {
	return access.Caller{TenantID: tenant, ID: id, Type: access.ActorTypeUser, Email: id + "@example.com"}
}

func createInput() access.CreateInput {
	return access.CreateInput{
		Resource: access.Resource{Type: "aws_account", ID: "111122223333"},
		Reason:   "investigate the incident", DurationSeconds: 3600,
	}
}

// TestTapEmitsCommittedTransition: a request created through the real
// service and store comes out of the tap as INSERT records of every Put of
// its transaction, and the audit record decodes to exactly the stored
// audit event (hash included).
func TestTapEmitsCommittedTransition(t *testing.T) {
	t.Parallel()
	c := &collector{}
	e := newEnv(t, c.sink, ddbstream.Options{})
	createTenant(t, e.store, "acme")
	res, err := service(t, e.store).Create(t.Context(), caller("acme", "alice"), createInput(), "")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, e.stream)

	stored, _, err := e.store.ListAudit(t.Context(), "acme", access.AuditQuery{}, access.Page{})
	if err != nil || len(stored) != 1 {
		t.Fatalf("ListAudit = %v, %v; want one event", stored, err)
	}
	var audits []access.AuditEvent
	var entities []string
	prevSeq := ""
	// Partitions are delivered concurrently: put the records in stream
	// order (per-partition order is TestOrderPerPartitionUnderConcurrency's).
	recs := c.records()
	slices.SortFunc(recs, func(a, b lambdaevents.DynamoDBEventRecord) int {
		return strings.Compare(a.Change.SequenceNumber, b.Change.SequenceNumber)
	})
	for _, r := range recs {
		if r.EventName != "INSERT" || r.EventSource != "aws:dynamodb" || r.Change.StreamViewType != "NEW_IMAGE" {
			t.Errorf("record %+v", r)
		}
		if r.Change.SequenceNumber == prevSeq {
			t.Errorf("sequence number %s twice", prevSeq)
		}
		prevSeq = r.Change.SequenceNumber
		if r.Change.Keys["PK"].String() != r.Change.NewImage["PK"].String() || r.Change.Keys["SK"].String() != r.Change.NewImage["SK"].String() {
			t.Errorf("keys %v do not match the image", r.Change.Keys)
		}
		entities = append(entities, r.Change.NewImage[store.AttrEntityType].String())
		a, ok, err := events.AuditFromStreamImage(r.Change.NewImage)
		if err != nil {
			t.Fatalf("AuditFromStreamImage: %v", err)
		}
		if ok {
			audits = append(audits, a)
		}
	}
	// CreateTenant: tenant + two API key items; Create: request, lock,
	// audit event.
	want := []string{"TENANT", "APIKEY", "APIKEY_ID", "REQUEST", "LOCK", "AUDIT"}
	if !slices.Equal(entities, want) {
		t.Fatalf("records of entities %v, want %v", entities, want)
	}
	if len(audits) != 1 {
		t.Fatalf("%d audit records", len(audits))
	}
	got := audits[0]
	if !reflect.DeepEqual(got, stored[0]) {
		t.Fatalf("stream audit event\n%+v\nstored\n%+v", got, stored[0])
	}
	if got.Hash == "" || access.AuditHash(got) != got.Hash || got.ResourceID != res.Request.ID || got.Action != access.AuditRequestCreated {
		t.Fatalf("audit event %+v (recomputed hash %s)", got, access.AuditHash(got))
	}
}

// TestFailedAndUntappedWritesNotEmitted: a write the wrapped handler
// refuses (failed condition) and writes other than Put are not emitted.
func TestFailedAndUntappedWritesNotEmitted(t *testing.T) {
	t.Parallel()
	c := &collector{}
	e := newEnv(t, c.sink, ddbstream.Options{})
	createTenant(t, e.store, "acme")
	flush(t, e.stream)
	before := len(c.records())
	if err := e.store.CreateTenant(t.Context(), store.Tenant{ID: "acme", Name: "again"}, store.APIKey{ID: "k2", Hash: fmt.Sprintf("%064x", 2)}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second CreateTenant: %v", err)
	}
	_, err := e.client.PutItem(t.Context(), &dynamodb.PutItemInput{
		TableName:           aws.String(e.table),
		Item:                map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "T#acme"}, "SK": &types.AttributeValueMemberS{Value: "TENANT"}},
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("conditional PutItem: %v", err)
	}
	if _, err := e.client.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#acme"}, "SK": &types.AttributeValueMemberS{Value: "TENANT"},
	}}); err != nil {
		t.Fatal(err)
	}
	// A last, successful put: once it is delivered nothing earlier can be
	// pending.
	if _, err := e.client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#acme"}, "SK": &types.AttributeValueMemberS{Value: "MARK"},
	}}); err != nil {
		t.Fatal(err)
	}
	flush(t, e.stream)
	recs := c.records()[before:]
	if len(recs) != 1 || recs[0].Change.NewImage["SK"].String() != "MARK" {
		t.Fatalf("records after the tenant: %+v, want only the MARK put", recs)
	}
}

// TestOrderPerPartitionUnderConcurrency: concurrent commits to one
// tenant's audit partition arrive in commit order (the stream's sequence
// numbers, assigned in commit order, ascend), whatever the interleaving:
// the order the chain extender assigns sequence numbers in.
func TestOrderPerPartitionUnderConcurrency(t *testing.T) {
	t.Parallel()
	c := &collector{}
	e := newEnv(t, c.sink, ddbstream.Options{BatchSize: 3})
	createTenant(t, e.store, "acme")
	svc := service(t, e.store)
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := svc.RecordRuleChange(t.Context(), caller("acme", "admin"), access.AuditRuleUpdated, fmt.Sprintf("rule-%d", i), nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	flush(t, e.stream)
	var seqs []string
	ids := map[string]bool{}
	for _, r := range c.records() {
		a, ok, err := events.AuditFromStreamImage(r.Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			seqs = append(seqs, r.Change.SequenceNumber)
			ids[a.ID] = true
		}
	}
	if len(seqs) != n || len(ids) != n || !slices.IsSorted(seqs) {
		t.Fatalf("audit records arrived as %v (%d distinct events), want %d in commit order", seqs, len(ids), n)
	}
	for _, b := range c.batches {
		if len(b.Records) > 3 {
			t.Fatalf("batch of %d records, BatchSize 3", len(b.Records))
		}
	}
}

// TestRetriesAndPartialFailure: a failing sink is retried until it takes
// the batch; a partial failure redelivers from the failed record on only,
// as Lambda does with ReportBatchItemFailures.
func TestRetriesAndPartialFailure(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls [][]string // SK of each call's records
	handler := func(_ context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		var sks []string
		for _, r := range ev.Records {
			sks = append(sks, r.Change.NewImage["SK"].String())
		}
		calls = append(calls, sks)
		switch len(calls) {
		case 1:
			return lambdaevents.DynamoDBEventResponse{}, errors.New("function error")
		case 2:
			return lambdaevents.DynamoDBEventResponse{BatchItemFailures: []lambdaevents.DynamoDBBatchItemFailure{
				{ItemIdentifier: ev.Records[2].Change.SequenceNumber},
				{ItemIdentifier: ev.Records[1].Change.SequenceNumber},
			}}, nil
		}
		return lambdaevents.DynamoDBEventResponse{}, nil
	}
	e := newEnv(t, ddbstream.Lambda(handler), ddbstream.Options{Backoff: time.Millisecond})
	// One transaction: its three puts are queued together, one batch.
	var tx []types.TransactWriteItem
	for _, sk := range []string{"A", "B", "C"} {
		tx = append(tx, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "P"}, "SK": &types.AttributeValueMemberS{Value: sk},
		}}})
	}
	if _, err := e.client.TransactWriteItems(t.Context(), &dynamodb.TransactWriteItemsInput{TransactItems: tx}); err != nil {
		t.Fatal(err)
	}
	flush(t, e.stream)
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"A", "B", "C"}, {"A", "B", "C"}, {"B", "C"}}
	if !reflect.DeepEqual(calls, want) || e.stream.Dropped() != 0 {
		t.Fatalf("calls %v (dropped %d), want %v", calls, e.stream.Dropped(), want)
	}
}

// TestDropAfterMaxAttempts: a sink that never takes a batch makes the
// records dropped after MaxAttempts, and Flush still returns.
func TestDropAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	c := &collector{fail: func(lambdaevents.DynamoDBEvent) error { return errors.New("down") }}
	e := newEnv(t, c.sink, ddbstream.Options{MaxAttempts: 3, Backoff: time.Millisecond})
	if _, err := e.client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "P"}, "SK": &types.AttributeValueMemberS{Value: "A"},
	}}); err != nil {
		t.Fatal(err)
	}
	flush(t, e.stream)
	if got := len(c.records()); got != 3 || e.stream.Dropped() != 1 {
		t.Fatalf("%d deliveries, %d dropped; want 3 attempts and 1 drop", got, e.stream.Dropped())
	}
}
