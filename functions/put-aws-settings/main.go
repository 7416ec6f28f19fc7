// Command put-aws-settings is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.API("put-aws-settings", api.PutAWSSettings) }
