// Package ids makes the ids of stored things: a prefix ("req_", "evt_",
// "ch_" …) and 26 characters of lowercase Crockford base32 over 48 bits of
// milliseconds and 80 random bits, so ids sort by creation time.
//
// Within one process ids are also strictly increasing when several are
// made in the same millisecond (the monotonic mode of the ULID
// specification): the random part of the previous id grows by a random
// amount instead of being drawn afresh. Newest-first listings therefore
// keep creation order for things one function instance made in a burst;
// across instances, ids of the same millisecond are ordered at random.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"sync"
	"time"
)

// Len is the length of an id without its prefix.
const Len = 26

var encoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

var (
	mu     sync.Mutex
	lastMs int64    = -1
	last   [10]byte // the random part of the previous id
)

// New returns prefix + the id for now.
func New(prefix string, now time.Time) string {
	ms := now.UnixMilli()
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16)
	mu.Lock()
	if ms == lastMs {
		// Add 1 + a random 32-bit step to the 80-bit random part. A fresh
		// draw has its top bit cleared, so 2^79 of headroom remains: no
		// realistic burst overflows it.
		var step [4]byte
		_, _ = rand.Read(step[:])
		carry := uint64(binary.BigEndian.Uint32(step[:])) + 1
		for i := len(last) - 1; i >= 0 && carry > 0; i-- {
			sum := uint64(last[i]) + carry
			last[i] = byte(sum)
			carry = sum >> 8
		}
	} else {
		_, _ = rand.Read(last[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
		last[0] &= 0x7f
		lastMs = ms
	}
	copy(b[6:], last[:])
	mu.Unlock()
	return prefix + encoding.EncodeToString(b[:])
}
