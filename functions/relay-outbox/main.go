// Command relay-outbox reads the table's DynamoDB stream (audit inserts,
// the outbox of every committed state change) and does both things a
// committed transition needs outside the table: it publishes the domain
// event to the SNS topic (events.Relay) and performs the transition's
// workflow effect — start the execution, resume or end the approval wait
// (workflow.Driver). One consumer for both (shared/outbox): DynamoDB
// Streams serves at most two readers per shard, and extend-audit-chain is
// the other. A record with a failed half is delivered again by Lambda.
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() { wiring.RelayOutbox("relay-outbox", wiring.WithPublisher(snspub.Open)) }
