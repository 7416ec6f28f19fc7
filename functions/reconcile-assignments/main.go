// Command reconcile-assignments is the drift reconciler, run on an
// EventBridge schedule (template.yaml, ReconcileSchedule): for every
// tenant with AWS settings it compares live grants with the Identity
// Center assignments (providers.Reconcile).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
)

func main() {
	log := lambdaapp.Logger("reconcile-assignments")
	r, err := providers.ReconcileFromEnv(context.Background(), log)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(r.Handle)
}
