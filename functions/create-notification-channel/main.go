// Command create-notification-channel is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	wiring.API("create-notification-channel", api.CreateChannel, wiring.WithEmailSubscriptions(snspub.OpenSubscriptions))
}
