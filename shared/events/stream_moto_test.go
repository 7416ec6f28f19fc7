package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// The stream consumers against a real Streams API: moto's DynamoDB with
// the table's stream as template.yaml configures it (NEW_IMAGE), read
// with ddbstream.ReadStream (DescribeStream, GetShardIterator,
// GetRecords). minidyn serves no Streams API, so the embedded stack keeps
// ddbstream.Tap; TestTapMatchesMotoStream proves it delivers the same
// records as moto for what the consumers are given on AWS.

// motoStreamStore is a store on a fresh moto table whose stream is
// enabled, and a function reading the stream so far.
func motoStreamStore(t *testing.T) (*store.Store, func() []lambdaevents.DynamoDBEventRecord) {
	t.Helper()
	ctx := within(t, 60*time.Second)
	endpoint := mototest.Endpoint(t)
	c := dynamolocal.Client(endpoint)
	table := mototest.Name("jt-stream")
	if err := store.CreateTable(ctx, c, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	out, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(table),
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.TableDescription.LatestStreamArn)
	sc := dynamodbstreams.New(dynamodbstreams.Options{Region: mototest.Region, BaseEndpoint: aws.String(endpoint), Credentials: wiring.LocalCredentials})
	return store.New(c, table), func() []lambdaevents.DynamoDBEventRecord {
		t.Helper()
		recs, err := ddbstream.ReadStream(within(t, 30*time.Second), sc, arn)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
}

// tapStore is a store on the embedded DynamoDB behind ddbstream.Tap, and
// the records the tap delivered so far.
func tapStore(t *testing.T) (*store.Store, func() []lambdaevents.DynamoDBEventRecord) {
	t.Helper()
	var mu sync.Mutex
	var recs []lambdaevents.DynamoDBEventRecord
	st, stream := tappedStore(t, func(_ context.Context, ev lambdaevents.DynamoDBEvent) error {
		mu.Lock()
		defer mu.Unlock()
		recs = append(recs, ev.Records...)
		return nil
	})
	return st, func() []lambdaevents.DynamoDBEventRecord {
		flush(t, stream)
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(recs)
	}
}

// auditInsert is the event source mappings' filter in template.yaml
// ({"eventName":["INSERT"],"dynamodb":{"NewImage":{"entity_type":{"S":["AUDIT"]}}}}).
func auditInsert(r lambdaevents.DynamoDBEventRecord) bool {
	et, ok := r.Change.NewImage["entity_type"]
	return r.EventName == "INSERT" && ok && et.DataType() == lambdaevents.DataTypeString && et.String() == "AUDIT"
}

// streamWrites makes the same writes on st, with
// fixed ids and times: a rule created, updated and deleted, each with its
// audit event, for two new tenants.
func streamWrites(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := within(t, 30*time.Second)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := func(tenant, id, action string) access.AuditEvent {
		return access.AuditEvent{ID: id, TenantID: tenant, ActorID: "root", ActorType: access.ActorTypeUser, Action: action,
			ResourceType: "rule", ResourceID: "r1", Severity: access.SeverityInfo, Metadata: map[string]any{"n": 1, "why": "test"}, CreatedAt: at}
	}
	for i, tenant := range []string{acme, globex} {
		k := store.APIKey{ID: "k1", Name: "first", Hash: fmt.Sprintf("%064x", i+1), Prefix: "jsk_k1", Scopes: []string{"requests:write"}, CreatedBy: "test", CreatedAt: at}
		if err := st.CreateTenant(ctx, store.Tenant{ID: tenant, Name: tenant, CreatedAt: at}, k); err != nil {
			t.Fatal(err)
		}
		r, err := policy.Normalize(policy.Rule{ID: "r1", Name: "r1", Enabled: true, Priority: 10, Effect: policy.EffectPermit,
			PrincipalScopeType: policy.ScopeAny, ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
			ResourceScopeType: policy.ScopeAny, ApprovalMode: policy.ModeAuto})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.CreateRule(ctx, tenant, r, at, ev(tenant, "aud_"+tenant+"_1", access.AuditRuleCreated))
		if err != nil {
			t.Fatal(err)
		}
		r.Priority = 20
		if _, err := st.UpdateRule(ctx, tenant, r, rec.Revision, at.Add(time.Minute), ev(tenant, "aud_"+tenant+"_2", access.AuditRuleUpdated)); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteRule(ctx, tenant, "r1", ev(tenant, "aud_"+tenant+"_3", access.AuditRuleDeleted)); err != nil {
			t.Fatal(err)
		}
	}
}

// change is what a consumer reads of a record.
type change struct {
	EventName string
	Tenant    string // the new image's tenant_id
	Keys      string
	NewImage  string
	ViewType  string
}

func changes(t *testing.T, recs []lambdaevents.DynamoDBEventRecord) []change {
	t.Helper()
	out := make([]change, 0, len(recs))
	for _, r := range recs {
		k, err := json.Marshal(r.Change.Keys)
		if err != nil {
			t.Fatal(err)
		}
		n, err := json.Marshal(r.Change.NewImage)
		if err != nil {
			t.Fatal(err)
		}
		var tenant string
		if v, ok := r.Change.NewImage["tenant_id"]; ok && v.DataType() == lambdaevents.DataTypeString {
			tenant = v.String()
		}
		out = append(out, change{r.EventName, tenant, string(k), string(n), r.Change.StreamViewType})
	}
	return out
}

// TestTapMatchesMotoStream: for the same writes, ddbstream.Tap delivers
// exactly the records moto's stream has that pass the consumers' filter
// (audit inserts: same event name, keys, new image, view type, order);
// moto's stream also has the MODIFY and REMOVE records the filter drops,
// which Tap does not emit.
func TestTapMatchesMotoStream(t *testing.T) {
	t.Parallel()
	motoSt, motoRecs := motoStreamStore(t)
	tapSt, tapRecs := tapStore(t)
	streamWrites(t, motoSt)
	streamWrites(t, tapSt)
	moto, tap := motoRecs(), tapRecs()

	names := map[string]int{}
	for _, r := range moto {
		names[r.EventName]++
		if r.Change.StreamViewType != "NEW_IMAGE" || r.Change.SequenceNumber == "" || len(r.Change.Keys) != 2 || r.Change.OldImage != nil {
			t.Errorf("moto record %+v", r)
		}
		if (r.EventName == "REMOVE") != (r.Change.NewImage == nil) {
			t.Errorf("moto %s record with new image %v", r.EventName, r.Change.NewImage)
		}
	}
	if names["INSERT"] == 0 || names["MODIFY"] == 0 || names["REMOVE"] == 0 {
		t.Fatalf("moto's stream: %v, want INSERT, MODIFY and REMOVE records", names)
	}
	t.Logf("moto's stream: %v; the tap delivered %d records", names, len(tap))

	want := changes(t, slices.DeleteFunc(slices.Clone(moto), func(r lambdaevents.DynamoDBEventRecord) bool { return !auditInsert(r) }))
	got := changes(t, slices.DeleteFunc(slices.Clone(tap), func(r lambdaevents.DynamoDBEventRecord) bool { return !auditInsert(r) }))
	if len(want) != 6 {
		t.Fatalf("moto: %d audit inserts, want 6: %+v", len(want), want)
	}
	// moto's stream has one shard per table, Tap delivers per partition
	// key: compare each tenant's records in order.
	for _, tenant := range []string{acme, globex} {
		of := func(cs []change) []change {
			return slices.DeleteFunc(slices.Clone(cs), func(c change) bool { return c.Tenant != tenant })
		}
		w, g := of(want), of(got)
		if !slices.Equal(w, g) {
			t.Errorf("tenant %s: tap delivered\n%+v\nmoto's stream has\n%+v", tenant, g, w)
		}
	}
	// Every other record the tap emits is an INSERT of an item moto also
	// streamed (as INSERT or, for a replacing Put, MODIFY).
	motoImages := map[string]bool{}
	for _, c := range changes(t, moto) {
		motoImages[c.Keys+c.NewImage] = true
	}
	for _, c := range changes(t, tap) {
		if c.EventName != "INSERT" || !motoImages[c.Keys+c.NewImage] {
			t.Errorf("tap record %+v not in moto's stream", c)
		}
	}
}

// TestConsumersOnMotoStream: the relay-outbox publish half (events.Relay) and the audit chain
// extender, given moto's stream records of real transitions unfiltered
// (INSERT, MODIFY and REMOVE), do what they do with the filtered records
// on AWS: one notification per notified audit event, each tenant's chain
// complete and valid; records that are not audit inserts change nothing.
func TestConsumersOnMotoStream(t *testing.T) {
	t.Parallel()
	st, read := motoStreamStore(t)
	ctx := within(t, 90*time.Second)
	client, topic := motoSNS(t)
	inboxes := map[string]*goaws.Inbox{}
	for _, tenant := range []string{acme, globex} {
		in := goaws.NewInbox()
		srv := httptest.NewServer(in)
		t.Cleanup(srv.Close)
		if _, err := (snspub.Subscriptions{Client: client}).SubscribeHTTP(ctx, topic, srv.URL, tenant, nil); err != nil {
			t.Fatal(err)
		}
		inboxes[tenant] = in
	}

	svc := setupTenant(t, st, acme, globex)
	res, err := svc.Create(ctx, user(acme, "alice"), input(acctReq), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, user(acme, "bob", "approvers"), res.Request.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	res2, err := svc.Create(ctx, user(globex, "gina"), input(acctReq), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Cancel(ctx, user(globex, "gina"), res2.Request.ID); err != nil {
		t.Fatal(err)
	}

	// A bare delete: a REMOVE record among them.
	if err := st.DeleteRule(ctx, globex, "frozen"); err != nil {
		t.Fatal(err)
	}

	recs := read()
	names := map[string]int{}
	for _, r := range recs {
		names[r.EventName]++
	}
	if names["INSERT"] == 0 || names["MODIFY"] == 0 || names["REMOVE"] == 0 {
		t.Fatalf("moto's stream: %v, want INSERT, MODIFY and REMOVE records", names)
	}
	t.Logf("moto's stream: %v", names)
	ev := lambdaevents.DynamoDBEvent{Records: recs}

	relay := &events.Relay{Loader: st, Rules: events.RuleChannels{Rules: st}, Links: events.NewLinks(apiBase),
		Publisher: snspub.NewPublisher(client, topic), Logger: testLogger(t)}
	if resp, err := outbox.New(nil, outbox.Named{Name: "test", Half: relay}).HandleStream(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("relay: %+v, %v", resp, err)
	}
	signer := audit.HMACSigner{Key: []byte("stream-tests-chain-key-32-bytes!")}
	anchors := audit.DirAnchors{Dir: t.TempDir()}
	ext := &audit.Extender{Repo: st, Signer: signer, Anchors: anchors, Logger: testLogger(t)}
	for range 2 { // a redelivered batch appends nothing twice
		if resp, err := ext.HandleStream(ctx, ev); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("extender: %+v, %v", resp, err)
		}
	}

	m := events.Mapper{Loader: st, Rules: events.RuleChannels{Rules: st}, Links: events.NewLinks(apiBase)}
	verifier := &audit.Verifier{Repo: st, Signer: signer, Anchors: anchors}
	for _, tenant := range []string{acme, globex} {
		log, _, err := st.ListAudit(ctx, tenant, access.AuditQuery{}, access.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, a := range log {
			if _, ok, err := m.Event(ctx, a); err != nil {
				t.Fatal(err)
			} else if ok {
				want = append(want, a.ID)
			}
		}
		var got []string
		for _, n := range inboxes[tenant].Notifications() {
			got = append(got, decode(t, n).ID)
		}
		slices.Sort(want)
		slices.Sort(got)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s: notified %v, want %v", tenant, got, want)
		}
		t.Logf("%s: %d audit events, %d notified", tenant, len(log), len(got))
		res, err := audit.VerifyAll(ctx, verifier, tenant, access.VerifyOptions{Genesis: true})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Valid || res.HeadSeq != int64(len(log)) {
			t.Errorf("%s: chain %+v, want valid with %d entries", tenant, res, len(log))
		}
	}
}
