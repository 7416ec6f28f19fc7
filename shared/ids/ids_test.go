package ids_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/ids"
)

func TestSortsByTime(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	a, b := ids.New("req_", t0), ids.New("req_", t0.Add(time.Millisecond))
	if !strings.HasPrefix(a, "req_") || len(a) != 4+ids.Len || a >= b {
		t.Fatalf("%q then %q", a, b)
	}
	// A later millisecond sorts after a burst in an earlier one.
	for range 100 {
		if c := ids.New("req_", t0); c >= b {
			t.Fatalf("%q (t0) >= %q (t0+1ms)", c, b)
		}
	}
}

// TestMonotonicWithinMillisecond: ids made in one millisecond, even
// concurrently, are distinct and each is greater than the one made before
// it by the same goroutine.
func TestMonotonicWithinMillisecond(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	const workers, each = 8, 500
	var wg sync.WaitGroup
	got := make([][]string, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				got[w] = append(got[w], ids.New("evt_", t0))
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range got {
		for i, id := range list {
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
			if i > 0 && id <= list[i-1] {
				t.Fatalf("%q after %q: not increasing", id, list[i-1])
			}
		}
	}
}

// TestRandomAcrossMilliseconds: the random part is drawn afresh in a new
// millisecond, not carried over.
func TestRandomAcrossMilliseconds(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	// Characters 10–14 are the random part's high bits (50–74): a step
	// added to the previous part (at most 2^32 each) would leave them as
	// they were; fresh draws make them differ.
	high := map[string]bool{}
	for i := range 50 {
		id := ids.New("", t0.Add(time.Duration(i)*time.Millisecond))
		high[id[10:15]] = true
	}
	if len(high) < 45 {
		t.Fatalf("only %d distinct high random parts in 50 milliseconds: the random part is carried over", len(high))
	}
}
