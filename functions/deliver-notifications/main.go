// Command deliver-notifications is subscribed to the SNS topic: it delivers
// each event to the tenant's matching Slack and webhook channels
// (notify.Dispatcher; email channels are SNS subscriptions of their own).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

func main() {
	log := lambdaapp.Logger("deliver-notifications")
	d, err := notify.DispatcherFromEnv(context.Background(), log)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(d.HandleSNS)
}
