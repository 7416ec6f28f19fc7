package devstack_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/proclog"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// metric counts the CloudWatch embedded-metric-format lines
// (workflow.EmitMetrics) that report name > 0 in the jitsudo namespace:
// what the template's alarm on that metric sums.
func metric(logs *proclog.Buffer, name string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "metrics" {
			continue
		}
		v, _ := line[name].(float64)
		emf, _ := line["_aws"].(map[string]any)
		cw, _ := emf["CloudWatchMetrics"].([]any)
		if v <= 0 || len(cw) != 1 {
			continue
		}
		def, _ := cw[0].(map[string]any)
		if def["Namespace"] != workflow.MetricNamespace {
			continue
		}
		if strings.Contains(string(must(json.Marshal(def["Metrics"]))), `"Name":"`+name+`"`) {
			n++
		}
	}
	return n
}

func must[T any](v T, _ error) T { return v }

// newEnvWithLogs is newEnv with the stack's logs kept (info and above).
func newEnvWithLogs(t *testing.T) (*env, *proclog.Buffer) {
	t.Helper()
	logs := &proclog.Buffer{}
	return newEnvWith(t, devstack.Config{Addr: "127.0.0.1:0",
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}), logs
}

// waitEntered waits for a held provider call to begin.
func (e *env) waitEntered(h *devstack.HeldCall) {
	e.t.Helper()
	select {
	case <-h.Entered():
	case <-time.After(quick):
		e.t.Fatal("the provisioning call never began")
	}
}

// TestExecutionStoppedWhileProvisioning: an execution stopped by hand
// while its provider call is in flight. Nobody retries anything; the
// sweeper finishes what the execution would have:
//
//  1. the call completes after the stop (a Lambda runs to its end): the
//     grant is active with exactly one assignment, and after its end the
//     sweeper revokes and expires it;
//  2. the call did its work but its worker died before recording it: the
//     grant stays provisioning with a partial assignment; once the
//     provisioning budget is spent the sweeper fails it and revokes the
//     assignment (none left). Before the budget it is left alone.
func TestExecutionStoppedWhileProvisioning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.alice()
	pf := e.st.Workflow.ProviderFaults
	grace, budget := workflow.DefaultSweepGrace, workflow.DefaultProvisioningBudget

	// 1. Completes after the stop.
	held := pf.HoldNextProvision()
	r := e.create(alice, accessRequest(devstack.DevAccount, 1800, "debug a failing deploy, stopped mid-provision"))
	e.waitEntered(held)
	if g := e.grant(alice, r.GrantID); g.Status != access.GrantProvisioning {
		t.Fatalf("grant while its provider call is held: %s", g.Status)
	}
	e.stopExecution(r.ID)
	released := time.Now()
	held.Release(true, nil)
	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	t.Logf("stopped mid-provision, call completed: active %s after the release; the sweeper ends it at end + grace (%s) + one schedule", time.Since(released).Round(10*time.Millisecond), grace)
	if h := e.holders(g); len(h) != 1 {
		t.Fatalf("holders of the grant provisioned after its stop: %v, want exactly one", h)
	}
	if res := e.sweepAt(g.ExpiresAt.Add(grace - time.Second)); res.Expired+res.Failed != 0 {
		t.Fatalf("swept before the end + grace: %+v", res)
	}
	if res := e.sweepAt(g.ExpiresAt.Add(grace + time.Second)); res.Expired != 1 {
		t.Fatalf("sweep after the end: %+v", res)
	}
	if g = e.grant(alice, g.ID); g.Status != access.GrantExpired || len(e.holders(g)) != 0 {
		t.Fatalf("after the sweep: %s, holders %v; want expired, none", g.Status, e.holders(g))
	}

	// 2. The worker dies after its provider call.
	held = pf.HoldNextProvision()
	r = e.create(alice, accessRequest(devstack.DevAccount, 1800, "debug the deploy again, worker dies mid-provision"))
	e.waitEntered(held)
	e.stopExecution(r.ID)
	held.Release(true, errors.New("Runtime.ExitError: the worker died after its provider call"))
	g = e.grant(alice, r.GrantID)
	e.eventually(quick, "partial assignment recorded", func() (bool, string) {
		h := e.holders(g)
		return len(h) == 1, strings.Join(h, ",")
	})
	time.Sleep(300 * time.Millisecond) // the worker's answer reaches a stopped execution: nothing more happens
	if g = e.grant(alice, r.GrantID); g.Status != access.GrantProvisioning {
		t.Fatalf("grant after its worker died: %s, want provisioning", g.Status)
	}
	if res := e.sweepAt(g.UpdatedAt.Add(budget - time.Second)); res.Failed != 0 {
		t.Fatalf("stalled grant swept within its budget: %+v", res)
	}
	if res := e.sweepAt(g.UpdatedAt.Add(budget + time.Second)); res.Failed != 1 {
		t.Fatalf("sweep after the budget: %+v", res)
	}
	g = e.grant(alice, g.ID)
	t.Logf("stopped mid-provision, worker died: failed by the sweeper at last write + budget (%s) + one schedule, partial assignment revoked", budget)
	if g.Status != access.GrantFailed || !strings.Contains(g.FailureReason, "provisioning did not complete") {
		t.Fatalf("stalled grant after the sweep: %s %q; want failed, provisioning did not complete", g.Status, g.FailureReason)
	}
	if h := e.holders(g); len(h) != 0 {
		t.Fatalf("the failed grant's partial assignment is still held: %v", h)
	}
	if res := e.sweepAt(g.UpdatedAt.Add(24 * time.Hour)); res.Expired+res.Failed+res.RevokeFailed+res.Requests != 0 {
		t.Fatalf("second sweep acted again: %+v", res)
	}
}

