// Command delete-notification-channel is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	wiring.API("delete-notification-channel", api.DeleteChannel, wiring.WithEmailSubscriptions(snspub.OpenSubscriptions))
}
