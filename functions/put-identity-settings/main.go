// Command put-identity-settings is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() { lambdaapp.Run("put-identity-settings", api.DepsFromEnv, api.PutIdentitySettings) }
