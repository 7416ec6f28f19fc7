package events_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
)

// The filter policies of the protocols channels use (e-mail; http for
// local development and tests) on moto's SNS, which — unlike goaws, which
// filters only sqs subscriptions — applies a subscription's FilterPolicy
// before it dispatches on the protocol (moto/sns/models.py,
// Subscription.publish). moto delivers http(s) during Publish, so what an
// endpoint has not received when Publish returns never comes; it delivers
// nothing for e-mail, so for e-mail the test checks what SNS stores.

func motoSNS(t *testing.T) (*sns.Client, string) {
	t.Helper()
	cfg := mototest.Config()
	cfg.BaseEndpoint = aws.String(mototest.Endpoint(t))
	client := snspub.OpenSubscriptions(cfg).Client
	out, err := client.CreateTopic(within(t, 30*time.Second), &sns.CreateTopicInput{Name: aws.String(mototest.Name("jitsudo-events"))})
	if err != nil {
		t.Fatal(err)
	}
	topic := aws.ToString(out.TopicArn)
	t.Cleanup(func() {
		_, _ = client.DeleteTopic(context.Background(), &sns.DeleteTopicInput{TopicArn: aws.String(topic)})
	})
	return client, topic
}

// TestFilterPolicyOnHTTPMoto: SubscribeHTTP's filter policy keeps tenants
// apart and selects event types, and SetFilter replaces it, on http
// subscriptions delivered by moto.
func TestFilterPolicyOnHTTPMoto(t *testing.T) {
	t.Parallel()
	client, topic := motoSNS(t)
	ctx := within(t, 60*time.Second)
	subs := snspub.Subscriptions{Client: client}
	endpoint := func(tenant string, types []string) (*goaws.Inbox, string) {
		in := goaws.NewInbox()
		srv := httptest.NewServer(in)
		t.Cleanup(srv.Close)
		arn, err := subs.SubscribeHTTP(ctx, topic, srv.URL, tenant, types)
		if err != nil {
			t.Fatal(err)
		}
		return in, arn
	}
	acmeAll, _ := endpoint(acme, nil)
	acmePending, acmePendingARN := endpoint(acme, []string{events.RequestPending, events.RequestBreakGlass})
	globexAll, _ := endpoint(globex, nil)

	pub := snspub.NewPublisher(client, topic)
	publish := func(evs ...events.Event) {
		t.Helper()
		for _, ev := range evs {
			if err := pub.Publish(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := func(in *goaws.Inbox) []string {
		t.Helper()
		if errs := in.Errors(); len(errs) != 0 {
			t.Fatalf("inbox errors: %v", errs)
		}
		var out []string
		for _, n := range in.Notifications() {
			ev := decode(t, n)
			out = append(out, ev.ID)
		}
		return out
	}

	publish(
		sampleEvent("evt_a1", acme, events.RequestPending),
		sampleEvent("evt_g1", globex, events.RequestPending),
		sampleEvent("evt_a2", acme, events.RequestApproved),
	)
	if got := ids(acmeAll); !slices.Equal(got, []string{"evt_a1", "evt_a2"}) {
		t.Errorf("acme, all types: %v", got)
	}
	if got := ids(acmePending); !slices.Equal(got, []string{"evt_a1"}) {
		t.Errorf("acme, pending only: %v", got)
	}
	if got := ids(globexAll); !slices.Equal(got, []string{"evt_g1"}) {
		t.Errorf("globex: %v", got)
	}

	// A channel's filters change: the new policy applies from the next
	// event on.
	if err := subs.SetFilter(ctx, acmePendingARN, acme, []string{events.RequestApproved}); err != nil {
		t.Fatal(err)
	}
	publish(
		sampleEvent("evt_a3", acme, events.RequestPending),
		sampleEvent("evt_a4", acme, events.RequestApproved),
		sampleEvent("evt_g2", globex, events.RequestApproved),
	)
	if got := ids(acmePending); !slices.Equal(got, []string{"evt_a1", "evt_a4"}) {
		t.Errorf("acme after SetFilter(approved): %v", got)
	}
	if got := ids(acmeAll); !slices.Equal(got, []string{"evt_a1", "evt_a2", "evt_a3", "evt_a4"}) {
		t.Errorf("acme, all types: %v", got)
	}
	if got := ids(globexAll); !slices.Equal(got, []string{"evt_g1", "evt_g2"}) {
		t.Errorf("globex: %v", got)
	}
	for _, n := range acmeAll.Notifications() {
		if n.Type != "Notification" || n.TopicARN != topic || n.Subject != snspub.DefaultSubject(decode(t, n)) {
			t.Errorf("notification %+v", n)
		}
	}
}

// TestSubscribeEmailMoto: moto accepts SubscribeEmail's subscription with
// its filter policy and scope (as SNS validates them), SetFilter replaces
// the policy, and Unsubscribe removes it.
func TestSubscribeEmailMoto(t *testing.T) {
	t.Parallel()
	client, topic := motoSNS(t)
	ctx := within(t, 60*time.Second)
	subs := snspub.Subscriptions{Client: client}
	arn, err := subs.SubscribeEmail(ctx, topic, "ops@example.com", acme, []string{events.RequestPending, events.GrantActive, events.RequestPending})
	if err != nil {
		t.Fatal(err)
	}
	policy := func() (map[string][]string, map[string]string) {
		t.Helper()
		attrs, err := client.GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		var fp map[string][]string
		if err := json.Unmarshal([]byte(attrs.Attributes["FilterPolicy"]), &fp); err != nil {
			t.Fatalf("FilterPolicy %q: %v", attrs.Attributes["FilterPolicy"], err)
		}
		return fp, attrs.Attributes
	}
	fp, attrs := policy()
	want := map[string][]string{"tenant_id": {acme}, "event_type": {events.GrantActive, events.RequestPending}}
	if !reflect.DeepEqual(fp, want) || attrs["Protocol"] != "email" || attrs["Endpoint"] != "ops@example.com" ||
		attrs["FilterPolicyScope"] != "MessageAttributes" {
		t.Fatalf("subscription attributes %v", attrs)
	}
	if err := subs.SetFilter(ctx, arn, acme, nil); err != nil {
		t.Fatal(err)
	}
	if fp, attrs := policy(); !reflect.DeepEqual(fp, map[string][]string{"tenant_id": {acme}}) {
		t.Fatalf("after SetFilter(all types): %v", attrs)
	}
	// Publishing to the e-mail subscription is accepted (moto sends no
	// mail).
	if err := snspub.NewPublisher(client, topic).Publish(ctx, sampleEvent("evt_e1", acme, events.RequestPending)); err != nil {
		t.Fatal(err)
	}
	if err := subs.Unsubscribe(ctx, arn); err != nil {
		t.Fatal(err)
	}
	out, err := client.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil || len(out.Subscriptions) != 0 {
		t.Fatalf("subscriptions after Unsubscribe: %+v, %v", out, err)
	}
}
