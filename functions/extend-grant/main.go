// Command extend-grant is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() { lambdaapp.Run("extend-grant", api.DepsFromEnv, api.ExtendGrant) }
