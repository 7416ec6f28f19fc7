package workflow_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// faultyProvider is the recording provider with an injectable revoke
// fault (a tenant that broke its role: AccessDenied).
type faultyProvider struct {
	*recording.Provider
	mu        sync.Mutex
	revokeErr error
}

func (p *faultyProvider) Revoke(ctx context.Context, a access.Assignment) error {
	p.mu.Lock()
	err := p.revokeErr
	p.mu.Unlock()
	if err != nil {
		return err
	}
	return p.Provider.Revoke(ctx, a)
}

func (p *faultyProvider) fail(err error) { p.mu.Lock(); p.revokeErr = err; p.mu.Unlock() }

type sweepEnv struct {
	t     *testing.T
	st    *store.Store
	prov  *faultyProvider
	svc   *access.Service
	sw    *workflow.Sweeper
	clock time.Time
}

func newSweepEnv(t *testing.T) *sweepEnv {
	st, _, _ := dynamotest.New(t)
	e := &sweepEnv{t: t, st: st, prov: &faultyProvider{Provider: recording.New(st)}, clock: time.Now().UTC()}
	now := func() time.Time { return e.clock }
	e.svc = &access.Service{Repo: st, Provider: e.prov, Now: now, Logger: slog.New(slog.DiscardHandler),
		RevokeRetryBase: 10 * time.Second, RevokeRetryMax: time.Minute}
	e.sw = &workflow.Sweeper{Index: st, Service: e.svc, Now: now, Logger: slog.New(slog.DiscardHandler),
		Grace: 30 * time.Second, ProvisioningBudget: 5 * time.Minute}
	return e
}

