// Command approval-timeout-worker is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.ApprovalTimeout.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	wiring.Task("approval-timeout-worker", func(w *workflow.Workers) any { return w.ApprovalTimeout })
}
