// Command record-failure is a Step Functions task of the access-request
// workflow (statemachines/access-request.asl.json), the Catch of every
// step: workflow.Workers.RecordFailure (revoke_failed for a failed
// expiry, an audited workflow.step_failed otherwise).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("record-failure", workflow.BuildWorkers(nil), func(w *workflow.Workers) any { return w.RecordFailure })
}
