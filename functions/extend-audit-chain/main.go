// Command extend-audit-chain reads the table's DynamoDB stream (audit
// inserts, in commit order per tenant) and appends each event to its
// tenant's hash chain, MACs it with the chain key (KMS GenerateMac, only
// this function's role may) and anchors checkpoints in the Object Lock
// bucket (audit.Extender; a failed record is retried by Lambda).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() {
	log := lambdaapp.Logger("extend-audit-chain")
	x, err := audit.ExtenderFromEnv(context.Background(), log)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(x.Handle)
}
