package devstack

import (
	"sync/atomic"
	"time"
)

// Clock is the time the API functions' access service sees: the wall
// clock plus an offset tests move forward (an approval deadline or a
// grant's end passed, without waiting for it). The workflow's own timers
// (the shim's) and the workers keep real time.
type Clock struct{ offset atomic.Int64 }

// Now is the wall clock plus the offset.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Set makes Now run at t from now on.
func (c *Clock) Set(t time.Time) { c.offset.Store(int64(time.Until(t))) }

// Reset returns to the wall clock.
func (c *Clock) Reset() { c.offset.Store(0) }
