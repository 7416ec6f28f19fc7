// Command delete-policy-rule is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.API("delete-policy-rule", api.DeleteRule) }
