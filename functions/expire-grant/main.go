// Command expire-grant is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.ExpireGrant.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	log := lambdaapp.Logger("expire-grant")
	w, err := workflow.WorkersFromEnv(context.Background(), log, providers.FromEnv)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(w.ExpireGrant)
}
