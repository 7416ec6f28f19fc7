// Command list-audit-log is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() { lambdaapp.Run("list-audit-log", api.DepsFromEnv, api.ListAuditLog) }