// TestPermanentRevokeError: the provider refuses every revoke at the
// grant's end (a tenant that broke its role). The real state machine
// wakes at the end, ExpireGrant fails for good, its Catch records it: the
// grant is revoke_failed with the provider's reason, its assignment still
// held, the execution FAILED, and RevokeFailures — the metric
// RevokeFailuresAlarm sums — reported. The sweeper retries it with
// doubling back-off (nothing before the next retry is due), alarming
// again on each failure; once the fault clears, the next retry revokes:
// expired, the assignment gone.
func TestPermanentRevokeError(t *testing.T) {
	t.Parallel()
	e, logs := newEnvWithLogs(t)
	alice := e.alice()
	wf := e.st.Workflow
	t.Cleanup(func() { wf.WorkerClock.Reset(); wf.ProviderFaults.FailRevokes(nil) })
	denied := errors.New("AccessDeniedException: User: arn:aws:sts::111111111111:assumed-role/jitsudo-provisioner/jitsudo is not authorized to perform: sso:DeleteAccountAssignment")
	wf.ProviderFaults.FailRevokes(denied)

	// A grant's shortest duration is a minute: the worker that provisions
	// it runs 57 s behind, so it ends 3 s after it is active.
	const lead = 3 * time.Second
	wf.WorkerClock.Set(wf.Clock.Base().Add(-(time.Duration(access.MinDurationSeconds)*time.Second - lead)))
	r := e.create(alice, accessRequest(devstack.DevAccount, access.MinDurationSeconds, "rotate the deploy key, CHG-12"))
	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	wf.WorkerClock.Reset()
	if h := e.holders(g); len(h) != 1 {
		t.Fatalf("holders while active: %v", h)
	}
	if left := g.ExpiresAt.Sub(wf.Clock.Base()); left > lead { // (past already, on a loaded machine)
		t.Fatalf("the grant ends in %s, want within %s", left, lead)
	}

	g = e.waitGrant(alice, g.ID, access.GrantRevokeFailed, quick)
	t.Logf("revoke_failed %s after the grant's end (the execution's ExpireGrant, its Catch, record-failure)", wf.Clock.Base().Sub(*g.ExpiresAt).Round(10*time.Millisecond))
	if !strings.Contains(g.RevokeFailure, "AccessDeniedException") || g.RevokeAttempts != 1 || g.NextRevokeAt == nil {
		t.Fatalf("revoke_failed grant: failure %q, attempts %d, next %v", g.RevokeFailure, g.RevokeAttempts, g.NextRevokeAt)
	}
	if h := e.holders(g); len(h) != 1 {
		t.Fatalf("holders while revocation fails: %v, want the assignment still there", h)
	}
	if x := e.waitExecution(r.ID, quick); x.Status != "FAILED" { // ExecutionsFailedAlarm
		t.Fatalf("execution %+v, want FAILED", x)
	}
	e.eventually(quick, "RevokeFailures reported", func() (bool, string) {
		n := metric(logs, workflow.MetricRevokeFailures)
		return n == 1, strings.Repeat("x", n)
	})
	if got := g.NextRevokeAt.Sub(g.UpdatedAt); got != access.DefaultRevokeRetryBase {
		t.Fatalf("first retry %s after the failure, want %s", got, access.DefaultRevokeRetryBase)
	}

	// Retried with back-off, alarmed each time.
	next := *g.NextRevokeAt
	if res := e.sweepAt(next.Add(-time.Second)); res.Expired+res.RevokeFailed != 0 {
		t.Fatalf("retried before it was due: %+v", res)
	}
	at := next.Add(time.Second)
	if res := e.sweepAt(at); res.RevokeFailed != 1 || res.Expired != 0 {
		t.Fatalf("retry while the fault lasts: %+v", res)
	}
	g = e.grant(alice, g.ID)
	if g.Status != access.GrantRevokeFailed || g.RevokeAttempts != 2 || g.NextRevokeAt.Sub(at) != 2*access.DefaultRevokeRetryBase {
		t.Fatalf("after the second failure: %s, attempts %d, next in %s; want revoke_failed, 2, %s", g.Status, g.RevokeAttempts, g.NextRevokeAt.Sub(at), 2*access.DefaultRevokeRetryBase)
	}
	if h := e.holders(g); len(h) != 1 {
		t.Fatalf("holders: %v", h)
	}
	if n := metric(logs, workflow.MetricRevokeFailures); n != 2 {
		t.Fatalf("RevokeFailures reported %d times, want 2 (the execution, then the sweeper)", n)
	}

	// The fault clears: the next retry revokes.
	wf.ProviderFaults.FailRevokes(nil)
	if res := e.sweepAt(g.NextRevokeAt.Add(time.Second)); res.Expired != 1 {
		t.Fatalf("retry after the fault cleared: %+v", res)
	}
	if g = e.grant(alice, g.ID); g.Status != access.GrantExpired || len(e.holders(g)) != 0 {
		t.Fatalf("after the fault cleared: %s, holders %v; want expired, none", g.Status, e.holders(g))
	}
	if res := e.sweepAt(g.UpdatedAt.Add(24 * time.Hour)); res.Expired+res.Failed+res.RevokeFailed+res.Requests != 0 {
		t.Fatalf("second sweep acted again: %+v", res)
	}
	if n := metric(logs, workflow.MetricRevokeFailures); n != 2 {
		t.Fatalf("RevokeFailures reported %d times after the fault cleared, want still 2", n)
	}
}
