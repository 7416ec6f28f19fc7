// Command store-task-token is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.StoreTaskToken.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	wiring.Task("store-task-token", func(w *workflow.Workers) any { return w.StoreTaskToken })
}
