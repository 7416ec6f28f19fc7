package devstack

import (
	"sync/atomic"
	"time"
)

// Clock is the local stack's business time: the time the API functions,
// the workers, the sweeper and the local Step Functions' timers (Wait
// states, task timeouts, retry intervals) all see. It runs Scale times as
// fast as the wall clock from Origin on (Scale 1, make dev: the wall
// clock), so a test sees a 60-second grant end or a one-minute approval
// timeout pass in 60/Scale real seconds, through the same code paths as on
// AWS. The API functions see it plus an offset tests may move forward.
type Clock struct {
	Origin time.Time
	Scale  float64 // <= 1: the wall clock
	offset atomic.Int64
}

// NewClock returns a clock running scale times as fast as the wall clock
// from now on.
func NewClock(scale float64) *Clock {
	if scale < 1 {
		scale = 1
	}
	return &Clock{Origin: time.Now(), Scale: scale}
}

// Base is the business time without the API functions' offset: the
// workers', the sweeper's and the local Step Functions' clock.
func (c *Clock) Base() time.Time {
	now := time.Now()
	if c.Scale <= 1 {
		return now
	}
	return c.Origin.Add(time.Duration(float64(now.Sub(c.Origin)) * c.Scale))
}

// Now is the API functions' time: Base plus the offset.
func (c *Clock) Now() time.Time { return c.Base().Add(time.Duration(c.offset.Load())) }

// Set makes Now run at t from now on.
func (c *Clock) Set(t time.Time) { c.offset.Store(int64(t.Sub(c.Base()))) }

// Reset drops the offset.
func (c *Clock) Reset() { c.offset.Store(0) }

// Real is the wall-clock duration of the business duration d.
func (c *Clock) Real(d time.Duration) time.Duration {
	if c.Scale <= 1 {
		return d
	}
	return time.Duration(float64(d) / c.Scale)
}

// Until is the wall-clock time until Base reaches t.
func (c *Clock) Until(t time.Time) time.Duration { return c.Real(t.Sub(c.Base())) }
