package access_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// clockAt is an injectable clock the test moves.
type clockAt struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clockAt) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clockAt) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func limitedEnv(t *testing.T, l access.Limits) (*env, *clockAt) {
	t.Helper()
	e := newEnv(t)
	clk := &clockAt{t: time.Date(2026, 5, 4, 10, 0, 10, 0, time.UTC)} // 10 s into a minute
	e.svc.Now, e.svc.Limiter, e.svc.Limits = clk.Now, e.store, l
	return e, clk
}

func perMinute(n int64) access.Rate { return access.Rate{Max: n, Window: time.Minute} }

func messages(t *testing.T, e *env, c access.Caller, id string) int {
	t.Helper()
	ms, _, err := e.svc.ListMessages(context.Background(), c, id, access.Page{Limit: 250})
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// race runs calls of post in parallel and counts the successes and the
// refusals refused accepts (checking them); any other error fails t.
func race(t *testing.T, calls int, post func(i int) error, refused func(error) bool) (ok, no int64) {
	t.Helper()
	var okN, noN atomic.Int64
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			switch err := post(i); {
			case err == nil:
				okN.Add(1)
			case refused(err):
				noN.Add(1)
			default:
				t.Errorf("call %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	return okN.Load(), noN.Load()
}

// Of many parallel posts by one principal in one window exactly the limit
// succeed; the others are refused with a RateLimitedError and write nothing
// (no message, no audit event); another principal has a budget of its own.
func TestRateLimitHoldsUnderParallelCalls(t *testing.T) {
	const limit, calls = 5, 24
	e, _ := limitedEnv(t, access.Limits{Messages: perMinute(limit)})
	ctx := context.Background()
	r := mustCreate(t, e, alice, psInput(acctProd)).Request
	ok, limited := race(t, calls, func(i int) error {
		_, err := e.svc.PostMessage(ctx, alice, r.ID, fmt.Sprintf("message %d", i))
		return err
	}, func(err error) bool {
		var rl *access.RateLimitedError
		if !errors.As(err, &rl) {
			return false
		}
		if rl.Kind != access.RateKindMessage || rl.Max != limit || rl.RetryAfter != 50*time.Second {
			t.Errorf("limited: %+v", rl)
		}
		return true
	})
	if ok != limit || limited != calls-limit {
		t.Fatalf("%d posted, %d limited; want %d and %d", ok, limited, limit, calls-limit)
	}
	if n := messages(t, e, alice, r.ID); n != limit {
		t.Fatalf("%d messages stored, want %d", n, limit)
	}
	events, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditMessagePosted}, access.Page{Limit: 250})
	if err != nil || len(events) != limit {
		t.Fatalf("%d message.posted events (%v), want %d", len(events), err, limit)
	}
	if _, err := e.svc.PostMessage(ctx, bob, r.ID, "bob has a budget of his own"); err != nil {
		t.Fatalf("bob: %v", err)
	}
}

// The window rolls over with the (injected) clock: refused until the next
// minute starts, then counted afresh. Retry-After is the rest of the window.
func TestRateLimitWindowRollsOver(t *testing.T) {
	e, clk := limitedEnv(t, access.Limits{Requests: perMinute(2), Messages: perMinute(1)})
	ctx := context.Background()
	start := clk.Now()
	for _, acct := range []string{acctProd, acctTwo} {
		mustCreate(t, e, alice, psInput(acct))
	}
	clk.Set(start.Add(49*time.Second + 300*time.Millisecond)) // 59.3 s into the minute
	_, err := e.svc.Create(ctx, alice, psInput(acctDev), "")
	var rl *access.RateLimitedError
	if !errors.As(err, &rl) || rl.Kind != access.RateKindRequest || rl.RetryAfter != time.Second {
		t.Fatalf("third request in the minute: %v (%+v)", err, rl)
	}
	clk.Set(start.Add(50 * time.Second)) // the next minute
	if _, err := e.svc.Create(ctx, alice, psInput(acctDev), ""); err != nil {
		t.Fatalf("first request of the next minute: %v", err)
	}
	// Kinds are counted apart: requests used up, messages not.
	res, _, err := e.svc.List(ctx, alice, access.ListFilter{Mine: true}, access.Page{})
	if err != nil || len(res) != 3 {
		t.Fatalf("alice's requests: %d %v", len(res), err)
	}
	if _, err := e.svc.PostMessage(ctx, alice, res[0].ID, "hello"); err != nil {
		t.Fatalf("message: %v", err)
	}
}

// A grant extension is limited per principal like the other writes; an
// ask is counted whatever policy decides.
func TestRateLimitExtensions(t *testing.T) {
	e, _ := limitedEnv(t, access.Limits{Extensions: perMinute(1)})
	ctx := context.Background()
	g := mustCreate(t, e, alice, psInput(acctDev)).Grant
	if _, err := e.svc.ProvisionGrant(ctx, tenantA, g.ID); err != nil {
		t.Fatal(err)
	}
	// The test rules permit no extension: the first ask is decided (and
	// denied) by policy, and counted all the same.
	_, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 600, Justification: "more time"})
	var denied *access.PolicyDeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("first extension: %v", err)
	}
	_, err = e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 600, Justification: "more time"})
	var rl *access.RateLimitedError
	if !errors.As(err, &rl) || rl.Kind != access.RateKindExtension {
		t.Fatalf("second extension: %v", err)
	}
}

