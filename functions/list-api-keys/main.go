// Command list-api-keys is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() { lambdaapp.Run("list-api-keys", api.DepsFromEnv, api.ListAPIKeys) }
