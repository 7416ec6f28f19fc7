// Command provision-grant is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.ProvisionGrant.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	wiring.Task("provision-grant", func(w *workflow.Workers) any { return w.ProvisionGrant }, wiring.WithProvider(providers.IdentityCenter))
}
