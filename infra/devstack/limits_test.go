package devstack_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// TestRateLimitOverHTTP: the local stack enforces the default per-principal
// limits. Of parallel posts by one person in one minute exactly the limit
// are answered 201; the rest 429 rate_limited with Retry-After (the rest
// of the window, also in details), having written nothing; another person
// is not affected; the next minute counts afresh. Every answer is
// validated against the OpenAPI document (the 429 is described there).
func TestRateLimitOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.alice(), e.bob()
	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "limits: the conversation"))
	// The API's clock at 1 s into a minute, so the window does not roll
	// over while the posts run (the clock keeps running from there).
	minute := time.Now().UTC().Truncate(time.Minute).Add(time.Hour)
	e.st.Workflow.Clock.Set(minute.Add(time.Second))
	t.Cleanup(e.st.Workflow.Clock.Reset)

	limit := access.DefaultMessagesPerMinute
	calls := limit + 12
	statuses := make([]resp, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			statuses[i] = e.do("POST", "/v1/requests/"+r.ID+"/messages", alice, map[string]any{"body": fmt.Sprintf("message %d", i)})
		})
	}
	wg.Wait()
	created, limited := 0, 0
	for _, s := range statuses {
		switch s.Status {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			limited++
			m := s.obj(t)
			d, _ := m["details"].(map[string]any)
			secs, _ := d["retry_after_seconds"].(float64)
			ra, err := strconv.Atoi(s.Header.Get("Retry-After"))
			if m["code"] != "rate_limited" || err != nil || float64(ra) != secs || ra < 1 || ra > 60 || d["kind"] != access.RateKindMessage || d["limit"] != float64(limit) {
				t.Errorf("429: Retry-After %q, %s", s.Header.Get("Retry-After"), s)
			}
		default:
			t.Errorf("post: %s", s)
		}
	}
	if created != limit || limited != calls-limit {
		t.Fatalf("%d created, %d limited; want %d and %d", created, limited, limit, calls-limit)
	}
	msgs := listAll[access.Message](e, alice, "/v1/requests/"+r.ID+"/messages", 250)
	if len(msgs) != limit {
		t.Fatalf("%d messages stored, want %d (a limited call writes nothing)", len(msgs), limit)
	}
	e.want(http.StatusCreated, "POST", "/v1/requests/"+r.ID+"/messages", bob, map[string]any{"body": "bob's own budget"})

	e.st.Workflow.Clock.Set(minute.Add(time.Minute + time.Second)) // the next window
	e.want(http.StatusCreated, "POST", "/v1/requests/"+r.ID+"/messages", alice, map[string]any{"body": "a new minute"})
}

// TestMessageCapOverHTTP: a stack configured with a cap of 3 messages per
// request (as MAX_MESSAGES_PER_REQUEST configures jitsudo-dev and the
// functions) answers the fourth post 409 message_limit_reached naming the
// request; decisions still add their system message.
func TestMessageCapOverHTTP(t *testing.T) {
	t.Parallel()
	l := access.DefaultLimits()
	l.MaxMessagesPerRequest = 3
	e := newEnvConfig(t, devstack.Config{Limits: &l})
	alice, bob := e.alice(), e.bob()
	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "limits: a short conversation"))
	for i := range 3 {
		e.want(http.StatusCreated, "POST", "/v1/requests/"+r.ID+"/messages", alice, map[string]any{"body": fmt.Sprintf("message %d", i)})
	}
	res := e.do("POST", "/v1/requests/"+r.ID+"/messages", bob, map[string]any{"body": "one too many"})
	m := res.obj(t)
	if d := errDetails(t, res); res.Status != http.StatusConflict || m["code"] != "message_limit_reached" || d["request_id"] != r.ID || d["max_messages"] != float64(3) {
		t.Fatalf("fourth post: %s", res)
	}
	e.waitToken(r.ID)
	e.review(bob, r.ID, "approve", nil)
	if msgs := listAll[access.Message](e, alice, "/v1/requests/"+r.ID+"/messages", 250); len(msgs) != 4 {
		t.Fatalf("%d messages, want 3 posted + the approval's", len(msgs))
	}
}
