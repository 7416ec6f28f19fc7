package invoke

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The notification functions: the channel routes and the deliverer (the
// outbox relay is FnRelayOutbox).
const (
	FnDeliverNotifications = "deliver-notifications"
	FnTestChannel          = "test-notification-channel"
	FnCreateChannel        = "create-notification-channel"
	FnUpdateChannel        = "update-notification-channel"
	FnDeleteChannel        = "delete-notification-channel"
)

// channelRoutes are the functions of the /v1/notification-channels routes.
var channelRoutes = []string{"list-notification-channels", "get-notification-channel", FnCreateChannel,
	FnUpdateChannel, FnDeleteChannel, FnTestChannel}

// managesSubscriptions: the channel routes built with the topic's email
// subscriptions (wiring.WithEmailSubscriptions needs SNS_TOPIC_ARN at cold
// start), as in template.yaml.
func managesSubscriptions(fn string) bool {
	return fn == FnCreateChannel || fn == FnUpdateChannel || fn == FnDeleteChannel
}

// The seeded channels of the tenant the channel events act on.
const (
	// EventWebhookChannel is a generic webhook, no filters: every event.
	EventWebhookChannel = "ch_eventwebhook"
	// EventWebhookURL is its URL where nothing is delivered (the routes
	// that only read or change channels, NOTIFY_MODE=aws); where a
	// delivery happens it points at the fixture's receiver instead.
	EventWebhookURL = "https://hooks.acme.example/jitsudo/T0KEN-0123456789"
	// EventEmailChannel is an email channel: an SNS email subscription
	// per address on goaws, filtered on the tenant and its event types.
	EventEmailChannel = "ch_eventemail"
	// EventFilteredChannel (deliver-notifications only) is a webhook that
	// wants grant.revoked only: the sample event must not reach it.
	EventFilteredChannel = "ch_eventfiltered"
)

// EventEmailAddresses and EventEmailFilters are the seeded email channel's
// addresses and event types.
var (
	EventEmailAddresses = []string{"sec@acme.example", "oncall@acme.example"}
	EventEmailFilters   = []string{events.RequestBreakGlass, events.GrantFailed}
)

// What the channel sample events ask for (events/create-notification-
// channel*.json, update-notification-channel.json).
var (
	// EventCreatedWebhookURL is the generic webhook create-notification-
	// channel.json creates: the example receiver (infra/webhook-receiver)
	// on its default address, hence NOTIFY_MODE=local for that function.
	EventCreatedWebhookURL = "http://127.0.0.1:9099/jitsudo"
	// EventCreatedEmail is the address create-notification-channel-
	// email.json subscribes, for EventCreatedEmailFilters.
	EventCreatedEmail        = "oncall@acme.example"
	EventCreatedEmailFilters = []string{events.RequestPending, events.RequestBreakGlass}
	// update-notification-channel.json: EventEmailChannel's addresses
	// become these (sec kept, oncall dropped, ciso added), its filters
	// EventUpdatedFilters.
	EventUpdatedAddresses = []string{"sec@acme.example", "ciso@acme.example"}
	EventUpdatedFilters   = []string{events.RequestBreakGlass, events.GrantFailed, events.RequestPending}
)

// EventAPIBaseURL is the API the sample events were sent to; the relay
// builds its links from it (API_BASE_URL).
const EventAPIBaseURL = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"

// receiver is an HTTP endpoint that keeps every request (a webhook
// channel's destination).
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []received
}

type received struct {
	path   string
	header http.Header
	body   []byte
}

