// Command relay-outbox reads the table's DynamoDB stream (audit inserts,
// the outbox of every committed state change) and does both things a
// committed transition needs outside the table: it publishes the domain
// event to the SNS topic (events.Relay) and performs the transition's
// workflow effect — start the execution, resume or end the approval wait
// (workflow.Driver). One consumer for both (shared/outbox): DynamoDB
// Streams serves at most two readers per shard, and extend-audit-chain is
// the other. A record with a failed half is delivered again by Lambda.
package main

import (
	"context"
	"log/slog"

	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("relay-outbox", build, func(c *outbox.Consumer) any { return c.HandleStream })
}

// build is the consumer over its two halves, on one table client: the
// workflow driver first, then the events relay.
func build(ctx context.Context, log *slog.Logger) (*outbox.Consumer, error) {
	st, err := store.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	relay, err := snspub.RelayFromEnv(st, log)
	if err != nil {
		return nil, err
	}
	driver, err := workflow.DriverFromEnv(st, log)
	if err != nil {
		return nil, err
	}
	return outbox.New(log, outbox.Named{Name: "drive", Half: driver}, outbox.Named{Name: "publish", Half: relay}), nil
}
