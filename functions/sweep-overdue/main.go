// Command sweep-overdue is the sweeper, run on an EventBridge schedule
// (template.yaml, SweepSchedule): it finishes grants past their end,
// retries failed revokes, expires requests past their approval deadline
// and fails stalled provisioning (workflow.Sweeper).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	log := lambdaapp.Logger("sweep-overdue")
	s, err := workflow.SweeperFromEnv(context.Background(), log, providers.FromEnv)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(s.Handle)
}
