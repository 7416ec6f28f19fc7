// Package outbox is the one consumer of the table's stream that acts on
// committed transitions (functions/relay-outbox): every audit insert is
// published as a domain event (events.Relay) and has its workflow effect
// performed (workflow.Driver), by one handler on one event source mapping.
// DynamoDB Streams serves at most two readers per shard at a time; the
// table's other reader is extend-audit-chain, kept apart for its key and
// its partition (docs/workflow-effects.md).
//
// Both halves are idempotent per record (the relay's events carry the
// audit event's id, the driver's effects are named after the request), so
// a record may be handled again. A record is done when both halves are:
// HandleStream runs every half of a record, even after another half of
// it failed (a failing workflow effect does not hold back that record's
// event, nor the reverse), and on the first record with a failed half it
// stops and reports that record (ReportBatchItemFailures). Lambda
// delivers again from there, in order, so neither half's failure loses
// the other's work, and a request's start is never overtaken by its own
// resume. A half that succeeded is remembered for the life of the
// process (Done), so the redelivery repeats only the half that failed;
// a redelivery to another instance repeats both, which idempotence makes
// harmless (subscribers deduplicate events on their id).
package outbox

import (
	"context"
	"log/slog"
	"sync"

	lambdaevents "github.com/aws/aws-lambda-go/events"
)

// Half handles one stream record, idempotently (*events.Relay,
// *workflow.Driver).
type Half interface {
	HandleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error
}

// Named is a half and the name it is logged and remembered under.
type Named struct {
	Name string
	Half Half
}

// DefaultRemember is how many (half, record) completions a Consumer
// remembers by default.
const DefaultRemember = 4096

// Consumer runs every half on every record. Halves are required;
// Logger defaults to slog.Default, Remember to DefaultRemember.
type Consumer struct {
	Halves   []Named
	Logger   *slog.Logger
	Remember int

	mu    sync.Mutex
	done  map[string]bool
	order []string
}

// New is a Consumer of halves.
func New(logger *slog.Logger, halves ...Named) *Consumer {
	return &Consumer{Halves: halves, Logger: logger}
}

func (c *Consumer) log() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// HandleStream handles one batch in order: every half of each record; on
// the first record with a failed half it stops and reports that record.
// The error is always nil (a failed batch is expressed by the response).
func (c *Consumer) HandleStream(ctx context.Context, e lambdaevents.DynamoDBEvent) (lambdaevents.DynamoDBEventResponse, error) {
	var resp lambdaevents.DynamoDBEventResponse
	for _, rec := range e.Records {
		failed := false
		for _, h := range c.Halves {
			if c.Done(h.Name, rec.EventID) {
				continue
			}
			if err := h.Half.HandleRecord(ctx, rec); err != nil {
				c.log().ErrorContext(ctx, "outbox: a half failed; the record will be delivered again",
					"half", h.Name, "event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "error", err)
				failed = true
				continue
			}
			c.remember(h.Name, rec.EventID)
		}
		if failed {
			resp.BatchItemFailures = []lambdaevents.DynamoDBBatchItemFailure{{ItemIdentifier: rec.Change.SequenceNumber}}
			return resp, nil
		}
	}
	return resp, nil
}

// Done reports whether half already handled the record eventID in this
// process.
func (c *Consumer) Done(half, eventID string) bool {
	if eventID == "" {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[half+"\x00"+eventID]
}

func (c *Consumer) remember(half, eventID string) {
	if eventID == "" {
		return
	}
	limit := c.Remember
	if limit <= 0 {
		limit = DefaultRemember
	}
	k := half + "\x00" + eventID
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = map[string]bool{}
	}
	if c.done[k] {
		return
	}
	c.done[k] = true
	c.order = append(c.order, k)
	for len(c.order) > limit {
		delete(c.done, c.order[0])
		c.order = c.order[1:]
	}
}
