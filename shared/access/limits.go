package access

import (
	"context"
	"fmt"
	"time"
)

// Abuse limits (docs/limits.md): each principal's writes of a kind are
// counted in fixed windows (a RateLimiter: DynamoDB conditional counters
// under the tenant's keys), and a request's conversation holds at most
// Limits.MaxMessagesPerRequest posted messages (a counter beside the
// request, written in the same transaction as each message).

// Kinds of rate-limited writes (RateLimitedError.Kind; part of the
// counter's key).
const (
	RateKindMessage   = "message"   // POST /v1/requests/{id}/messages
	RateKindRequest   = "request"   // POST /v1/requests
	RateKindExtension = "extension" // POST /v1/grants/{id}/extend
)

// Rate is a fixed-window limit: at most Max calls in each Window (windows
// start at multiples of Window since the Unix epoch). Max 0: no limit.
type Rate struct {
	Max    int64
	Window time.Duration
}

// WindowAt returns the window holding now: [start, end).
func (r Rate) WindowAt(now time.Time) (start, end time.Time) {
	w := r.Window
	if w <= 0 {
		w = time.Minute
	}
	n := now.UnixNano()
	s := n - n%int64(w)
	if n < 0 && n%int64(w) != 0 {
		s -= int64(w)
	}
	start = time.Unix(0, s).UTC()
	return start, start.Add(w)
}

// Limits are the abuse limits of the write routes.
type Limits struct {
	Messages   Rate // messages a principal may post (any request)
	Requests   Rate // requests a principal may create
	Extensions Rate // grant extensions a principal may ask for
	// MaxMessagesPerRequest caps the messages posted on one request
	// (system messages of decisions are not counted). 0: no cap.
	MaxMessagesPerRequest int64
}

// Defaults of Limits (docs/configuration.md).
const (
	DefaultMessagesPerMinute     = 30
	DefaultRequestsPerMinute     = 10
	DefaultExtensionsPerMinute   = 10
	DefaultMaxMessagesPerRequest = 500
)

// DefaultLimits are the limits a deployment has unless configured.
func DefaultLimits() Limits {
	return Limits{
		Messages:              Rate{Max: DefaultMessagesPerMinute, Window: time.Minute},
		Requests:              Rate{Max: DefaultRequestsPerMinute, Window: time.Minute},
		Extensions:            Rate{Max: DefaultExtensionsPerMinute, Window: time.Minute},
		MaxMessagesPerRequest: DefaultMaxMessagesPerRequest,
	}
}

// RateLimiter counts calls per (tenant, kind, principal) in fixed windows.
// Implemented by *store.Store.
type RateLimiter interface {
	// TakeRate counts one call in the window of r that holds now, if fewer
	// than r.Max were counted there (ok); otherwise it writes nothing and
	// returns ok=false. Atomic: of any number of parallel calls in one
	// window, exactly r.Max succeed.
	TakeRate(ctx context.Context, tenantID, kind, principalID string, r Rate, now time.Time) (ok bool, err error)
}

// RateLimitedError: the caller made r.Max calls of Kind in the current
// window already. Nothing was written. An API 429 with Retry-After.
type RateLimitedError struct {
	Kind       string
	Max        int64
	Window     time.Duration
	RetryAfter time.Duration // until the window ends (whole seconds, at least 1)
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("access: rate limited: at most %d %s writes per %s; retry in %s", e.Max, e.Kind, e.Window, e.RetryAfter)
}

// MessageCapError: the request's conversation holds Max posted messages
// already. An API 409 message_limit_reached.
type MessageCapError struct {
	RequestID string
	Max       int64
}

func (e *MessageCapError) Error() string {
	return fmt.Sprintf("access: request %s has %d messages, the most a request may hold", ClipID(e.RequestID), e.Max)
}

// takeRate counts one write of kind by the caller against r, or refuses
// it with a *RateLimitedError. No limiter, or r.Max 0: no limit.
func (s *Service) takeRate(ctx context.Context, c Caller, kind string, r Rate) error {
	if s.Limiter == nil || r.Max <= 0 {
		return nil
	}
	now := s.now()
	ok, err := s.Limiter.TakeRate(ctx, c.TenantID, kind, c.ID, r, now)
	if err != nil {
		return fmt.Errorf("access: rate limit: %w", err)
	}
	if ok {
		return nil
	}
	_, end := r.WindowAt(now)
	wait := end.Sub(now)
	retry := (wait + time.Second - 1).Truncate(time.Second) // whole seconds, rounded up
	retry = max(retry, time.Second)
	s.log().InfoContext(ctx, "rate limited", "tenant_id", c.TenantID, "principal_id", c.ID, "kind", kind, "max", r.Max, "window", r.Window.String())
	return &RateLimitedError{Kind: kind, Max: r.Max, Window: r.Window, RetryAfter: retry}
}
