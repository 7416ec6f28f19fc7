// Command sweep-overdue is the sweeper, run on an EventBridge schedule
// (template.yaml, SweepSchedule): it finishes grants past their end,
// retries failed revokes, expires requests past their approval deadline
// and fails stalled provisioning (workflow.Sweeper).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.Sweep("sweep-overdue", wiring.WithProvider(providers.IdentityCenter)) }
