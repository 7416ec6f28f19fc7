package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// snsClient is the real SNS client against s, built the way the
// functions build theirs.
func snsClient(s *goaws.Server) *sns.Client {
	return snspub.OpenSubscriptions(wiring.AWSConfig(s.Endpoint, goaws.Region)).Client
}

func sampleEvent(id, tenant, typ string) events.Event {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	deadline := at.Add(time.Hour)
	return events.Event{
		Version: events.Version, ID: id, Type: typ, TenantID: tenant, Severity: events.SeverityInfo, OccurredAt: at,
		Actor: events.Actor{ID: "alice", Type: "user"}, Reasoning: "JIRA-42: deploy hotfix — ünïcode",
		Request: &events.Request{
			ID: "req_1", Status: "pending", RequesterID: "alice", RequesterEmail: "alice@example.com",
			Resource: events.Resource{Type: "aws_account", ID: acctReq}, Justification: "JIRA-42", DurationSeconds: 3600,
			ApprovalMode: "require", ApprovalsRequired: 1, ApprovalDeadline: &deadline, CreatedAt: at,
		},
		Links:    events.NewLinks(apiBase).Links(tenant, "req_1", ""),
		Channels: []string{"ch_security"},
	}
}

func decode(t *testing.T, n goaws.Notification) events.Event {
	t.Helper()
	var ev events.Event
	if err := json.Unmarshal([]byte(n.Message), &ev); err != nil {
		t.Fatalf("notification message %q: %v", n.Message, err)
	}
	return ev
}

func hasID(id string) func([]goaws.Notification) bool {
	return func(ns []goaws.Notification) bool {
		return slices.ContainsFunc(ns, func(n goaws.Notification) bool { return strings.Contains(n.Message, `"id":"`+id+`"`) })
	}
}

