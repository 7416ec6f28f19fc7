package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// EnvMode selects the URL rules of delivery: "local" (http to loopback
// allowed) or "aws" (the default).
const EnvMode = "NOTIFY_MODE"

// ModeFromEnv reads NOTIFY_MODE.
func ModeFromEnv() (Mode, error) {
	switch v := config.String(EnvMode); v {
	case "", "aws":
		return ModeAWS, nil
	case "local":
		return ModeLocal, nil
	default:
		return ModeAWS, fmt.Errorf("notify: %s=%q: want aws or local", EnvMode, v)
	}
}

// DispatcherFromEnv is the deliver-notifications function's dispatcher
// over the table (store.FromEnv), with NOTIFY_MODE's guard.
func DispatcherFromEnv(ctx context.Context, logger *slog.Logger) (*Dispatcher, error) {
	st, err := store.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	mode, err := ModeFromEnv()
	if err != nil {
		return nil, err
	}
	return &Dispatcher{Channels: st, Guard: Guard{Mode: mode}, Logger: logger}, nil
}

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
