package events_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// tappedStore is a store on the embedded DynamoDB behind a stream tap
// feeding sink.
func tappedStore(t *testing.T, sink ddbstream.Sink) (*store.Store, *ddbstream.Stream) {
	t.Helper()
	stream := ddbstream.TapWithOptions(dynamolocal.Handler(), sink, testLogger(t), ddbstream.Options{Backoff: 10 * time.Millisecond})
	srv := httptest.NewServer(stream)
	t.Cleanup(func() { srv.Close(); stream.Close() })
	c := dynamolocal.Client(srv.URL)
	if err := store.CreateTable(context.Background(), c, "jitsudo"); err != nil {
		t.Fatal(err)
	}
	return store.New(c, "jitsudo"), stream
}

func flush(t *testing.T, s *ddbstream.Stream) {
	t.Helper()
	if err := s.Flush(within(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxEndToEnd: committed transitions → the table's (emulated)
// stream → Relay → SNS (goaws) → subscribers. Each transition is exactly
// one notification with its event as the body; a subscription filtered
// to a tenant gets that tenant's events only.
func TestOutboxEndToEnd(t *testing.T) {
	t.Parallel()
	gs := startGoaws(t)
	ctx := within(t, 30*time.Second)
	topic, err := gs.CreateTopic(ctx, "jitsudo-events")
	if err != nil {
		t.Fatal(err)
	}
	client := snsClient(gs)

	var relay *events.Relay
	st, stream := tappedStore(t, ddbstream.Lambda(func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		return outbox.New(nil, outbox.Named{Name: "test", Half: relay}).HandleStream(ctx, ev)
	}))
	relay = &events.Relay{
		Loader: st, Rules: events.RuleChannels{Rules: st}, Links: events.NewLinks(apiBase),
		Publisher: snspub.NewPublisher(client, topic), Logger: testLogger(t),
	}

	inbox := goaws.NewInbox()
	srv := httptest.NewServer(inbox)
	t.Cleanup(srv.Close)
	if _, err := (snspub.Subscriptions{Client: client}).SubscribeHTTP(ctx, topic, srv.URL, acme, nil); err != nil {
		t.Fatal(err)
	}
	acmeQueue, acmeQueueARN, err := gs.CreateQueue(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	fp, _ := snspub.FilterPolicy(acme, nil)
	if _, err := client.Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String(acmeQueueARN), Attributes: map[string]string{"FilterPolicy": fp}}); err != nil {
		t.Fatal(err)
	}

	svc := setupTenant(t, st, acme, globex)
	flush(t, stream)
	if n := len(inbox.Notifications()); n != 0 {
		t.Fatalf("%d notifications from tenant and rule writes", n)
	}

	res, err := svc.Create(ctx, user(acme, "alice"), input(acctReq), "")
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	flush(t, stream)
	// Flush returned after the relay's Publish did, and goaws delivers
	// during Publish: the inbox is complete.
	ns, err := inbox.WaitN(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 {
		t.Fatalf("%d notifications for one transition: %+v", len(ns), ns)
	}
	created, _, err := st.ListAudit(ctx, acme, access.AuditQuery{Action: access.AuditRequestCreated}, access.Page{})
	if err != nil || len(created) != 1 {
		t.Fatal(created, err)
	}
	ev := decode(t, ns[0])
	if ev.ID != created[0].ID || ev.Type != events.RequestPending || ev.TenantID != acme || ev.Request == nil || ev.Request.ID != id ||
		ev.Request.Status != access.StatusPending || !slices.Equal(ev.Channels, []string{"ch_security"}) ||
		ev.Links.Approve != apiBase+"/v1/requests/"+id+"/approve" {
		t.Fatalf("pending notification %+v", ev)
	}
	if ns[0].Attr(events.AttrTenantID) != acme || ns[0].Attr(events.AttrEventType) != events.RequestPending || ns[0].Attr(events.AttrSeverity) != events.SeverityInfo {
		t.Fatalf("attributes %v", ns[0].MessageAttributes)
	}
	// The body is exactly the mapped event.
	want, _, err := events.Mapper{Loader: st, Rules: events.RuleChannels{Rules: st}, Links: events.NewLinks(apiBase)}.Event(ctx, created[0])
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := json.Marshal(want); ns[0].Message != string(body) {
		t.Fatalf("message %s\nwant    %s", ns[0].Message, body)
	}

	if _, err := svc.Approve(ctx, user(acme, "bob", "approvers"), id, "ok"); err != nil {
		t.Fatal(err)
	}
	// Another tenant's transition, and a review that is not notified.
	if _, err := svc.Create(ctx, user(globex, "gina"), input(acctTwo), ""); err != nil {
		t.Fatal(err)
	}
	flush(t, stream)
	ns = inbox.Notifications()
	var types []string
	for _, n := range ns {
		types = append(types, decode(t, n).TenantID+"/"+decode(t, n).Type)
	}
	// goaws ignores the http subscription's filter policy, so the inbox
	// sees globex too (the filtered queue below does not). Order holds per
	// tenant (per audit chain, a stream partition), not across tenants.
	acmeTypes := slices.DeleteFunc(slices.Clone(types), func(s string) bool { return !strings.HasPrefix(s, "acme/") })
	if len(types) != 3 || !slices.Contains(types, "globex/request.pending") ||
		!slices.Equal(acmeTypes, []string{"acme/request.pending", "acme/request.approved"}) {
		t.Fatalf("notifications %v", types)
	}
	var queued []string
	for len(queued) < 2 {
		msgs, err := gs.ReceiveMessages(ctx, acmeQueue, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var n goaws.Notification
			if err := json.Unmarshal([]byte(m.Body), &n); err != nil {
				t.Fatal(err)
			}
			queued = append(queued, decode(t, n).TenantID+"/"+decode(t, n).Type)
		}
	}
	if more, _ := gs.ReceiveMessages(ctx, acmeQueue, 0); len(more) != 0 || !slices.Equal(queued, acmeTypes) {
		t.Fatalf("acme-filtered queue got %v (+%d more), want %v", queued, len(more), acmeTypes)
	}
	if d := stream.Dropped(); d != 0 {
		t.Fatalf("%d stream records dropped", d)
	}
}

// streamRecords commits real transitions through a tapped store and
// returns the records the stream carried, in stream order, and the store.
func streamRecords(t *testing.T) ([]lambdaevents.DynamoDBEventRecord, *store.Store) {
	t.Helper()
	st, read := tapStore(t)
	svc := setupTenant(t, st, acme)
	ctx := context.Background()
	if _, err := svc.Create(ctx, user(acme, "alice"), input(acctReq), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Create(ctx, user(acme, "alice"), input(acctAuto), ""); err != nil {
		t.Fatal(err)
	}
	recs := read()
	slices.SortFunc(recs, func(a, b lambdaevents.DynamoDBEventRecord) int {
		return strings.Compare(a.Change.SequenceNumber, b.Change.SequenceNumber)
	})
	return recs, st
}

func auditSeqs(t *testing.T, recs []lambdaevents.DynamoDBEventRecord) []string {
	var out []string
	for _, r := range recs {
		if _, ok, _ := events.AuditFromStreamImage(r.Change.NewImage); ok {
			out = append(out, r.Change.SequenceNumber)
		}
	}
	if len(out) != 2 {
		t.Fatalf("%d audit records, want 2", len(out))
	}
	return out
}

// TestRelayBatchFailures: HandleStream publishes one event per audit
// INSERT, skips everything else, and on a failure stops and reports that
// record, from which Lambda redelivers.
func TestRelayBatchFailures(t *testing.T) {
	t.Parallel()
	recs, st := streamRecords(t)
	audits := auditSeqs(t, recs)
	gs := startGoaws(t)
	ctx := within(t, 30*time.Second)
	topic, err := gs.CreateTopic(ctx, "jitsudo-events")
	if err != nil {
		t.Fatal(err)
	}
	client := snsClient(gs)
	inbox := goaws.NewInbox()
	srv := httptest.NewServer(inbox)
	t.Cleanup(srv.Close)
	if _, err := (snspub.Subscriptions{Client: client}).SubscribeHTTP(ctx, topic, srv.URL, acme, nil); err != nil {
		t.Fatal(err)
	}
	batch := lambdaevents.DynamoDBEvent{Records: recs}

	// Publishing fails (no such topic): the first audit record is
	// reported, nothing is published.
	broken := &events.Relay{Loader: st, Publisher: snspub.NewPublisher(client, goaws.TopicARN("missing")), Logger: testLogger(t)}
	resp, err := outbox.New(nil, outbox.Named{Name: "test", Half: broken}).HandleStream(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != audits[0] {
		t.Fatalf("failures %+v, %v; want the first audit record %s", resp.BatchItemFailures, err, audits[0])
	}
	// Reading fails (DynamoDB unreachable): same.
	unreachable := store.New(dynamolocal.Client("http://127.0.0.1:1"), "jitsudo")
	down := &events.Relay{Loader: unreachable, Publisher: snspub.NewPublisher(client, topic), Logger: testLogger(t)}
	if resp, err := outbox.New(nil, outbox.Named{Name: "test", Half: down}).HandleStream(ctx, batch); err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != audits[0] {
		t.Fatalf("unreachable loader: failures %+v, %v", resp.BatchItemFailures, err)
	}
	if n := len(inbox.Notifications()); n != 0 {
		t.Fatalf("%d notifications from failed batches", n)
	}

	// Redelivery from the reported record: only non-audit records are
	// before it, so it is the whole batch; all goes through.
	ok := &events.Relay{Loader: st, Rules: events.RuleChannels{Rules: st}, Publisher: snspub.NewPublisher(client, topic), Logger: testLogger(t)}
	resp, err = outbox.New(nil, outbox.Named{Name: "test", Half: ok}).HandleStream(ctx, batch)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v, %v", resp.BatchItemFailures, err)
	}
	ns, err := inbox.WaitN(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || decode(t, ns[0]).Type != events.RequestPending || decode(t, ns[1]).Type != events.RequestApproved {
		t.Fatalf("notifications %+v", ns)
	}

	// MODIFY and REMOVE records, and an audit item that cannot be an
	// event (its partition is another tenant's), publish nothing and fail
	// nothing.
	var audit lambdaevents.DynamoDBEventRecord
	for _, r := range recs {
		if r.Change.SequenceNumber == audits[0] {
			audit = r
		}
	}
	modify, remove := audit, audit
	modify.EventName, remove.EventName = "MODIFY", "REMOVE"
	forged := audit
	forged.Change.NewImage = map[string]lambdaevents.DynamoDBAttributeValue{}
	for k, v := range audit.Change.NewImage {
		forged.Change.NewImage[k] = v
	}
	forged.Change.NewImage["tenant_id"] = lambdaevents.NewStringAttribute(globex)
	resp, err = outbox.New(nil, outbox.Named{Name: "test", Half: ok}).HandleStream(ctx, lambdaevents.DynamoDBEvent{Records: []lambdaevents.DynamoDBEventRecord{modify, remove, forged}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v, %v", resp.BatchItemFailures, err)
	}
	// A marker event published after them: once it is in, nothing else
	// came.
	if err := snspub.NewPublisher(client, topic).Publish(ctx, sampleEvent("evt_marker", acme, events.ChannelTest)); err != nil {
		t.Fatal(err)
	}
	if ns, err := inbox.Wait(ctx, hasID("evt_marker")); err != nil || len(ns) != 3 {
		t.Fatalf("notifications %d, %v; want the 2 before and the marker", len(ns), err)
	}
}
