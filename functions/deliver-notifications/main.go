// Command deliver-notifications is subscribed to the SNS topic: it delivers
// each event to the tenant's matching Slack and webhook channels
// (notify.Dispatcher; email channels are SNS subscriptions of their own).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

func main() {
	lambdaapp.Worker("deliver-notifications", notify.DispatcherFromEnv, func(d *notify.Dispatcher) any { return d.HandleSNS })
}
