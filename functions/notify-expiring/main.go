// Command notify-expiring is a Step Functions task of the access-request workflow
// (statemachines/access-request.asl.json): workflow.Workers.NotifyExpiringSoon,
// publishing grant.expiring_soon to the SNS topic (SNS_TOPIC_ARN).
package main

import (
	"context"
	"log/slog"

	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

func main() {
	lambdaapp.Worker("notify-expiring", build, func(w *workflow.Workers) any { return w.NotifyExpiringSoon })
}

// build is the task workers with the one publisher among them.
func build(ctx context.Context, log *slog.Logger) (*workflow.Workers, error) {
	w, err := workflow.WorkersFromEnv(ctx, log, nil)
	if err != nil {
		return nil, err
	}
	if w.Events, err = snspub.PublisherFromEnv(); err != nil {
		return nil, err
	}
	return w, nil
}
