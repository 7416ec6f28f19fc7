// Command extend-audit-chain reads the table's DynamoDB stream (audit
// inserts, in commit order per tenant) and appends each event to its
// tenant's hash chain, MACs it with the chain key (KMS GenerateMac, only
// this function's role may) and anchors checkpoints in the Object Lock
// bucket (audit.Extender; a failed record is retried by Lambda). On its
// schedule (AuditAnchorSchedule) it anchors the heads of idle tenants.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/audit/awsaudit"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	wiring.ExtendAudit("extend-audit-chain", wiring.WithAuditKeys(awsaudit.NewKMSSigner, awsaudit.NewS3Anchors))
}
