// Command approval-timeout-worker is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.ApprovalTimeout.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("approval-timeout-worker", workflow.BuildWorkers(nil), func(w *workflow.Workers) any { return w.ApprovalTimeout })
}
