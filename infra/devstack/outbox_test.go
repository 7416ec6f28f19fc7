package devstack_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

// TestOutboxHalvesAreIndependent: the table's stream has one consumer for
// both the workflow driver and the events relay (relay-outbox). While Step
// Functions refuses every call, the driver half keeps failing and the
// record is delivered again and again, yet the request's event is
// published while the outage lasts (it lasts until the event is out), and exactly once (the redeliveries repeat only the
// failed half); once Step Functions answers, the execution starts, with
// no client retry.
func TestOutboxHalvesAreIndependent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.alice()
	n := e.st.Notifications
	queueURL, queueARN, err := n.Goaws.CreateQueue(t.Context(), "outbox-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Goaws.SNS().Subscribe(t.Context(), &sns.SubscribeInput{TopicArn: aws.String(n.TopicARN),
		Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}); err != nil {
		t.Fatal(err)
	}
	published := map[string][]events.Event{} // by request id; received messages stay invisible for 30 s
	receive := func() {
		msgs, err := n.Goaws.ReceiveMessages(t.Context(), queueURL, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var env goaws.Notification
			var ev events.Event
			if json.Unmarshal([]byte(m.Body), &env) != nil || json.Unmarshal([]byte(env.Message), &ev) != nil {
				t.Fatalf("not an event: %s", m.Body)
			}
			if ev.Request != nil {
				published[ev.Request.ID] = append(published[ev.Request.ID], ev)
			}
		}
	}

	faults := e.st.Workflow.Faults
	const outage = time.Minute // ended below, once the event is out
	faults.RefuseFor(outage)
	t.Cleanup(func() { faults.RefuseFor(0) })
	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret while Step Functions is down"))
	if r.Status != access.StatusPending {
		t.Fatalf("created: %+v", r.Request)
	}
	e.eventually(quick, "request.pending published", func() (bool, string) {
		receive()
		return len(published[r.ID]) > 0, fmt.Sprint(len(published[r.ID]))
	})
	if !faults.Refusing() { // every start refused until now: no execution exists
		t.Fatal("the outage ended before the event was out")
	}
	if ev := published[r.ID][0]; ev.Type != events.RequestPending {
		t.Fatalf("published %s, want %s", ev.Type, events.RequestPending)
	}
	if faults.Refused() == 0 {
		t.Fatal("no call was refused: the outage never touched the driver")
	}
	t.Logf("event published while Step Functions refused calls (%d refused so far)", faults.Refused())
	faults.RefuseFor(0)

	e.waitToken(r.ID) // the driver started the execution after the outage; it reached its wait
	if err := e.st.OutboxStream.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	receive()
	if got := len(published[r.ID]); got != 1 {
		t.Fatalf("the request's event was published %d times, want once", got)
	}
	if x := e.execution(r.ID); x.Status != "RUNNING" {
		t.Fatalf("execution %+v, want RUNNING (waiting for approval)", x)
	}
}
