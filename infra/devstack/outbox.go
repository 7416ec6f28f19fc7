package devstack

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
)

// OutboxTap is the local relay-outbox function: a DynamoDB Streams
// emulator of its own (a consumer with its own position and retries, as
// its event source mapping is on AWS) feeding the outbox consumer — the
// workflow driver and the events relay, one handler (shared/outbox). The
// table's other consumer is the audit chain (Notifications.Tap), as on
// AWS: two readers of the stream.
type OutboxTap struct {
	Stream   *ddbstream.Stream
	consumer atomic.Pointer[outbox.Consumer]
}

// OutboxStreamOptions: retries long enough to ride out a minute of Step
// Functions refusing calls (50 ms doubling to 2 s, 40 attempts ≈ 70 s;
// the driver retries each effect a few times within a delivery too).
var OutboxStreamOptions = ddbstream.Options{MaxAttempts: 40, Backoff: 50 * time.Millisecond}

// Tap wraps h (the table's DynamoDB-API handler) with the outbox's stream.
func (o *OutboxTap) Tap(h http.Handler, logger *slog.Logger) http.Handler {
	sink := ddbstream.Lambda(func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		c := o.consumer.Load()
		if c == nil { // writes before Bind (creating the table) carry no audit items
			return lambdaevents.DynamoDBEventResponse{}, nil
		}
		return c.HandleStream(ctx, ev)
	})
	o.Stream = ddbstream.TapWithOptions(h, sink, logger.With("component", "ddbstream", "consumer", "relay-outbox"), OutboxStreamOptions)
	return o.Stream
}

// Bind sets the consumer the stream feeds.
func (o *OutboxTap) Bind(c *outbox.Consumer) { o.consumer.Store(c) }

// Close stops the stream.
func (o *OutboxTap) Close() {
	if o != nil && o.Stream != nil {
		o.Stream.Close()
	}
}
