// Command record-failure is a Step Functions task of the access-request
// workflow (statemachines/access-request.asl.json), the Catch of every
// step: workflow.Workers.RecordFailure (revoke_failed for a failed
// expiry, an audited workflow.step_failed otherwise).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	log := lambdaapp.Logger("record-failure")
	w, err := workflow.WorkersFromEnv(context.Background(), log, nil)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(w.RecordFailure)
}