// TestPublishToHTTPSubscriber: one Publish is one notification whose
// Message is the event's JSON body and whose attributes are tenant_id,
// event_type and severity.
func TestPublishToHTTPSubscriber(t *testing.T) {
	t.Parallel()
	s := startGoaws(t)
	ctx := within(t, 20*time.Second)
	topic, err := s.CreateTopic(ctx, "jitsudo-events")
	if err != nil {
		t.Fatal(err)
	}
	inbox := goaws.NewInbox()
	srv := httptest.NewServer(inbox)
	t.Cleanup(srv.Close)
	client := snsClient(s)
	subs := snspub.Subscriptions{Client: client}
	arn, err := subs.SubscribeHTTP(ctx, topic, srv.URL, acme, nil)
	if err != nil {
		t.Fatal(err)
	}
	if inbox.Confirmed() != 1 || len(inbox.Errors()) != 0 {
		t.Fatalf("confirmations %d, errors %v", inbox.Confirmed(), inbox.Errors())
	}

	pub := snspub.NewPublisher(client, topic)
	ev := sampleEvent("evt_1", acme, events.RequestPending)
	if err := pub.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	// A second event after it: once it is in, the first cannot still be
	// on its way (goaws delivers in order).
	if err := pub.Publish(ctx, sampleEvent("evt_2", acme, events.RequestApproved)); err != nil {
		t.Fatal(err)
	}
	ns, err := inbox.Wait(ctx, hasID("evt_2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 {
		t.Fatalf("%d notifications, want 2: %+v", len(ns), ns)
	}
	n := ns[0]
	if got := decode(t, n); !reflect.DeepEqual(got, ev) {
		t.Fatalf("body decodes to\n%+v\nwant\n%+v", got, ev)
	}
	want, _ := json.Marshal(ev)
	if n.Message != string(want) {
		t.Fatalf("message %s, want %s", n.Message, want)
	}
	for name, v := range map[string]string{events.AttrTenantID: acme, events.AttrEventType: events.RequestPending, events.AttrSeverity: events.SeverityInfo} {
		if a := n.MessageAttributes[name]; a.Type != "String" || a.Value != v {
			t.Errorf("attribute %s = %+v, want String %q", name, a, v)
		}
	}
	if len(n.MessageAttributes) != 3 {
		t.Errorf("attributes %v, want exactly 3", n.MessageAttributes)
	}
	if n.Type != "Notification" || n.TopicARN != topic || n.SubscriptionARN != arn || n.Subject != snspub.DefaultSubject(ev) {
		t.Errorf("notification %+v (subject want %q)", n, snspub.DefaultSubject(ev))
	}

	if err := subs.Unsubscribe(ctx, arn); err != nil {
		t.Fatal(err)
	}
	left, err := client.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil || len(left.Subscriptions) != 0 {
		t.Fatalf("subscriptions after Unsubscribe: %+v, %v", left, err)
	}
}

// TestFilterPolicyOnSQS: the filter policy FilterPolicy builds keeps
// tenants apart and selects event types (observed on goaws's sqs
// subscriptions, the only ones goaws filters).
func TestFilterPolicyOnSQS(t *testing.T) {
	t.Parallel()
	s := startGoaws(t)
	ctx := within(t, 20*time.Second)
	topic, err := s.CreateTopic(ctx, "jitsudo-events")
	if err != nil {
		t.Fatal(err)
	}
	client := snsClient(s)
	queue := func(name, tenant string, types []string) string {
		url, arn, err := s.CreateQueue(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		fp, err := snspub.FilterPolicy(tenant, types)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(arn),
			Attributes: map[string]string{"FilterPolicy": fp},
		}); err != nil {
			t.Fatal(err)
		}
		return url
	}
	acmeAll := queue("acme-all", acme, nil)
	acmePending := queue("acme-pending", acme, []string{events.RequestPending, events.RequestBreakGlass})
	globexAll := queue("globex-all", globex, nil)

	pub := snspub.NewPublisher(client, topic)
	for _, ev := range []events.Event{
		sampleEvent("evt_a1", acme, events.RequestPending),
		sampleEvent("evt_g1", globex, events.RequestPending),
		sampleEvent("evt_a2", acme, events.RequestApproved),
	} {
		if err := pub.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	received := func(url string, want int) []string {
		t.Helper()
		var ids []string
		for len(ids) < want {
			msgs, err := s.ReceiveMessages(ctx, url, time.Second)
			if err != nil {
				t.Fatalf("%s: %v (have %v)", url, err, ids)
			}
			for _, m := range msgs {
				var n goaws.Notification
				if err := json.Unmarshal([]byte(m.Body), &n); err != nil {
					t.Fatal(err)
				}
				ev := decode(t, n)
				if n.Attr(events.AttrTenantID) != ev.TenantID || n.Attr(events.AttrEventType) != ev.Type {
					t.Fatalf("attributes %v of event %s/%s", n.MessageAttributes, ev.TenantID, ev.Type)
				}
				ids = append(ids, ev.ID)
			}
		}
		// goaws delivered during Publish: what is not there now never
		// comes.
		if more, err := s.ReceiveMessages(ctx, url, 0); err != nil || len(more) != 0 {
			t.Fatalf("%s: more messages %v, %v", url, more, err)
		}
		return ids
	}
	if got := received(acmeAll, 2); !slices.Equal(got, []string{"evt_a1", "evt_a2"}) {
		t.Errorf("acme, all types: %v", got)
	}
	if got := received(acmePending, 1); !slices.Equal(got, []string{"evt_a1"}) {
		t.Errorf("acme, pending only: %v", got)
	}
	if got := received(globexAll, 1); !slices.Equal(got, []string{"evt_g1"}) {
		t.Errorf("globex: %v", got)
	}
}

// TestSubscribeEmail: the subscription carries the filter policy; and
// what is refused before SNS is asked.
func TestSubscribeEmail(t *testing.T) {
	t.Parallel()
	s := startGoaws(t)
	ctx := within(t, 20*time.Second)
	topic, err := s.CreateTopic(ctx, "jitsudo-events")
	if err != nil {
		t.Fatal(err)
	}
	client := snsClient(s)
	subs := snspub.Subscriptions{Client: client}
	arn, err := subs.SubscribeEmail(ctx, topic, "ops@example.com", acme, []string{events.RequestPending, events.GrantActive, events.RequestPending})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := client.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var fp map[string][]string
	if err := json.Unmarshal([]byte(attrs.Attributes["FilterPolicy"]), &fp); err != nil {
		t.Fatalf("FilterPolicy %q: %v", attrs.Attributes["FilterPolicy"], err)
	}
	want := map[string][]string{"tenant_id": {acme}, "event_type": {events.GrantActive, events.RequestPending}}
	if !reflect.DeepEqual(fp, want) || attrs.Attributes["Protocol"] != "email" || attrs.Attributes["Endpoint"] != "ops@example.com" {
		t.Fatalf("subscription attributes %v", attrs.Attributes)
	}
	if err := subs.Unsubscribe(ctx, arn); err != nil {
		t.Fatal(err)
	}
	if err := subs.Unsubscribe(ctx, arn); err == nil {
		t.Fatal("second Unsubscribe succeeded")
	}

	for name, f := range map[string]func() error{
		"no tenant": func() error { _, err := subs.SubscribeEmail(ctx, topic, "ops@example.com", " ", nil); return err },
		"unknown type": func() error {
			_, err := subs.SubscribeEmail(ctx, topic, "ops@example.com", acme, []string{"request.*"})
			return err
		},
		"not an email": func() error { _, err := subs.SubscribeEmail(ctx, topic, "ops", acme, nil); return err },
		"not http":     func() error { _, err := subs.SubscribeHTTP(ctx, topic, "ftp://example.com", acme, nil); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	out, err := client.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil || len(out.Subscriptions) != 0 {
		t.Fatalf("subscriptions left: %+v, %v", out, err)
	}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	s := startGoaws(t)
	ctx := within(t, 20*time.Second)
	pub := snspub.NewPublisher(snsClient(s), goaws.TopicARN("missing"))
	err := pub.Publish(ctx, sampleEvent("evt_1", acme, events.RequestPending))
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AWS.SimpleNotificationService.NonExistentTopic" {
		t.Fatalf("publish to a missing topic: %v", err)
	}
	noTenant := sampleEvent("evt_1", "", events.RequestPending)
	if err := pub.Publish(ctx, noTenant); err == nil {
		t.Fatal("event without tenant published")
	}
	huge := sampleEvent("evt_1", acme, events.RequestPending)
	huge.Reasoning = strings.Repeat("x", snspub.MaxMessageBytes)
	err = pub.Publish(ctx, huge)
	if err == nil || !strings.Contains(err.Error(), "more than SNS accepts") || !errors.Is(err, events.ErrUndeliverable) {
		t.Fatalf("oversized event: %v", err)
	}
	// The relay skips what can never be published instead of retrying it
	// until the dead-letter queue.
	recs, st := streamRecords(t)
	relay := &events.Relay{Loader: st, Publisher: publisherFunc(func(context.Context, events.Event) error { return err }), Logger: testLogger(t)}
	resp, herr := outbox.New(nil, outbox.Named{Name: "test", Half: relay}).HandleStream(ctx, lambdaevents.DynamoDBEvent{Records: recs})
	if herr != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("undeliverable events: %+v %v", resp, herr)
	}
}

// publisherFunc is an events.EventPublisher out of a function (the SNS
// edge, for the relay's error handling).
type publisherFunc func(context.Context, events.Event) error

func (f publisherFunc) Publish(ctx context.Context, ev events.Event) error { return f(ctx, ev) }
