// Command publish-events reads the table's DynamoDB stream (audit items,
// the outbox of every state change) and publishes each domain event to the
// SNS topic (events.Relay; a failed record is retried by Lambda).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() {
	log := lambdaapp.Logger("publish-events")
	relay, err := snspub.RelayFromEnv(context.Background(), log)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(relay.HandleStream)
}
