// Command notify-expiring is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.NotifyExpiringSoon,
// publishing grant.expiring_soon to the SNS topic (SNS_TOPIC_ARN).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	log := lambdaapp.Logger("notify-expiring")
	w, err := workflow.WorkersFromEnv(context.Background(), log, nil)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	pub, err := snspub.PublisherFromEnv()
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	w.Events = pub
	lambda.Start(w.NotifyExpiringSoon)
}
