package proclog

import (
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWritesAndReads(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _, _ = b.Write([]byte("line\n")) }()
		go func() { defer wg.Done(); _ = b.String() }()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 8 {
		t.Fatalf("%d lines, want 8", got)
	}
}
