// Package snspub publishes notification events (events.Event) to the SNS
// topic and manages the topic's email subscriptions. It is its own package
// so that only the functions that talk to SNS link the SNS client: they
// pass Open or OpenSubscriptions to shared/wiring.
package snspub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

// MaxMessageBytes is SNS's limit on a published message (body and
// attributes, 256 KiB).
const MaxMessageBytes = 256 * 1024

// Open is the Publisher to topicARN over a client from cfg
// (wiring.AWSConfig, whose BaseEndpoint is SNS_ENDPOINT when set: goaws
// locally, a VPC endpoint).
func Open(cfg aws.Config, topicARN string) *Publisher {
	return NewPublisher(sns.NewFromConfig(cfg), topicARN)
}

// OpenSubscriptions is Subscriptions over a client from cfg (as Open's).
func OpenSubscriptions(cfg aws.Config) Subscriptions {
	return Subscriptions{Client: sns.NewFromConfig(cfg)}
}

// Publisher publishes events to one SNS topic: one message per event, the
// JSON body as Message, and the message attributes tenant_id, event_type
// and severity (DataType String) that subscriptions filter on.
type Publisher struct {
	Client   *sns.Client
	TopicARN string
	// Subject, when set, gives the message's Subject (what email
	// subscribers see as the subject line); it is cleaned to what SNS
	// accepts (printable ASCII, under 100 characters). Nil: no subject.
	Subject func(events.Event) string
}

// NewPublisher returns a Publisher to topicARN with DefaultSubject.
func NewPublisher(client *sns.Client, topicARN string) *Publisher {
	return &Publisher{Client: client, TopicARN: topicARN, Subject: DefaultSubject}
}

// DefaultSubject is "[jitsudo] <type> <request or grant id> (<tenant>)".
func DefaultSubject(ev events.Event) string {
	s := "[jitsudo] " + ev.Type
	switch {
	case ev.Request != nil && ev.Request.ID != "":
		s += " " + ev.Request.ID
	case ev.Grant != nil && ev.Grant.ID != "":
		s += " " + ev.Grant.ID
	}
	return s + " (" + ev.TenantID + ")"
}

// Attributes are the SNS message attributes of ev.
func Attributes(ev events.Event) map[string]types.MessageAttributeValue {
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return map[string]types.MessageAttributeValue{
		events.AttrTenantID:  str(ev.TenantID),
		events.AttrEventType: str(ev.Type),
		events.AttrSeverity:  str(ev.Severity),
	}
}

