package devstack

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// DriverTap is the local drive-workflow function: a DynamoDB Streams
// emulator of its own (a consumer with its own position and retries, as
// its event source mapping is on AWS) feeding workflow.Driver.
type DriverTap struct {
	Stream *ddbstream.Stream
	driver atomic.Pointer[workflow.Driver]
}

// DriverStreamOptions: retries long enough to ride out a minute of Step
// Functions refusing calls (50 ms doubling to 2 s, 40 attempts ≈ 70 s;
// the driver retries each effect a few times within a delivery too).
var DriverStreamOptions = ddbstream.Options{MaxAttempts: 40, Backoff: 50 * time.Millisecond}

// Tap wraps h (the table's DynamoDB-API handler) with the driver's stream.
func (d *DriverTap) Tap(h http.Handler, logger *slog.Logger) http.Handler {
	sink := ddbstream.Lambda(func(ctx context.Context, ev lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
		drv := d.driver.Load()
		if drv == nil { // writes before Bind (creating the table) carry no audit items
			return lambdaevents.DynamoDBEventResponse{}, nil
		}
		return drv.HandleStream(ctx, ev)
	})
	d.Stream = ddbstream.TapWithOptions(h, sink, logger.With("component", "ddbstream", "consumer", "drive-workflow"), DriverStreamOptions)
	return d.Stream
}

// Bind sets the driver the stream feeds.
func (d *DriverTap) Bind(drv *workflow.Driver) { d.driver.Store(drv) }

// Close stops the stream.
func (d *DriverTap) Close() {
	if d != nil && d.Stream != nil {
		d.Stream.Close()
	}
}
