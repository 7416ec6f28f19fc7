package goaws_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/infra/modroot"
)

func start(t *testing.T) *goaws.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := goaws.Start(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("goaws output:\n%s", s.Logs())
		}
	})
	return s
}

func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func attrs(kv ...string) map[string]types.MessageAttributeValue {
	m := map[string]types.MessageAttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(kv[i+1])}
	}
	return m
}

func publish(t *testing.T, s *goaws.Server, topic, msg string, a map[string]types.MessageAttributeValue) {
	t.Helper()
	if _, err := s.SNS().Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(msg), MessageAttributes: a}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

// TestStartCreateTopicStop: two servers run side by side on their own
// ports, answer the real SNS client, and are gone after Stop.
func TestStartCreateTopicStop(t *testing.T) {
	t.Parallel()
	a, b := start(t), start(t)
	if a.Endpoint == b.Endpoint {
		t.Fatalf("both servers on %s", a.Endpoint)
	}
	arn, err := a.CreateTopic(t.Context(), "jitsudo-events")
	if err != nil {
		t.Fatal(err)
	}
	if arn != goaws.TopicARN("jitsudo-events") {
		t.Fatalf("topic ARN %q, want %q", arn, goaws.TopicARN("jitsudo-events"))
	}
	again, err := a.CreateTopic(t.Context(), "jitsudo-events")
	if err != nil || again != arn {
		t.Fatalf("CreateTopic again = %q, %v; want the same ARN", again, err)
	}
	out, err := b.SNS().ListTopics(t.Context(), &sns.ListTopicsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Topics) != 0 {
		t.Fatalf("second server has topics %v: servers share state", out.Topics)
	}
	// A missing topic is an API error the SDK decodes.
	_, err = a.SNS().Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String(goaws.TopicARN("nope")), Message: aws.String("x")})
	if err == nil || !strings.Contains(err.Error(), "NonExistentTopic") {
		t.Fatalf("Publish to a missing topic: %v", err)
	}
	a.Stop()
	a.Stop() // idempotent
	if _, err := http.Get(a.Endpoint + "/health"); err == nil {
		t.Fatal("goaws still answers after Stop")
	}
}

func TestStartOnBusyPortFails(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if s2, err := goaws.Start(ctx, s.Addr); err == nil {
		s2.Stop()
		t.Fatalf("a second goaws started on busy %s", s.Addr)
	}
}

// TestHTTPSubscriptionQuirks pins what the package doc says about http(s)
// subscriptions: a confirmation is posted (and can be confirmed), delivery
// carries the attributes in SNS's JSON form, and the filter policy is NOT
// applied.
func TestHTTPSubscriptionQuirks(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := deadline(t)
	topic, err := s.CreateTopic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	inbox := goaws.NewInbox()
	srv := httptest.NewServer(inbox)
	t.Cleanup(srv.Close)
	began := time.Now()
	sub, err := s.SNS().Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String(srv.URL),
		Attributes: map[string]string{"FilterPolicy": `{"tenant_id":["acme"]}`},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("http Subscribe took %v", time.Since(began))
	if inbox.Confirmed() != 1 {
		t.Fatalf("confirmed %d subscriptions, errors %v", inbox.Confirmed(), inbox.Errors())
	}
	publish(t, s, topic, `{"n":1}`, attrs("tenant_id", "globex"))
	ns, err := inbox.WaitN(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := ns[0]
	if n.Message != `{"n":1}` || n.Attr("tenant_id") != "globex" || n.MessageAttributes["tenant_id"].Type != "String" {
		t.Fatalf("notification %+v", n)
	}
	if n.SubscriptionARN != aws.ToString(sub.SubscriptionArn) || n.TopicARN != topic {
		t.Fatalf("notification for %s/%s, want %s/%s", n.SubscriptionARN, n.TopicARN, aws.ToString(sub.SubscriptionArn), topic)
	}
	// The policy is stored (and read back) all the same.
	got, err := s.SNS().GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: sub.SubscriptionArn})
	if err != nil {
		t.Fatal(err)
	}
	var fp map[string][]string
	if err := json.Unmarshal([]byte(got.Attributes["FilterPolicy"]), &fp); err != nil || fp["tenant_id"][0] != "acme" {
		t.Fatalf("FilterPolicy read back %q (%v)", got.Attributes["FilterPolicy"], err)
	}
}

