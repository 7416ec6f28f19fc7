// Command fail-grant is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.FailGrant.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	wiring.Task("fail-grant", func(w *workflow.Workers) any { return w.FailGrant }, wiring.WithProvider(providers.IdentityCenter))
}
