package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// sweepAt runs the stack's sweeper once as if the time were now: both the
// sweeper and the service it acts through read that clock, so nothing
// waits in real time.
func (e *env) sweepAt(now time.Time) workflow.SweepResult {
	e.t.Helper()
	svc := *e.st.Workflow.Sweeper.Service.(*access.Service)
	svc.Now = func() time.Time { return now }
	sw := *e.st.Workflow.Sweeper
	sw.Service, sw.Now = &svc, svc.Now
	res, err := sw.Run(e.t.Context())
	if err != nil {
		e.t.Fatalf("sweep: %v", err)
	}
	return res
}

// stopExecution stops a request's execution by hand, as an operator (or a
// deleted state machine) would.
func (e *env) stopExecution(requestID string) {
	e.t.Helper()
	x := e.execution(requestID)
	client := sfn.NewFromConfig(wiring.AWSConfig(e.st.Workflow.Endpoint, stepfunctions.Region))
	ctx, cancel := context.WithTimeout(e.t.Context(), 10*time.Second)
	defer cancel()
	if _, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: aws.String(x.ExecutionARN), Error: aws.String("Operator")}); err != nil {
		e.t.Fatalf("StopExecution %s: %v", x.ExecutionARN, err)
	}
	e.eventually(quick, "execution aborted", func() (bool, string) {
		x := e.execution(requestID)
		return x.Status == "ABORTED", x.Status
	})
}

// TestStoppedExecutionsAreSwept: an execution stopped by hand leaves
// nothing that outlives its time. A pending request whose wait was stopped
// is expired by the sweeper after its approval deadline; an active grant
// whose execution was stopped is revoked and expired after its end, its
// assignment gone. Before the deadline (or end) plus the grace, the
// sweeper leaves both alone.
func TestStoppedExecutionsAreSwept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.alice()

	// While waiting for approval.
	p := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret, CHG-77"))
	if p.Status != access.StatusPending || p.ApprovalDeadline == nil {
		t.Fatalf("created: %+v", p.Request)
	}
	e.waitToken(p.ID)
	e.stopExecution(p.ID)

	// While the grant is active.
	a := e.create(alice, accessRequest(devstack.DevAccount, 1800, "debug a failing deploy"))
	g := e.waitGrant(alice, a.GrantID, access.GrantActive, quick)
	if h := e.holders(g); len(h) != 1 {
		t.Fatalf("holders while active: %v", h)
	}
	e.stopExecution(a.ID)

	grace := workflow.DefaultSweepGrace
	if !g.ExpiresAt.Before(*p.ApprovalDeadline) {
		t.Fatalf("the grant must end (%s) before the request's deadline (%s)", g.ExpiresAt, p.ApprovalDeadline)
	}
	// Just before the grant's end plus the grace: nothing to do.
	if res := e.sweepAt(g.ExpiresAt.Add(grace - time.Second)); res.Expired+res.Requests != 0 {
		t.Fatalf("swept before the grant's end + grace: %+v", res)
	}
	if g := e.grant(alice, g.ID); g.Status != access.GrantActive {
		t.Fatalf("grant before its end: %s", g.Status)
	}
	res := e.sweepAt(g.ExpiresAt.Add(grace + time.Second))
	if res.Expired != 1 || res.Requests != 0 {
		t.Fatalf("sweep after the grant's end: %+v", res)
	}
	g = e.grant(alice, g.ID)
	if g.Status != access.GrantExpired {
		t.Fatalf("stopped grant after the sweep: %s, want expired", g.Status)
	}
	if h := e.holders(g); len(h) != 0 {
		t.Fatalf("assignment still held after the sweep: %v", h)
	}

	if res := e.sweepAt(p.ApprovalDeadline.Add(grace - time.Second)); res.Requests != 0 {
		t.Fatalf("swept before deadline + grace: %+v", res)
	}
	if r := e.request(alice, p.ID); r.Status != access.StatusPending {
		t.Fatalf("request before its deadline: %s", r.Status)
	}
	res = e.sweepAt(p.ApprovalDeadline.Add(grace + time.Second))
	if res.Requests != 1 {
		t.Fatalf("sweep after the deadline: %+v", res)
	}
	if r := e.request(alice, p.ID); r.Status != access.StatusExpired {
		t.Fatalf("stopped pending request after the sweep: %s, want expired", r.Status)
	}
	// A second sweep finds nothing: the index no longer holds them.
	if res := e.sweepAt(g.ExpiresAt.Add(time.Hour)); res.Expired+res.Requests+res.Failed+res.RevokeFailed != 0 {
		t.Fatalf("second sweep acted again: %+v", res)
	}
}

// TestExtensionRacingTheSweep: an extension arriving at a grant's end
// races the sweeper that expires it. Whichever wins, the table and the
// provider agree right after (expired: no assignment; extended: the
// assignment kept), and a sweep after the final end leaves the grant
// expired and the assignment gone: exactly one of the two happened.
func TestExtensionRacingTheSweep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.alice()
	clock := e.st.Workflow.Clock
	t.Cleanup(clock.Reset)
	outcomes := map[string]int{}
	for round := range 6 {
		clock.Reset()
		r := e.create(alice, accessRequest(devstack.DevAccount, 1800, fmt.Sprintf("race %d: debug a deploy", round)))
		g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
		e.stopExecution(r.ID) // only the sweeper ends it
		end := *g.ExpiresAt
		// The API sees the last second before the end; the sweeper a time
		// past the end and its grace.
		clock.Set(end.Add(-time.Second))
		var wg sync.WaitGroup
		var ext resp
		wg.Add(2)
		go func() {
			defer wg.Done()
			ext = e.do("POST", "/v1/grants/"+g.ID+"/extend", alice, map[string]any{"duration_seconds": 1800, "justification": "the deploy is still running"})
		}()
		go func() { defer wg.Done(); e.sweepAt(end.Add(workflow.DefaultSweepGrace + time.Second)) }()
		wg.Wait()

		cur := e.grant(alice, g.ID)
		held := e.holders(cur)
		switch {
		case ext.Status == http.StatusOK && cur.Status == access.GrantActive:
			outcomes["extended"]++
			if !cur.ExpiresAt.Equal(end.Add(30*time.Minute)) || len(held) != 1 {
				t.Fatalf("round %d: extended grant %+v, holders %v", round, cur, held)
			}
		case ext.Status == http.StatusConflict && cur.Status == access.GrantExpired:
			outcomes["expired"]++
			if len(held) != 0 {
				t.Fatalf("round %d: expired grant still holds the assignment: %v", round, held)
			}
		default:
			t.Fatalf("round %d: extension %s, grant %s (holders %v): the table and the provider disagree", round, ext, cur.Status, held)
		}
		e.sweepAt(cur.ExpiresAt.Add(workflow.DefaultSweepGrace + time.Second))
		if final := e.grant(alice, g.ID); final.Status != access.GrantExpired || len(e.holders(final)) != 0 {
			t.Fatalf("round %d: after the final sweep %s, holders %v", round, final.Status, e.holders(final))
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
