// Command delete-notification-channel is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() {
	lambdaapp.Run("delete-notification-channel", api.FromEnv(api.WithEmailSubscriptions(snspub.SubscriptionsFromEnv)), api.DeleteChannel)
}
