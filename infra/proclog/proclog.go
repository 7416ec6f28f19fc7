// Package proclog keeps what a child process of the local tooling (the
// Lambda Runtime Interface Emulator, the Step Functions shim) prints, for
// tests and error messages.
package proclog

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer safe for a process's output copiers and
// concurrent readers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
