package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
)

// half records what it handled and fails the records in failing.
type half struct {
	name    string
	log     *[]string
	failing map[string]bool
}

func (h *half) HandleRecord(_ context.Context, rec lambdaevents.DynamoDBEventRecord) error {
	*h.log = append(*h.log, h.name+":"+rec.EventID)
	if h.failing[rec.EventID] {
		return fmt.Errorf("%s of %s: %w", h.name, rec.EventID, errors.New("unavailable"))
	}
	return nil
}

func batch(ids ...string) lambdaevents.DynamoDBEvent {
	var ev lambdaevents.DynamoDBEvent
	for i, id := range ids {
		ev.Records = append(ev.Records, lambdaevents.DynamoDBEventRecord{EventID: id,
			Change: lambdaevents.DynamoDBStreamRecord{SequenceNumber: fmt.Sprintf("%03d", i+1)}})
	}
	return ev
}

// TestAFailedHalfLosesNothing: a record whose second half fails still
// gets its first half; the batch stops at that record (reported, later
// records not handled); the redelivery repeats only the failed half, and
// then goes on. The reverse (first half failing) alike.
func TestAFailedHalfLosesNothing(t *testing.T) {
	for _, failFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("first half fails %v", failFirst), func(t *testing.T) {
			var log []string
			drive := &half{name: "drive", log: &log, failing: map[string]bool{}}
			publish := &half{name: "publish", log: &log, failing: map[string]bool{}}
			broken, ok := publish, drive
			if failFirst {
				broken, ok = drive, publish
			}
			broken.failing["b"] = true
			c := outbox.New(slog.New(slog.DiscardHandler), outbox.Named{Name: "drive", Half: drive}, outbox.Named{Name: "publish", Half: publish})

			resp, err := c.HandleStream(t.Context(), batch("a", "b", "c"))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "002" {
				t.Fatalf("failures %+v, want record 002 (b)", resp.BatchItemFailures)
			}
			if want := []string{"drive:a", "publish:a", "drive:b", "publish:b"}; !slices.Equal(log, want) {
				t.Fatalf("handled %v, want %v (both halves of b tried, c left for the redelivery)", log, want)
			}
			if !c.Done(ok.name, "b") || c.Done(broken.name, "b") {
				t.Fatalf("done: %s %v, %s %v", ok.name, c.Done(ok.name, "b"), broken.name, c.Done(broken.name, "b"))
			}

			// Lambda delivers again from b; the fault has cleared.
			broken.failing["b"] = false
			log = nil
			resp, err = c.HandleStream(t.Context(), batch("b", "c"))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("redelivery: %+v %v", resp, err)
			}
			if want := []string{broken.name + ":b", "drive:c", "publish:c"}; !slices.Equal(log, want) {
				t.Fatalf("redelivery handled %v, want %v (only the failed half of b repeated)", log, want)
			}
		})
	}
}

// TestRememberIsBounded: the process remembers at most Remember
// completions; an older one is handled again (idempotent halves).
func TestRememberIsBounded(t *testing.T) {
	var log []string
	h := &half{name: "publish", log: &log, failing: map[string]bool{}}
	c := outbox.New(slog.New(slog.DiscardHandler), outbox.Named{Name: "publish", Half: h})
	c.Remember = 2
	if _, err := c.HandleStream(t.Context(), batch("a", "b", "c")); err != nil {
		t.Fatal(err)
	}
	if c.Done("publish", "a") || !c.Done("publish", "b") || !c.Done("publish", "c") {
		t.Fatal("want the last two remembered")
	}
	log = nil
	if _, err := c.HandleStream(t.Context(), batch("a", "c")); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(log, []string{"publish:a"}) {
		t.Fatalf("handled %v, want a again (forgotten), c not", log)
	}
}