// Publish publishes ev. The event must have an id, a tenant, a type and a
// severity (an attribute value may not be empty); Version 0 is set to
// Version. Errors wrap the SNS client's.
func (p *Publisher) Publish(ctx context.Context, ev events.Event) error {
	if ev.ID == "" || ev.TenantID == "" || ev.Type == "" || ev.Severity == "" {
		return fmt.Errorf("snspub: publish: event %q lacks id, tenant, type or severity", ev.ID)
	}
	if p == nil || p.Client == nil || p.TopicARN == "" {
		return errors.New("snspub: publish: no SNS client or topic")
	}
	if ev.Version == 0 {
		ev.Version = events.Version
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("snspub: encode event %s: %w", ev.ID, err)
	}
	attrs := Attributes(ev)
	size := len(body)
	for k, v := range attrs {
		size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	if size > MaxMessageBytes {
		return fmt.Errorf("snspub: event %s is %d bytes, more than SNS accepts (%d): %w", ev.ID, size, MaxMessageBytes, events.ErrUndeliverable)
	}
	in := &sns.PublishInput{
		TopicArn:          aws.String(p.TopicARN),
		Message:           aws.String(string(body)),
		MessageAttributes: attrs,
	}
	if p.Subject != nil {
		if s := cleanSubject(p.Subject(ev)); s != "" {
			in.Subject = aws.String(s)
		}
	}
	if _, err := p.Client.Publish(ctx, in); err != nil {
		return fmt.Errorf("snspub: publish %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}

// cleanSubject makes s an acceptable SNS Subject: printable ASCII (others
// become '?'), no line breaks, trimmed, at most 99 characters.
func cleanSubject(s string) string {
	b := []byte(strings.TrimSpace(s))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	s = strings.TrimSpace(string(b))
	if len(s) > 99 {
		s = s[:99]
	}
	return s
}

// FilterPolicy is the subscription filter policy of a tenant's channel:
// {"tenant_id":[tenantID]} and, when eventTypes is not empty,
// "event_type":[eventTypes...] (sorted, without duplicates). It matches
// the message attributes Publish sets (FilterPolicyScope
// MessageAttributes). tenantID is required — a subscription never
// receives other tenants' events — and every type must be one of events.Types.
func FilterPolicy(tenantID string, eventTypes []string) (string, error) {
	if strings.TrimSpace(tenantID) == "" {
		return "", errors.New("snspub: a subscription needs a tenant")
	}
	p := map[string][]string{events.AttrTenantID: {tenantID}}
	if len(eventTypes) > 0 {
		ts := slices.Clone(eventTypes)
		slices.Sort(ts)
		ts = slices.Compact(ts)
		for _, t := range ts {
			if !slices.Contains(events.Types, t) {
				return "", fmt.Errorf("snspub: unknown event type %q", t)
			}
		}
		p[events.AttrEventType] = ts
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Subscriptions manages the topic's subscriptions (channels of type email,
// and HTTP endpoints for tests and local development).
type Subscriptions struct {
	Client *sns.Client
}

// SubscribeEmail subscribes address to topicARN for tenantID's events of
// eventTypes (all types when empty) and returns the subscription ARN. SNS
// then mails a confirmation link; until it is followed the subscription
// is pending and receives nothing (the ARN is returned anyway:
// ReturnSubscriptionArn).
func (s Subscriptions) SubscribeEmail(ctx context.Context, topicARN, address, tenantID string, eventTypes []string) (string, error) {
	if !strings.Contains(address, "@") {
		return "", fmt.Errorf("snspub: %q is not an email address", address)
	}
	return s.subscribe(ctx, topicARN, "email", address, tenantID, eventTypes)
}

// SubscribeHTTP subscribes an http(s) endpoint like SubscribeEmail. The
// endpoint receives a SubscriptionConfirmation first and must visit its
// SubscribeURL (AWS; goaws delivers without confirmation).
func (s Subscriptions) SubscribeHTTP(ctx context.Context, topicARN, endpointURL, tenantID string, eventTypes []string) (string, error) {
	proto := "http"
	switch {
	case strings.HasPrefix(endpointURL, "https://"):
		proto = "https"
	case strings.HasPrefix(endpointURL, "http://"):
	default:
		return "", fmt.Errorf("snspub: %q is not an http(s) URL", endpointURL)
	}
	return s.subscribe(ctx, topicARN, proto, endpointURL, tenantID, eventTypes)
}

func (s Subscriptions) subscribe(ctx context.Context, topicARN, protocol, endpoint, tenantID string, eventTypes []string) (string, error) {
	fp, err := FilterPolicy(tenantID, eventTypes)
	if err != nil {
		return "", err
	}
	out, err := s.Client.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(topicARN),
		Protocol: aws.String(protocol),
		Endpoint: aws.String(endpoint),
		Attributes: map[string]string{
			"FilterPolicy":      fp,
			"FilterPolicyScope": "MessageAttributes",
		},
		ReturnSubscriptionArn: true,
	})
	if err != nil {
		return "", fmt.Errorf("snspub: subscribe %s endpoint to %s: %w", protocol, topicARN, err)
	}
	arn := aws.ToString(out.SubscriptionArn)
	if arn == "" {
		return "", fmt.Errorf("snspub: subscribe %s endpoint to %s: no subscription ARN returned", protocol, topicARN)
	}
	return arn, nil
}

// Unsubscribe deletes a subscription.
func (s Subscriptions) Unsubscribe(ctx context.Context, subscriptionARN string) error {
	if _, err := s.Client.Unsubscribe(ctx, &sns.UnsubscribeInput{SubscriptionArn: aws.String(subscriptionARN)}); err != nil {
		return fmt.Errorf("snspub: unsubscribe %s: %w", subscriptionARN, err)
	}
	return nil
}

// SetFilter replaces a subscription's filter policy (a channel's event
// filters changed) without a new confirmation mail.
func (s Subscriptions) SetFilter(ctx context.Context, subscriptionARN, tenantID string, eventTypes []string) error {
	fp, err := FilterPolicy(tenantID, eventTypes)
	if err != nil {
		return err
	}
	if _, err := s.Client.SetSubscriptionAttributes(ctx, &sns.SetSubscriptionAttributesInput{
		SubscriptionArn: aws.String(subscriptionARN), AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(fp),
	}); err != nil {
		return fmt.Errorf("snspub: set filter of %s: %w", subscriptionARN, err)
	}
	return nil
}
