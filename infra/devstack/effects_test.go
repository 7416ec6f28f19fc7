package devstack_test

// Issue 10: access ends, whatever fails. A committed transition's workflow
// effect (start the execution, resume or end the approval wait, start
// provisioning) happens although the call right after the commit fails —
// Step Functions refusing calls for 10 s, or the API function dying
// between its commit and its workflow call — with no client retry and no
// Idempotency-Key: the workflow driver performs it from the table's
// stream. Decisions respect the clock: after the approval deadline a
// decision is 409 and the request is expired; extending a grant past its
// end is 409.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// healBound is the most a lost effect may take to be done once Step
// Functions answers again (measured times are logged).
const healBound = 30 * time.Second

// closedAfterWait is the path of an execution whose wait was ended by a
// denial, a cancellation or an expiry.
var closedAfterWait = []string{"ChooseMode", "WaitForApproval", "Closed"}

// call is a raw API call that may fail in transport (a function that died
// answers nothing): status and body, or the error. Safe in goroutines.
func (e *env) call(method, path string, h map[string]string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.st.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer hr.Body.Close()
	out, err := io.ReadAll(hr.Body)
	return hr.StatusCode, out, err
}

// parallel makes calls at once and wants each answered with its status.
type apiCall struct {
	method, path string
	h            map[string]string
	body         any
	status       int
}

