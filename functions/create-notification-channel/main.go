// Command create-notification-channel is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() {
	lambdaapp.Run("create-notification-channel", api.FromEnv(api.WithEmailSubscriptions(snspub.SubscriptionsFromEnv)), api.CreateChannel)
}
