// Command sweep-overdue is the sweeper, run on an EventBridge schedule
// (template.yaml, SweepSchedule): it finishes grants past their end,
// retries failed revokes, expires requests past their approval deadline
// and fails stalled provisioning (workflow.Sweeper).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("sweep-overdue", workflow.BuildSweeper(providers.FromEnv), func(s *workflow.Sweeper) any { return s.Handle })
}
