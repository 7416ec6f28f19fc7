// Command approval-timeout-worker is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.ApprovalTimeout.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	log := lambdaapp.Logger("approval-timeout-worker")
	w, err := workflow.WorkersFromEnv(context.Background(), log, nil)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(w.ApprovalTimeout)
}