// The cap of messages per request holds under parallel posts (the count
// is written in the message's transaction); decisions' system messages
// are not counted, so a full conversation never blocks a review.
func TestMessageCap(t *testing.T) {
	const capN, calls = 4, 12
	e, _ := limitedEnv(t, access.Limits{MaxMessagesPerRequest: capN})
	ctx := context.Background()
	r := mustCreate(t, e, alice, psInput(acctProd)).Request
	ok, capped := race(t, calls, func(i int) error {
		who := alice
		if i%2 == 1 {
			who = bob
		}
		_, err := e.svc.PostMessage(ctx, who, r.ID, fmt.Sprintf("message %d", i))
		return err
	}, func(err error) bool {
		var mc *access.MessageCapError
		if !errors.As(err, &mc) {
			return false
		}
		if mc.RequestID != r.ID || mc.Max != capN {
			t.Errorf("capped: %+v", mc)
		}
		return true
	})
	if ok != capN || capped != calls-capN {
		t.Fatalf("%d posted, %d capped; want %d and %d", ok, capped, capN, calls-capN)
	}
	if n, err := e.store.MessageCount(ctx, tenantA, r.ID); err != nil || n != capN {
		t.Fatalf("count %d %v", n, err)
	}
	if _, err := e.svc.Approve(ctx, bob, r.ID, "ok"); err != nil {
		t.Fatalf("approve a request whose conversation is full: %v", err)
	}
	if n := messages(t, e, alice, r.ID); n != capN+1 { // + "approved by bob"
		t.Fatalf("%d messages, want %d", n, capN+1)
	}
	// Another request has its own count.
	other := mustCreate(t, e, alice, psInput(acctTwo)).Request
	if _, err := e.svc.PostMessage(ctx, alice, other.ID, "fresh"); err != nil {
		t.Fatal(err)
	}
}

// A message.posted event names its message well enough for one read (its
// id, and its own time is the message's): what notifications use to fetch
// the body instead of walking the conversation.
func TestMessagePostedEventFindsItsMessage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := mustCreate(t, e, alice, psInput(acctProd)).Request
	for i := range 3 {
		if _, err := e.svc.PostMessage(ctx, alice, r.ID, fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	events, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditMessagePosted}, access.Page{})
	if err != nil || len(events) != 3 {
		t.Fatalf("%d events %v", len(events), err)
	}
	for _, ev := range events {
		id, _ := ev.Metadata["message_id"].(string)
		m, err := e.store.GetMessage(ctx, tenantA, ev.ResourceID, id, ev.CreatedAt)
		if err != nil || m.ID != id || m.Body == "" {
			t.Fatalf("message of %s: %+v %v", ev.ID, m, err)
		}
	}
	if _, err := e.store.GetMessage(ctx, tenantA, r.ID, "msg_nope", events[0].CreatedAt); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("missing message: %v", err)
	}
}
