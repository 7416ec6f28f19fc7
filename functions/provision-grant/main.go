// Command provision-grant is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.ProvisionGrant.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("provision-grant", workflow.BuildWorkers(providers.FromEnv), func(w *workflow.Workers) any { return w.ProvisionGrant })
}