func newReceiver() *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, received{path: r.URL.Path, header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

// webhookInput is the seeded generic webhook channel to url.
func webhookInput(name, url string, filters []string) notify.ChannelInput {
	return notify.ChannelInput{Name: name, Type: notify.TypeGenericWebhook, EventFilters: filters,
		Config: notify.ChannelConfig{URL: url}}
}

// seedWebhook stores a generic webhook channel (validated under mode, as
// the create route does) and returns it, signing secret included.
func seedWebhook(ctx context.Context, s *store.Store, mode notify.Mode, id string, in notify.ChannelInput) (notify.Channel, error) {
	ch, err := notify.NewChannel(mode, EventTenant, id, in, time.Now())
	if err != nil {
		return ch, fmt.Errorf("fixtures: channel %s: %w", id, err)
	}
	if err := s.PutChannel(ctx, ch, true, 0); err != nil {
		return ch, fmt.Errorf("fixtures: channel %s: %w", id, err)
	}
	return ch, nil
}

// seedEmailChannel stores EventEmailChannel with a real subscription per
// address on the topic, as the create route makes it.
func seedEmailChannel(ctx context.Context, s *store.Store, subs snspub.Subscriptions, topic string) error {
	ch, err := notify.NewChannel(notify.ModeAWS, EventTenant, EventEmailChannel, notify.ChannelInput{
		Name: "Security team", Type: notify.TypeEmail, EventFilters: EventEmailFilters,
		Config: notify.ChannelConfig{Addresses: EventEmailAddresses},
	}, time.Now())
	if err != nil {
		return fmt.Errorf("fixtures: email channel: %w", err)
	}
	ch.SubscriptionARNs = map[string]string{}
	for _, addr := range ch.Addresses {
		arn, err := subs.SubscribeEmail(ctx, topic, addr, EventTenant, ch.EventFilters)
		if err != nil {
			return fmt.Errorf("fixtures: email channel: %w", err)
		}
		ch.SubscriptionARNs[addr] = arn
	}
	if err := s.PutChannel(ctx, ch, true, 0); err != nil {
		return fmt.Errorf("fixtures: email channel: %w", err)
	}
	return nil
}

// withChannels: goaws as SNS with the events topic; the tenant's
// EventWebhookChannel and EventEmailChannel (its subscriptions on goaws),
// except for create-notification-channel, which starts from none;
// NOTIFY_MODE aws, but local for the functions whose events point a
// webhook at loopback (create, test); the topic for the functions that
// manage subscriptions. Verify checks what the change and test routes did
// beyond their answers.
func (f *Fixture) withChannels(ctx context.Context, fn string, s *store.Store) error {
	srv, err := goaws.StartWithOptions(ctx, "", goaws.Options{Topics: []string{EventTopic}})
	if err != nil {
		return err
	}
	f.stops = append(f.stops, srv.Stop)
	topic := goaws.TopicARN(EventTopic)
	subs := snspub.Subscriptions{Client: srv.SNS()}
	mode, webhookURL := notify.ModeAWS, EventWebhookURL
	var rc *receiver
	switch fn {
	case FnCreateChannel:
		mode = notify.ModeLocal
	case FnTestChannel:
		mode = notify.ModeLocal
		rc = newReceiver()
		f.stops = append(f.stops, rc.srv.Close)
		webhookURL = rc.srv.URL + "/hook"
	}
	f.Env = setEnv(f.Env, "NOTIFY_MODE", string(mode))
	if managesSubscriptions(fn) {
		f.Env = setEnv(setEnv(f.Env, "SNS_TOPIC_ARN", topic), "SNS_ENDPOINT", srv.Endpoint)
	}
	if fn == FnCreateChannel {
		f.Verify = func(ctx context.Context) error { return verifyCreatedChannels(ctx, s, srv, topic) }
		return nil
	}
	webhook, err := seedWebhook(ctx, s, mode, EventWebhookChannel, webhookInput("Platform webhook", webhookURL, nil))
	if err != nil {
		return err
	}
	if err := seedEmailChannel(ctx, s, subs, topic); err != nil {
		return err
	}
	switch fn {
	case FnUpdateChannel:
		before, err := s.GetChannel(ctx, EventTenant, EventEmailChannel)
		if err != nil {
			return err
		}
		f.Verify = func(ctx context.Context) error { return verifyUpdatedChannel(ctx, s, srv, topic, before) }
	case FnDeleteChannel:
		f.Verify = func(ctx context.Context) error { return verifyDeletedChannel(ctx, s, srv, topic) }
	case FnTestChannel:
		f.Verify = func(ctx context.Context) error { return verifyChannelTest(ctx, s, rc, webhook) }
	}
	return nil
}

// emailSubscriptions are the topic's email subscriptions on goaws:
// address → ARN and filter policy.
func emailSubscriptions(ctx context.Context, srv *goaws.Server, topic string) (map[string]string, map[string]string, error) {
	out, err := srv.SNS().ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		return nil, nil, err
	}
	arns, policies := map[string]string{}, map[string]string{}
	for _, sub := range out.Subscriptions {
		if aws.ToString(sub.Protocol) != "email" {
			return nil, nil, fmt.Errorf("subscription %s has protocol %s", aws.ToString(sub.SubscriptionArn), aws.ToString(sub.Protocol))
		}
		addr, arn := aws.ToString(sub.Endpoint), aws.ToString(sub.SubscriptionArn)
		attrs, err := srv.SNS().GetSubscriptionAttributes(ctx, &sns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn)})
		if err != nil {
			return nil, nil, err
		}
		arns[addr], policies[addr] = arn, attrs.Attributes["FilterPolicy"]
	}
	return arns, policies, nil
}