func (e *env) parallel(calls []apiCall) [][]byte {
	e.t.Helper()
	out := make([][]byte, len(calls))
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, c := range calls {
		wg.Go(func() {
			status, body, err := e.call(c.method, c.path, c.h, c.body)
			if err == nil && status != c.status {
				err = fmt.Errorf("%s %s: %d %s, want %d", c.method, c.path, status, body, c.status)
			}
			out[i], errs[i] = body, err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestEffectsSurviveRefusedStepFunctions: Step Functions refuses every
// call for 10 s right after create (require and auto), approve, deny and
// cancel commit. Every call answers success; no client retries; every
// request reaches its final state once Step Functions answers again.
func TestEffectsSurviveRefusedStepFunctions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.alice(), e.bob()
	faults := e.st.Workflow.Faults
	const outage = 10 * time.Second

	// Phase 1: create. Three require requests (on accounts of their own)
	// and one auto.
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", e.admin(), requireRule("fx-a", "700000000001", "1h", 1))
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", e.admin(), requireRule("fx-b", "700000000002", "1h", 1))
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", e.admin(), requireRule("fx-c", "700000000003", "1h", 1))
	faults.RefuseFor(outage)
	start := time.Now()
	created := e.parallel([]apiCall{
		{"POST", "/v1/requests", alice, accessRequest("700000000001", 3600, "approve me"), http.StatusCreated},
		{"POST", "/v1/requests", alice, accessRequest("700000000002", 3600, "deny me"), http.StatusCreated},
		{"POST", "/v1/requests", alice, accessRequest("700000000003", 3600, "cancel me"), http.StatusCreated},
		{"POST", "/v1/requests", alice, accessRequest(devstack.DevAccount, 3600, "auto"), http.StatusCreated},
	})
	var reqs []reqOut
	for _, b := range created {
		reqs = append(reqs, decodeAs[reqOut](t, resp{Status: http.StatusCreated, Body: b}))
	}
	ra, rd, rc, auto := reqs[0], reqs[1], reqs[2], reqs[3]
	answered := time.Since(start)
	if !faults.Refusing() {
		t.Fatalf("the creates took %s, longer than the outage: the test proves nothing", answered)
	}
	if faults.Refused() == 0 {
		t.Fatal("no call was refused")
	}
	for _, r := range []reqOut{ra, rd, rc} {
		e.waitToken(r.ID) // its execution started and waits for a decision
	}
	e.waitGrant(alice, auto.Grant.ID, access.GrantActive, outage+healBound)
	healed := time.Since(start)
	t.Logf("create under a %s outage: 4 creates answered in %s; executions waiting / grant active %s after the first commit (%s after the outage)",
		outage, answered, healed.Round(100*time.Millisecond), (healed - outage).Round(100*time.Millisecond))

	// Phase 2: approve, deny, cancel.
	faults.RefuseFor(outage)
	start = time.Now()
	e.parallel([]apiCall{
		{"POST", "/v1/requests/" + ra.ID + "/approve", bob, nil, http.StatusOK},
		{"POST", "/v1/requests/" + rd.ID + "/deny", bob, nil, http.StatusOK},
		{"POST", "/v1/requests/" + rc.ID + "/cancel", alice, nil, http.StatusOK},
	})
	answered = time.Since(start)
	if !faults.Refusing() {
		t.Fatalf("the decisions took %s, longer than the outage: the test proves nothing", answered)
	}
	e.waitGrant(alice, access.GrantIDFor(ra.ID), access.GrantActive, outage+healBound)
	for _, r := range []reqOut{rd, rc} {
		if x := e.waitExecution(r.ID, outage+healBound); x.Status != "SUCCEEDED" || !slices.Equal(x.States, closedAfterWait) {
			t.Errorf("execution of %s: %+v", r.ID, x)
		}
	}
	healed = time.Since(start)
	t.Logf("decisions under a %s outage: answered in %s; grant active, waits ended %s after the first commit (%s after the outage)",
		outage, answered, healed.Round(100*time.Millisecond), (healed - outage).Round(100*time.Millisecond))
}

// TestEffectsSurviveFunctionDeath: the API function dies between its
// commit and its workflow call, for create (require and auto), approve,
// deny and cancel. The client sees the connection drop and does not
// retry; every request reaches its final state.
func TestEffectsSurviveFunctionDeath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.alice(), e.bob()
	api := e.st.Workflow.API
	for i, acct := range []string{"710000000001", "710000000002", "710000000003"} {
		e.want(http.StatusCreated, "POST", "/v1/policy-rules", e.admin(), requireRule("die-"+string(rune('a'+i)), acct, "1h", 1))
	}
	// The request ids come from the list: the dying call answers nothing.
	createDying := func(acct string) access.Request {
		t.Helper()
		api.DieAtNextCalls(1)
		body := accessRequest(acct, 3600, "die after commit")
		if status, _, err := e.call("POST", "/v1/requests", alice, body); err == nil {
			t.Fatalf("create on %s answered %d: the function did not die", acct, status)
		}
		var found access.Request
		for _, r := range listAll[access.Request](e, alice, "/v1/requests?mine=true", 50) {
			if r.Resource.ID == acct {
				found = r
			}
		}
		if found.ID == "" {
			t.Fatalf("the create on %s was not committed", acct)
		}
		return found
	}
	start := time.Now()
	ra, rd, rc := createDying("710000000001"), createDying("710000000002"), createDying("710000000003")
	auto := createDying(devstack.DevAccount)
	for _, r := range []access.Request{ra, rd, rc} {
		e.waitToken(r.ID)
	}
	e.waitGrant(alice, auto.GrantID, access.GrantActive, healBound)
	t.Logf("create, the function dying after commit: executions waiting / grant active %s after the first commit", time.Since(start).Round(100*time.Millisecond))

	start = time.Now()
	for _, c := range []struct {
		h    map[string]string
		id   string
		verb string
	}{{bob, ra.ID, "approve"}, {bob, rd.ID, "deny"}, {alice, rc.ID, "cancel"}} {
		api.DieAtNextCalls(1)
		if status, _, err := e.call("POST", "/v1/requests/"+c.id+"/"+c.verb, c.h, nil); err == nil {
			t.Fatalf("%s answered %d: the function did not die", c.verb, status)
		}
	}
	e.waitGrant(alice, access.GrantIDFor(ra.ID), access.GrantActive, healBound)
	for _, r := range []access.Request{rd, rc} {
		if x := e.waitExecution(r.ID, healBound); x.Status != "SUCCEEDED" || !slices.Equal(x.States, closedAfterWait) {
			t.Errorf("execution of %s: %+v", r.ID, x)
		}
	}
	t.Logf("decisions, the function dying after commit: grant active, waits ended %s after the first commit", time.Since(start).Round(100*time.Millisecond))
	if got := e.request(alice, ra.ID); got.Status != access.StatusApproved {
		t.Errorf("approved request: %+v", got.Request)
	}
}

// TestDecisionsRespectTheClock: 17 s after the approval deadline (the
// API's clock moved; the execution's own timer is an hour away) approve,
// deny and cancel are 409 with the request's real state, expired; the
// request is expired, audited like a timeout, and its wait ends. A grant
// past its end cannot be extended.
func TestDecisionsRespectTheClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()
	clock := e.st.Workflow.Clock
	t.Cleanup(clock.Reset)

	for _, c := range []struct {
		verb string
		h    map[string]string
	}{{"approve", bob}, {"deny", bob}, {"cancel", alice}} {
		clock.Reset()
		r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "late "+c.verb))
		e.waitToken(r.ID)
		clock.Set(r.ApprovalDeadline.Add(17 * time.Second))
		rsp := e.want(http.StatusConflict, "POST", "/v1/requests/"+r.ID+"/"+c.verb, c.h, nil)
		if d := errDetails(t, rsp); d["status"] != access.StatusExpired || d["expired_at"] != r.ApprovalDeadline.UTC().Format(time.RFC3339) {
			t.Errorf("%s after the deadline: %s", c.verb, rsp)
		}
		got := e.request(alice, r.ID)
		if got.Status != access.StatusExpired || got.DecidedBy != access.DecidedByTimeout || got.GrantID != "" {
			t.Fatalf("%s after the deadline left the request %+v", c.verb, got.Request)
		}
		ev := findEvent(t, e.audit(admin, map[string][]string{"resource_id": {r.ID}}), access.AuditRequestExpired)
		if ev.ActorID != access.DecidedByTimeout || ev.ActorType != access.ActorTypeSystem || ev.Metadata["late_decision"] != c.verb {
			t.Errorf("request.expired: %+v", ev)
		}
		if x := e.waitExecution(r.ID, quick); x.Status != "SUCCEEDED" || !slices.Equal(x.States, closedAfterWait) {
			t.Errorf("execution: %+v", x)
		}
	}

	// Extend after the end.
	clock.Reset()
	r := e.create(alice, accessRequest(devstack.DevAccount, 3600, "extend late"))
	g := e.waitGrant(alice, r.Grant.ID, access.GrantActive, quick)
	clock.Set(g.ExpiresAt.Add(time.Second))
	rsp := e.want(http.StatusConflict, "POST", "/v1/grants/"+g.ID+"/extend", alice,
		map[string]any{"duration_seconds": 1800, "justification": "too late"})
	if d := errDetails(t, rsp); d["ended_at"] != g.ExpiresAt.UTC().Format(time.RFC3339) {
		t.Errorf("extend after the end: %s", rsp)
	}
	clock.Reset()
	if got := e.grant(alice, g.ID); !got.ExpiresAt.Equal(*g.ExpiresAt) {
		t.Errorf("the end moved: %v → %v", g.ExpiresAt, got.ExpiresAt)
	}
}
