package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/infra/goaws"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Notifications is the local notification path, the same one as on AWS
// with local stand-ins: every table write goes through the DynamoDB
// Streams emulators (ddbstream); its audit records reach the relay
// (events.Relay, half of the relay-outbox function: OutboxTap), which publishes to the SNS
// topic on goaws; goaws POSTs every message to the dev server's /sns
// endpoint (the deliver-notifications function's subscription), which
// prints it to the console and delivers it to the tenant's channels
// (notify.Dispatcher, in local mode: http to loopback is allowed).
type Notifications struct {
	Goaws         *goaws.Server
	TopicARN      string
	Publisher     *snspub.Publisher
	Subscriptions snspub.Subscriptions
	Dispatcher    *notify.Dispatcher
	Relay         *events.Relay
	Stream        *ddbstream.Stream // the chain's stream; nil until Tap
	// Chain extends the tenants' audit chains from the same stream (the
	// extend-audit-chain function); Verifier checks them (the
	// verify-audit-log function's). Nil until BindAudit.
	Chain    *audit.Extender
	Verifier *audit.Verifier

	console io.Writer
	logger  *slog.Logger
	mu      sync.Mutex
	seen    map[string]bool // event ids printed (SNS delivers at least once)
}

// TopicName is the local SNS topic of every domain event.
const TopicName = "jitsudo-events"

// StartNotifications starts goaws with the topic. Bind it to the table,
// Tap the table's DynamoDB handler with it, and Subscribe the dev
// server's /sns endpoint once it serves.
func StartNotifications(ctx context.Context, console io.Writer, logger *slog.Logger) (*Notifications, error) {
	srv, err := goaws.StartWithOptions(ctx, "127.0.0.1:0", goaws.Options{Topics: []string{TopicName}})
	if err != nil {
		return nil, fmt.Errorf("devstack: local SNS (goaws): %w", err)
	}
	n := &Notifications{Goaws: srv, TopicARN: goaws.TopicARN(TopicName), console: console, logger: logger, seen: map[string]bool{}}
	n.Publisher = snspub.NewPublisher(srv.SNS(), n.TopicARN)
	n.Subscriptions = snspub.Subscriptions{Client: srv.SNS()}
	return n, nil
}

// Bind builds the relay and the dispatcher over the table s; apiBase is
// the API's URL for the events' links.
func (n *Notifications) Bind(s *store.Store, apiBase string) {
	n.Dispatcher = &notify.Dispatcher{Channels: s, Guard: notify.Guard{Mode: notify.ModeLocal}, Logger: n.logger.With("function", "deliver-notifications")}
	n.Relay = &events.Relay{Loader: s, Rules: events.RuleChannels{Rules: s}, Links: events.NewLinks(apiBase),
		Publisher: n.Publisher, Logger: n.logger.With("function", "relay-outbox", "half", "publish")}
}

// BindAudit builds the chain extender and verifier over the table s, the
// chain key and the anchor store.
func (n *Notifications) BindAudit(s *store.Store, signer audit.Signer, anchors audit.AnchorStore) {
	n.Chain = &audit.Extender{Repo: s, Signer: signer, Anchors: anchors, Logger: n.logger.With("function", "extend-audit-chain")}
	n.Verifier = &audit.Verifier{Repo: s, Signer: signer, Anchors: anchors}
}

// Tap wraps the table's DynamoDB-API handler with the streams emulator
// feeding the chain extender (the extend-audit-chain function, a consumer
// of its own as on AWS). The relay reads the table's other stream
// consumer, the outbox (OutboxTap), with the workflow driver.
func (n *Notifications) Tap(h http.Handler) http.Handler {
	chain := func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		if n.Chain == nil { // writes before BindAudit (creating the table) carry no audit items
			return lambdaevents.DynamoDBEventResponse{}, nil
		}
		return n.Chain.HandleStream(ctx, ev)
	}
	n.Stream = ddbstream.Tap(h, ddbstream.Lambda(chain), n.logger.With("component", "ddbstream", "consumer", "extend-audit-chain"))
	return n.Stream
}

// Subscribe subscribes endpoint (the dev server's /sns) to the topic,
// without a filter: the dispatcher selects channels per tenant.
func (n *Notifications) Subscribe(ctx context.Context, endpoint string) error {
	_, err := n.Goaws.SNS().Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: aws.String(n.TopicARN), Protocol: aws.String("http"), Endpoint: aws.String(endpoint),
	})
	if err != nil {
		return fmt.Errorf("devstack: subscribe %s: %w", endpoint, err)
	}
	return nil
}

// Handler is the /sns endpoint: SNS HTTP deliveries (the subscription's
// confirmation, then one notification per event).
func (n *Notifications) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var msg goaws.Notification
		if err := json.Unmarshal(body, &msg); err != nil {
			http.Error(w, "not an SNS message", http.StatusBadRequest)
			return
		}
		switch msg.Type {
		case "SubscriptionConfirmation":
			if err := goaws.Confirm(r.Context(), msg.SubscribeURL); err != nil {
				n.logger.Error("confirming the SNS subscription failed", "error", err.Error())
			}
		case "Notification":
			var ev events.Event
			if err := json.Unmarshal([]byte(msg.Message), &ev); err != nil {
				n.logger.Error("undecodable notification", "message_id", msg.MessageID, "error", err.Error())
				break
			}
			n.print(ev)
			// Delivery is asynchronous, as SNS → Lambda is: the
			// publisher does not wait for the channels.
			go n.Dispatcher.Deliver(context.WithoutCancel(r.Context()), ev)
		}
		w.WriteHeader(http.StatusOK)
	})
}

// print writes one line per event to the console (once per event id).
func (n *Notifications) print(ev events.Event) {
	if n.console == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen[ev.ID] {
		return
	}
	n.seen[ev.ID] = true
	var b strings.Builder
	fmt.Fprintf(&b, "[event] %s  %-20s %-8s", ev.OccurredAt.Local().Format("15:04:05"), ev.Type, ev.Severity)
	fmt.Fprintf(&b, " tenant=%s actor=%s", ev.TenantID, ev.Actor.ID)
	if r := ev.Request; r != nil {
		fmt.Fprintf(&b, " request=%s requester=%s %s:%s", r.ID, r.RequesterID, r.Resource.Type, r.Resource.ID)
		if r.DurationSeconds > 0 {
			fmt.Fprintf(&b, " for %s", time.Duration(r.DurationSeconds)*time.Second)
		}
	}
	if g := ev.Grant; g != nil {
		fmt.Fprintf(&b, " grant=%s grantee=%s", g.ID, g.GranteeID)
		if g.ExpiresAt != nil {
			fmt.Fprintf(&b, " until %s", g.ExpiresAt.Local().Format("15:04:05"))
		}
	}
	if ev.Reasoning != "" {
		fmt.Fprintf(&b, " reason=%q", ev.Reasoning)
	}
	fmt.Fprintln(n.console, b.String())
}

// Close stops the stream and goaws.
func (n *Notifications) Close() {
	if n == nil {
		return
	}
	if n.Stream != nil {
		n.Stream.Close()
	}
	if n.Goaws != nil {
		n.Goaws.Stop()
	}
}
