// Command notify-expiring is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.NotifyExpiringSoon,
// publishing grant.expiring_soon to the SNS topic (SNS_TOPIC_ARN).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	wiring.Task("notify-expiring", func(w *workflow.Workers) any { return w.NotifyExpiringSoon }, wiring.WithPublisher(snspub.Open))
}
