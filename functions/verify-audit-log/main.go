// Command verify-audit-log is the Lambda function behind its route in shared/routes.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/audit/awsaudit"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	wiring.API("verify-audit-log", api.VerifyAuditLog, wiring.WithAuditKeys(awsaudit.NewKMSSigner, awsaudit.NewS3Anchors))
}
