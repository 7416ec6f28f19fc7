// Command verify-audit-log is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
)

func main() {
	lambdaapp.Run("verify-audit-log", api.FromEnv(api.WithAuditVerifier(audit.VerifierOver)), api.VerifyAuditLog)
}
