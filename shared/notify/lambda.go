package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

// HandleSNS is the deliver-notifications handler: every record of the SNS
// event is one events.Event (its Message), delivered to the tenant's
// matching Slack and webhook channels. A record whose channels could not
// be loaded fails the invocation, so Lambda retries the event (and sends
// it to the dead-letter queue in the end); a channel that fails after its
// own retries is recorded on the channel and does not fail the others or
// the invocation. A malformed message is logged and dropped: retrying it
// would never help.
func (d *Dispatcher) HandleSNS(ctx context.Context, e lambdaevents.SNSEvent) error {
	var errs []error
	for _, rec := range e.Records {
		var ev events.Event
		if err := json.Unmarshal([]byte(rec.SNS.Message), &ev); err != nil || ev.ID == "" || ev.TenantID == "" || ev.Type == "" {
			d.logger().ErrorContext(ctx, "notify: dropping a malformed notification", "message_id", rec.SNS.MessageID, "error", err)
			continue
		}
		res := d.Deliver(ctx, ev)
		log := d.logger().With("tenant_id", ev.TenantID, "event_id", ev.ID, "event_type", ev.Type)
		if res.ListErr != nil {
			log.ErrorContext(ctx, "notify: channels could not be loaded; the event will be retried", "error", res.ListErr.Error())
			errs = append(errs, fmt.Errorf("event %s: %w", ev.ID, res.ListErr))
			continue
		}
		log.InfoContext(ctx, "notify: delivered", "channels", len(res.Channels), "failed", len(res.Failed()))
	}
	return errors.Join(errs...)
}
