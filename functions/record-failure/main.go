// Command record-failure is a Step Functions task of the access-request
// workflow (statemachines/access-request.asl.json), the Catch of every
// step: workflow.Workers.RecordFailure (revoke_failed for a failed
// expiry, an audited workflow.step_failed otherwise).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	wiring.Task("record-failure", func(w *workflow.Workers) any { return w.RecordFailure })
}
