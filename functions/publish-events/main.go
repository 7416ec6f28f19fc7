// Command publish-events reads the table's DynamoDB stream (audit items,
// the outbox of every state change) and publishes each domain event to the
// SNS topic (events.Relay; a failed record is retried by Lambda).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() {
	lambdaapp.Worker("publish-events", snspub.RelayFromEnv, func(r *events.Relay) any { return r.HandleStream })
}