// TestSQSFilterPolicy pins goaws's filter policy support on sqs
// subscriptions: exact String matches, AND across keys, OR within a list;
// a message lacking a policy attribute does not match; a policy with an
// operator is mis-decoded and the subscription receives nothing.
func TestSQSFilterPolicy(t *testing.T) {
	t.Parallel()
	s := start(t)
	ctx := deadline(t)
	topic, err := s.CreateTopic(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	subscribe := func(name, policy string) string {
		url, arn, err := s.CreateQueue(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SNS().Subscribe(ctx, &sns.SubscribeInput{
			TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(arn),
			Attributes: map[string]string{"FilterPolicy": policy},
		}); err != nil {
			t.Fatal(err)
		}
		return url
	}
	exact := subscribe("exact", `{"tenant_id":["acme"],"event_type":["request.pending","request.approved"]}`)
	operator := subscribe("operator", `{"tenant_id":[{"prefix":"ac"}]}`)

	publish(t, s, topic, "globex", attrs("tenant_id", "globex", "event_type", "request.pending"))
	publish(t, s, topic, "acme-denied", attrs("tenant_id", "acme", "event_type", "request.denied"))
	publish(t, s, topic, "acme-no-type", attrs("tenant_id", "acme"))
	publish(t, s, topic, "acme-approved", attrs("tenant_id", "acme", "event_type", "request.approved"))

	bodies := func(url string, want int) []string {
		var out []string
		for len(out) < want {
			msgs, err := s.ReceiveMessages(ctx, url, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				var n goaws.Notification
				if err := json.Unmarshal([]byte(m.Body), &n); err != nil {
					t.Fatalf("body %q: %v", m.Body, err)
				}
				out = append(out, n.Message)
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: got %v, want %d messages", url, out, want)
			}
		}
		return out
	}
	// goaws delivers synchronously and in order, so once the last
	// message is in, nothing earlier can still arrive.
	if got := bodies(exact, 1); len(got) != 1 || got[0] != "acme-approved" {
		t.Fatalf("exact policy queue got %q, want only acme-approved", got)
	}
	if msgs, err := s.ReceiveMessages(ctx, exact, 0); err != nil || len(msgs) != 0 {
		t.Fatalf("exact queue has more: %v %v", msgs, err)
	}
	if msgs, err := s.ReceiveMessages(ctx, operator, 0); err != nil || len(msgs) != 0 {
		t.Fatalf("operator policy queue got %v %v, want nothing", msgs, err)
	}
}

func TestEnsureUsesPinnedVersion(t *testing.T) {
	t.Parallel()
	root, err := modroot.Find()
	if err != nil {
		t.Fatal(err)
	}
	v, err := goaws.PinnedVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "v") {
		t.Fatalf("pinned version %q", v)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p, err := goaws.Ensure(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if env := os.Getenv(goaws.EnvBinary); env != "" {
		if p != env {
			t.Fatalf("Ensure = %s, want $%s = %s", p, goaws.EnvBinary, env)
		}
		return
	}
	if p != filepath.Join(root, ".bin", "goaws") {
		t.Fatalf("binary at %s", p)
	}
	if _, err := goaws.Ensure(ctx, t.TempDir()); err == nil {
		t.Fatal("Ensure in a directory without go.mod succeeded")
	}
}

func TestStartWithOptions(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var log safeBuffer
	s, err := goaws.StartWithOptions(ctx, "127.0.0.1:0", goaws.Options{Topics: []string{"pre"}, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	out, err := s.SNS().ListTopics(ctx, &sns.ListTopicsInput{})
	if err != nil || len(out.Topics) != 1 || aws.ToString(out.Topics[0].TopicArn) != goaws.TopicARN("pre") {
		t.Fatalf("topics %+v, %v", out, err)
	}
	if !strings.Contains(log.String(), "GoAws listening") {
		t.Fatalf("log writer got %q", log.String())
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