// sameFilter reports whether the filter policy got (JSON) is the one
// snspub makes for the tenant and types.
func sameFilter(got string, types []string) bool {
	want, err := snspub.FilterPolicy(EventTenant, types)
	if err != nil {
		return false
	}
	var a, b map[string][]string
	if json.Unmarshal([]byte(got), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	for k := range a {
		slices.Sort(a[k])
	}
	for k := range b {
		slices.Sort(b[k])
	}
	return maps.EqualFunc(a, b, slices.Equal)
}

// verifyCreatedChannels: the webhook and the email channel exist as asked
// (the webhook with a fresh signing secret), the invalid one does not; the
// email channel's one subscription is on the topic with the channel's
// filter, and is the ARN the channel records; both creations are audited.
func verifyCreatedChannels(ctx context.Context, s *store.Store, srv *goaws.Server, topic string) error {
	chs, err := s.ListChannels(ctx, EventTenant)
	if err != nil {
		return err
	}
	byType := map[string]notify.Channel{}
	for _, ch := range chs {
		byType[ch.Type] = ch
	}
	hook, mail := byType[notify.TypeGenericWebhook], byType[notify.TypeEmail]
	if len(chs) != 2 || hook.URL != EventCreatedWebhookURL || !strings.HasPrefix(hook.SigningSecret, notify.SigningSecretPrefix) || hook.Version != 1 {
		return fmt.Errorf("channels after the create events: %+v; want the webhook to %s and the email channel", chs, EventCreatedWebhookURL)
	}
	arns, policies, err := emailSubscriptions(ctx, srv, topic)
	if err != nil {
		return err
	}
	if len(arns) != 1 || arns[EventCreatedEmail] == "" || !maps.Equal(mail.SubscriptionARNs, arns) {
		return fmt.Errorf("email subscriptions on the topic %v, the channel records %v", arns, mail.SubscriptionARNs)
	}
	if !sameFilter(policies[EventCreatedEmail], EventCreatedEmailFilters) {
		return fmt.Errorf("subscription filter policy %s, want tenant %s and %v", policies[EventCreatedEmail], EventTenant, EventCreatedEmailFilters)
	}
	audited, _, err := s.ListAudit(ctx, EventTenant, access.AuditQuery{Action: access.AuditChannelCreated}, access.Page{Limit: 10})
	if err != nil {
		return err
	}
	if len(audited) != 2 {
		return fmt.Errorf("%d %s audit events, want 2", len(audited), access.AuditChannelCreated)
	}
	return nil
}

// verifyUpdatedChannel: EventEmailChannel has the new addresses and
// filters at version 2; on the topic the kept address has its old
// subscription with the new filter (SetSubscriptionAttributes), the added
// one a new subscription (Subscribe), the dropped one none (Unsubscribe),
// and the channel records exactly those ARNs.
func verifyUpdatedChannel(ctx context.Context, s *store.Store, srv *goaws.Server, topic string, before notify.Channel) error {
	ch, err := s.GetChannel(ctx, EventTenant, EventEmailChannel)
	if err != nil {
		return err
	}
	if ch.Version != before.Version+1 || !slices.Equal(ch.Addresses, EventUpdatedAddresses) || !slices.Equal(ch.EventFilters, EventUpdatedFilters) {
		return fmt.Errorf("channel after the update: version %d, addresses %v, filters %v", ch.Version, ch.Addresses, ch.EventFilters)
	}
	arns, policies, err := emailSubscriptions(ctx, srv, topic)
	if err != nil {
		return err
	}
	kept := EventUpdatedAddresses[0]
	if !maps.Equal(arns, ch.SubscriptionARNs) || len(arns) != len(EventUpdatedAddresses) || arns[kept] != before.SubscriptionARNs[kept] {
		return fmt.Errorf("subscriptions on the topic %v, the channel records %v (before %v)", arns, ch.SubscriptionARNs, before.SubscriptionARNs)
	}
	for addr, p := range policies {
		if !sameFilter(p, EventUpdatedFilters) {
			return fmt.Errorf("subscription of %s filters %s, want %v", addr, p, EventUpdatedFilters)
		}
	}
	return nil
}

// verifyDeletedChannel: EventEmailChannel and its subscriptions are gone,
// the webhook channel is still there.
func verifyDeletedChannel(ctx context.Context, s *store.Store, srv *goaws.Server, topic string) error {
	chs, err := s.ListChannels(ctx, EventTenant)
	if err != nil {
		return err
	}
	if len(chs) != 1 || chs[0].ID != EventWebhookChannel {
		return fmt.Errorf("channels after the delete: %+v, want only %s", chs, EventWebhookChannel)
	}
	arns, _, err := emailSubscriptions(ctx, srv, topic)
	if err != nil {
		return err
	}
	if len(arns) != 0 {
		return fmt.Errorf("subscriptions left on the topic: %v", arns)
	}
	return nil
}

// checkDelivery: one webhook delivery of ch is signed with its secret
// (notify.Verify), its headers name the event it carries, and it is for
// the tenant.
func checkDelivery(r received, ch notify.Channel) (events.Event, error) {
	var ev events.Event
	if err := notify.Verify(ch.SigningSecret, r.header, r.body, time.Now(), 0); err != nil {
		return ev, fmt.Errorf("delivery to %s: %w", r.path, err)
	}
	if err := json.Unmarshal(r.body, &ev); err != nil {
		return ev, fmt.Errorf("delivery to %s: body %q: %w", r.path, r.body, err)
	}
	if r.header.Get(notify.HeaderEvent) != ev.Type || r.header.Get(notify.HeaderDelivery) != ev.ID ||
		r.header.Get("Content-Type") != "application/json" || ev.TenantID != EventTenant || ev.Version != events.Version {
		return ev, fmt.Errorf("delivery to %s: headers %v, event %s", r.path, r.header, r.body)
	}
	return ev, nil
}

// verifyChannelTest: the receiver got exactly one delivery: a channel.test
// event naming the webhook channel only, signed with its secret; the
// channel records it delivered (the 422 for the email channel delivered
// nothing).
func verifyChannelTest(ctx context.Context, s *store.Store, rc *receiver, webhook notify.Channel) error {
	reqs := rc.requests()
	if len(reqs) != 1 {
		return fmt.Errorf("the receiver got %d requests, want 1", len(reqs))
	}
	ev, err := checkDelivery(reqs[0], webhook)
	if err != nil {
		return err
	}
	if ev.Type != events.ChannelTest || !slices.Equal(ev.Channels, []string{EventWebhookChannel}) || ev.Actor.ID != EventAdminKeyID {
		return fmt.Errorf("test delivery %s", reqs[0].body)
	}
	return verifyDelivered(ctx, s, EventWebhookChannel)
}

// verifyDelivered: the channel's last delivery is recorded as a success.
func verifyDelivered(ctx context.Context, s *store.Store, id string) error {
	ch, err := s.GetChannel(ctx, EventTenant, id)
	if err != nil {
		return err
	}
	if ch.LastDeliveredAt == nil || ch.LastError != "" || ch.Failing() {
		return fmt.Errorf("channel %s delivery status: last_delivered_at %v, last_error %q", id, ch.LastDeliveredAt, ch.LastError)
	}
	return nil
}

// EventAuditID is the audit event events/relay-outbox.json carries and
// events/deliver-notifications.json is the notification of: the creation
// of EventPendingRequest.
const EventAuditID = "evt_eventpendingcreated"

// EventAuditTime is when it happened (the sample events' morning).
var EventAuditTime = time.Date(2026, 3, 12, 9, 15, 0, 0, time.UTC)

// EventAudit is EventPendingRequest's request.created audit event, as
// access.Service records it (requestMeta).
func EventAudit() access.AuditEvent {
	return access.AuditEvent{
		ID: EventAuditID, TenantID: EventTenant, ActorID: "alice", ActorType: access.ActorTypeUser,
		Action: access.AuditRequestCreated, ResourceType: "request", ResourceID: EventPendingRequest,
		Severity: access.SeverityInfo, Reasoning: "sample event: on-call investigation",
		Metadata: access.NormalizeMetadata(map[string]any{
			"requester_id": "alice", "resource_type": "aws_account", "resource_id": "123456789012",
			"status": access.StatusPending, "duration_seconds": 3600, "approval_mode": "require",
		}),
		CreatedAt: EventAuditTime,
	}
}

// SeedStreamFixtures appends EventAudit to the tenant's (empty) audit
// chain, as the first event: events/relay-outbox.json's NewImage is
// that item exactly (TestRelayOutboxSampleIsTheSeededItem).
func SeedStreamFixtures(ctx context.Context, s *store.Store) error {
	if _, err := s.Commit(ctx, EventTenant, access.Change{Audit: []access.AuditEvent{EventAudit()}}); err != nil {
		return fmt.Errorf("fixtures: audit event: %w", err)
	}
	return nil
}

// withRelay: the audit item of the sample stream record in the table;
// goaws as SNS with the events topic and a queue subscribed, where Verify
// finds what the relay published; the API links' base; debug logs (the
// relay logs each publish, with the tenant, at debug).
func (f *Fixture) withRelay(ctx context.Context, s *store.Store) error {
	if err := SeedStreamFixtures(ctx, s); err != nil {
		return err
	}
	srv, queueURL, err := f.topicWithQueue(ctx, "published")
	if err != nil {
		return err
	}
	f.Env = setEnv(setEnv(f.Env, "API_BASE_URL", EventAPIBaseURL), "LOG_LEVEL", "debug")
	f.Verify = func(ctx context.Context) error { return verifyPublished(ctx, srv, queueURL) }
	return nil
}

// topicWithQueue starts goaws with the events topic, subscribes a queue to
// it and points the function at the topic.
func (f *Fixture) topicWithQueue(ctx context.Context, queue string) (*goaws.Server, string, error) {
	srv, err := goaws.StartWithOptions(ctx, "", goaws.Options{Topics: []string{EventTopic}})
	if err != nil {
		return nil, "", err
	}
	f.stops = append(f.stops, srv.Stop)
	topic := goaws.TopicARN(EventTopic)
	queueURL, queueARN, err := srv.CreateQueue(ctx, queue)
	if err != nil {
		return nil, "", err
	}
	if _, err := srv.SNS().Subscribe(ctx, &sns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"), Endpoint: aws.String(queueARN)}); err != nil {
		return nil, "", fmt.Errorf("fixtures: subscribe the %s queue: %w", queue, err)
	}
	f.Env = setEnv(setEnv(f.Env, "SNS_TOPIC_ARN", topic), "SNS_ENDPOINT", srv.Endpoint)
	return srv, queueURL, nil
}

// verifyPublished: exactly one message reached the topic: the
// request.pending event of EventAuditID (the audit event's id, for
// consumers to deduplicate on), summarizing EventPendingRequest, with the
// API links and the attributes subscriptions filter on.
func verifyPublished(ctx context.Context, srv *goaws.Server, queueURL string) error {
	msgs, err := srv.ReceiveMessages(ctx, queueURL, 0) // goaws delivers before Publish returns
	if err != nil {
		return err
	}
	if len(msgs) != 1 {
		return fmt.Errorf("the topic got %d messages, want 1: %+v", len(msgs), msgs)
	}
	var n goaws.Notification
	if err := json.Unmarshal([]byte(msgs[0].Body), &n); err != nil {
		return fmt.Errorf("SNS envelope %q: %w", msgs[0].Body, err)
	}
	var ev events.Event
	if err := json.Unmarshal([]byte(n.Message), &ev); err != nil {
		return fmt.Errorf("event %q: %w", n.Message, err)
	}
	wantApprove := EventAPIBaseURL + "/v1/requests/" + EventPendingRequest + "/approve"
	if ev.ID != EventAuditID || ev.Type != events.RequestPending || ev.TenantID != EventTenant || ev.Version != events.Version ||
		!ev.OccurredAt.Equal(EventAuditTime) || ev.Request == nil || ev.Request.ID != EventPendingRequest ||
		ev.Request.Status != access.StatusPending || ev.Links.Approve != wantApprove {
		return fmt.Errorf("published %s", n.Message)
	}
	if n.Attr(events.AttrTenantID) != EventTenant || n.Attr(events.AttrEventType) != events.RequestPending ||
		n.Attr(events.AttrSeverity) != events.SeverityInfo {
		return fmt.Errorf("message attributes %v", n.MessageAttributes)
	}
	return nil
}

// withDispatcher: NOTIFY_MODE local, and two webhook channels on a
// receiver on loopback: EventWebhookChannel (every event) and
// EventFilteredChannel (grant.revoked only). Verify checks the sample
// event reached the first only, signed, and that the delivery was
// recorded.
func (f *Fixture) withDispatcher(ctx context.Context, s *store.Store) error {
	rc := newReceiver()
	f.stops = append(f.stops, rc.srv.Close)
	webhook, err := seedWebhook(ctx, s, notify.ModeLocal, EventWebhookChannel, webhookInput("Platform webhook", rc.srv.URL+"/webhook", nil))
	if err != nil {
		return err
	}
	if _, err := seedWebhook(ctx, s, notify.ModeLocal, EventFilteredChannel,
		webhookInput("Revocations only", rc.srv.URL+"/filtered", []string{events.GrantRevoked})); err != nil {
		return err
	}
	f.Env = setEnv(f.Env, "NOTIFY_MODE", string(notify.ModeLocal))
	f.Verify = func(ctx context.Context) error { return verifyDeliveredEvent(ctx, s, rc, webhook) }
	return nil
}

func verifyDeliveredEvent(ctx context.Context, s *store.Store, rc *receiver, webhook notify.Channel) error {
	reqs := rc.requests()
	if len(reqs) != 1 || reqs[0].path != "/webhook" {
		var paths []string
		for _, r := range reqs {
			paths = append(paths, r.path)
		}
		return fmt.Errorf("the receiver got requests for %v, want one for /webhook", paths)
	}
	ev, err := checkDelivery(reqs[0], webhook)
	if err != nil {
		return err
	}
	if ev.ID != EventAuditID || ev.Type != events.RequestPending || ev.Request == nil || ev.Request.ID != EventPendingRequest {
		return fmt.Errorf("delivered %s", reqs[0].body)
	}
	if err := verifyDelivered(ctx, s, EventWebhookChannel); err != nil {
		return err
	}
	filtered, err := s.GetChannel(ctx, EventTenant, EventFilteredChannel)
	if err != nil {
		return err
	}
	if filtered.LastDeliveredAt != nil || filtered.LastErrorAt != nil {
		return fmt.Errorf("channel %s, which filters the event out, has a delivery status", EventFilteredChannel)
	}
	return nil
}

// FnExtendAuditChain is the audit chain extender.
const FnExtendAuditChain = "extend-audit-chain"

// withChain: the sample stream record's audit item in the table, a fresh
// anchor directory; Verify: the event is entry 1 of the tenant's chain,
// MACed, and anchored.
func (f *Fixture) withChain(ctx context.Context, s *store.Store) error {
	if err := SeedStreamFixtures(ctx, s); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "jitsudo-invoke-anchors-")
	if err != nil {
		return err
	}
	f.stops = append(f.stops, func() { _ = os.RemoveAll(dir) })
	f.Env = setEnv(f.Env, "AUDIT_ANCHOR_DIR", dir)
	f.Verify = func(ctx context.Context) error {
		head, ok, err := s.ChainHead(ctx, EventTenant)
		if err != nil {
			return err
		}
		if !ok || head.Seq != 1 || head.EventID != EventAuditID || head.MAC == "" {
			return fmt.Errorf("chain head %+v (ok %v), want entry 1 for %s with a MAC", head, ok, EventAuditID)
		}
		cp, ok, err := audit.DirAnchors{Dir: dir}.Latest(ctx, EventTenant)
		if err != nil || !ok || cp.Seq != 1 || cp.Head != head.Hash {
			return fmt.Errorf("anchor %+v (ok %v, %v), want one at 1", cp, ok, err)
		}
		return nil
	}
	return nil
}
