// Command store-task-token is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.StoreTaskToken.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("store-task-token", workflow.BuildWorkers(nil), func(w *workflow.Workers) any { return w.StoreTaskToken })
}