// activeGrant stores an active grant of user, provisioned at the provider,
// ending at end (its execution is gone: stopped by hand or failed).
func (e *sweepEnv) activeGrant(id, user string, end time.Time) access.Grant {
	e.t.Helper()
	ctx := context.Background()
	granted := end.Add(-time.Hour)
	g := access.Grant{ID: id, TenantID: "acme", RequestID: "req-" + id, GranteeID: user,
		Resource: access.Resource{Type: "aws_account", ID: "111122223333"}, PermissionSetARN: "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
		Status: access.GrantActive, DurationSeconds: 3600, CreatedAt: granted, GrantedAt: &granted, ExpiresAt: &end, UpdatedAt: granted, Version: 1}
	if err := e.prov.Provision(ctx, access.AssignmentOf(g)); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.st.Commit(ctx, "acme", access.Change{Grant: &access.GrantWrite{Grant: g, Create: true}}); err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *sweepEnv) holders(g access.Grant) []string {
	e.t.Helper()
	h, err := e.prov.Holders(context.Background(), access.AssignmentOf(g))
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func (e *sweepEnv) grant(id string) access.Grant {
	e.t.Helper()
	g, err := e.st.GetGrant(context.Background(), "acme", id)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *sweepEnv) sweep() workflow.SweepResult {
	e.t.Helper()
	res, err := e.sw.Run(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// TestSweeperEndsGrantsPastTheirEnd: a grant whose execution is gone stays
// active only until its end plus the grace; then the sweeper revokes it
// (assignment removed) and expires it. Not before.
func TestSweeperEndsGrantsPastTheirEnd(t *testing.T) {
	e := newSweepEnv(t)
	g := e.activeGrant("g1", "alice", e.clock)
	live := e.activeGrant("g2", "bob", e.clock.Add(time.Hour))
	e.clock = e.clock.Add(29 * time.Second) // within the grace: the workflow's turn
	if res := e.sweep(); res.Found[access.SweepEnd] != 0 || e.grant("g1").Status != access.GrantActive {
		t.Fatalf("swept within the grace: %+v", res)
	}
	e.clock = e.clock.Add(2 * time.Second)
	res := e.sweep()
	if res.Found[access.SweepEnd] != 1 || res.Expired != 1 {
		t.Fatalf("result %+v", res)
	}
	if got := e.grant("g1"); got.Status != access.GrantExpired || len(e.holders(g)) != 0 {
		t.Fatalf("grant %s, holders %v: want expired and unassigned", got.Status, e.holders(g))
	}
	if got := e.grant("g2"); got.Status != access.GrantActive || len(e.holders(live)) != 1 {
		t.Fatalf("live grant %s, holders %v", got.Status, e.holders(live))
	}
	// Idempotent: nothing left.
	if res := e.sweep(); res.Found[access.SweepEnd] != 0 {
		t.Fatalf("second sweep %+v", res)
	}
}

// TestSweeperRetriesFailedRevokes: a permanent revoke error leaves the
// grant visibly revoke_failed with the reason (never active past its
// end), retried with back-off; once the fault clears it ends expired and
// the assignment is gone.
func TestSweeperRetriesFailedRevokes(t *testing.T) {
	e := newSweepEnv(t)
	g := e.activeGrant("g1", "alice", e.clock)
	e.prov.fail(errors.New("AccessDenied: User is not authorized to perform: sts:AssumeRole"))
	e.clock = e.clock.Add(31 * time.Second)
	res := e.sweep()
	if res.RevokeFailed != 1 {
		t.Fatalf("result %+v", res)
	}
	got := e.grant("g1")
	if got.Status != access.GrantRevokeFailed || !strings.Contains(got.RevokeFailure, "AccessDenied") || got.RevokeAttempts != 1 ||
		got.NextRevokeAt == nil || !got.NextRevokeAt.Equal(e.clock.Add(10*time.Second)) {
		t.Fatalf("grant %+v", got)
	}
	// Before the back-off is over: not retried.
	if res := e.sweep(); res.Found[access.SweepRevokeRetry] != 0 {
		t.Fatalf("retried early: %+v", res)
	}
	// Still failing: the back-off doubles.
	e.clock = e.clock.Add(10 * time.Second)
	if res := e.sweep(); res.RevokeFailed != 1 {
		t.Fatalf("retry: %+v", res)
	}
	if got := e.grant("g1"); got.RevokeAttempts != 2 || !got.NextRevokeAt.Equal(e.clock.Add(20*time.Second)) {
		t.Fatalf("grant after 2 attempts %+v", got)
	}
	// The fault clears: expired, assignment gone.
	e.prov.fail(nil)
	e.clock = e.clock.Add(20 * time.Second)
	if res := e.sweep(); res.Expired != 1 {
		t.Fatalf("after the fault: %+v", res)
	}
	if got := e.grant("g1"); got.Status != access.GrantExpired || len(e.holders(g)) != 0 {
		t.Fatalf("grant %s holders %v", got.Status, e.holders(g))
	}
	evs, _, err := e.st.ListAudit(context.Background(), "acme", access.AuditQuery{}, access.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, ev := range evs {
		acts = append(acts, ev.Action)
	}
	if strings.Count(strings.Join(acts, ","), access.AuditGrantRevokeFailed) != 1 || !strings.Contains(strings.Join(acts, ","), access.AuditGrantExpired) {
		t.Fatalf("audit %v: want one grant.revoke_failed, then grant.expired", acts)
	}
}

// TestSweeperRequestsAndStalledProvisioning: a pending request past its
// deadline is expired; a grant provisioning beyond the budget is failed
// with the reason, its partial assignment revoked.
func TestSweeperRequestsAndStalledProvisioning(t *testing.T) {
	e := newSweepEnv(t)
	ctx := context.Background()
	deadline := e.clock.Add(time.Minute)
	r := access.Request{ID: "req-p", TenantID: "acme", RequesterID: "alice", Resource: access.Resource{Type: "aws_account", ID: "111122223333"},
		Action: "request_access", Reason: "x", DurationSeconds: 3600, Status: access.StatusPending, ApprovalMode: "require",
		ApprovalTimeout: 60, ApprovalsRequired: 1, ApprovalDeadline: &deadline, CreatedAt: e.clock, UpdatedAt: e.clock, Version: 1}
	g := access.Grant{ID: "g-prov", TenantID: "acme", RequestID: "req-x", GranteeID: "bob",
		Resource: access.Resource{Type: "aws_account", ID: "111122223333"}, PermissionSetARN: "arn:aws:sso:::permissionSet/ssoins-1/ps-1",
		Status: access.GrantProvisioning, DurationSeconds: 3600, CreatedAt: e.clock, UpdatedAt: e.clock, Version: 1}
	if err := e.prov.Provision(ctx, access.AssignmentOf(g)); err != nil { // the crashed worker got this far
		t.Fatal(err)
	}
	for _, ch := range []access.Change{{Request: &access.RequestWrite{Request: r, Create: true}}, {Grant: &access.GrantWrite{Grant: g, Create: true}}} {
		if _, err := e.st.Commit(ctx, "acme", ch); err != nil {
			t.Fatal(err)
		}
	}
	e.clock = e.clock.Add(91 * time.Second)
	if res := e.sweep(); res.Requests != 1 || res.Failed != 0 {
		t.Fatalf("result %+v", res)
	}
	if got, _ := e.st.GetRequest(ctx, "acme", "req-p"); got.Status != access.StatusExpired {
		t.Fatalf("request %s", got.Status)
	}
	e.clock = e.clock.Add(5 * time.Minute)
	if res := e.sweep(); res.Failed != 1 {
		t.Fatalf("result %+v", res)
	}
	if got := e.grant("g-prov"); got.Status != access.GrantFailed || !strings.Contains(got.FailureReason, "provisioning did not complete") || len(e.holders(g)) != 0 {
		t.Fatalf("grant %+v holders %v", got, e.holders(g))
	}
}
