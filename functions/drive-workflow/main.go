// Command drive-workflow reads the table's DynamoDB stream (audit inserts
// of request transitions, the outbox of every committed state change) and
// performs each transition's workflow effect idempotently: start the
// execution, resume or end the approval wait (workflow.Driver; a failed
// record is retried by Lambda).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("drive-workflow", workflow.DriverFromEnv, func(d *workflow.Driver) any { return d.HandleStream })
}
