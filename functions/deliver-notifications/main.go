// Command deliver-notifications is subscribed to the SNS topic: it delivers
// each event to the tenant's matching Slack and webhook channels
// (notify.Dispatcher; email channels are SNS subscriptions of their own).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.Deliver("deliver-notifications") }
