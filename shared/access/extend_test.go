package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// extendEnv: testRules plus extension rules — on the dev account an
// extension of up to 2h is automatic; on the prod account one approver
// must agree.
func extendEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	rules := append(testRules(t),
		mustRule(t, policy.Rule{ID: "ext-dev-auto", Priority: 20, Effect: policy.EffectPermit,
			ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionExtendGrant},
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: acctDev,
			Conditions: "when { context.duration_seconds <= 7200 }", ApprovalMode: policy.ModeAuto}),
		mustRule(t, policy.Rule{ID: "ext-prod-require", Priority: 20, Effect: policy.EffectPermit,
			ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionExtendGrant},
			ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: acctProd,
			ApprovalMode: policy.ModeRequire, ApprovalTimeout: "30m"}),
	)
	ps, err := policy.Compile(rules)
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Policies = func(context.Context, string) (*policy.PolicySet, error) { return ps, nil }
	return e
}

func activeGrant(t *testing.T, e *env, c access.Caller, account string) access.Grant {
	t.Helper()
	ctx := context.Background()
	res := mustCreate(t, e, c, psInput(account))
	gid := res.Request.GrantID
	if res.Request.Status == access.StatusPending {
		r, err := e.svc.Approve(ctx, bob, res.Request.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		gid = r.GrantID
	}
	g, err := e.svc.ProvisionGrant(ctx, tenantA, gid)
	if err != nil || g.Status != access.GrantActive {
		t.Fatalf("provision: %+v %v", g, err)
	}
	return g
}

func TestExtendAuto(t *testing.T) {
	ctx := context.Background()
	e := extendEnv(t)
	g := activeGrant(t, e, alice, acctDev)
	in := access.ExtendInput{DurationSeconds: 1800, Justification: "deploy still running"}

	if _, err := e.svc.ExtendGrant(ctx, mallory, g.ID, in); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("stranger extends: %v", err)
	}
	if _, err := e.svc.ExtendGrant(ctx, bob, g.ID, in); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("a reviewer asks for the grantee: %v", err)
	}
	var ve *access.ValidationError
	if _, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 10}); !errors.As(err, &ve) || len(ve.Fields) != 2 {
		t.Fatalf("invalid input: %v", err)
	}

	res, err := e.svc.ExtendGrant(ctx, alice, g.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	want := g.ExpiresAt.Add(30 * time.Minute)
	if !res.Grant.ExpiresAt.Equal(want) || res.Grant.DurationSeconds != g.DurationSeconds+1800 {
		t.Fatalf("extended grant: %+v", res.Grant)
	}
	if res.Request.Status != access.StatusApproved || res.Request.ExtendsGrantID != g.ID || res.Request.Action != policy.ActionExtendGrant {
		t.Fatalf("extension request: %+v", res.Request)
	}
	stored, _ := e.store.GetGrant(ctx, tenantA, g.ID)
	if !stored.ExpiresAt.Equal(want) {
		t.Fatalf("stored end %v, want %v", stored.ExpiresAt, want)
	}
	if len(e.wf.Starts()) != 1 { // only the grant's own request started a workflow
		t.Fatalf("auto extension started a workflow: %+v", e.wf.Starts())
	}

	// The old end has passed, the new one not: the scheduled expiry waits.
	e.svc.Now = func() time.Time { return g.ExpiresAt.Add(time.Second) }
	if x, err := e.svc.ExpireGrant(ctx, tenantA, g.ID); err != nil || x.Status != access.GrantActive {
		t.Fatalf("expired at the old end: %+v %v", x, err)
	}
	e.svc.Now = func() time.Time { return want.Add(time.Second) }
	if x, err := e.svc.ExpireGrant(ctx, tenantA, g.ID); err != nil || x.Status != access.GrantExpired {
		t.Fatalf("not expired at the new end: %+v %v", x, err)
	}
	e.svc.Now = nil

	// Beyond the policy's bound → denied (and recorded).
	g2 := activeGrant(t, e, carol, acctDev)
	var pd *access.PolicyDeniedError
	if _, err := e.svc.ExtendGrant(ctx, carol, g2.ID, access.ExtendInput{DurationSeconds: 3 * 3600, Justification: "more"}); !errors.As(err, &pd) || pd.Request.Status != access.StatusDenied {
		t.Fatalf("extension beyond the bound: %v", err)
	}
	// An ended grant cannot be extended.
	if _, err := e.svc.ExtendGrant(ctx, alice, g.ID, in); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("extend an expired grant: %v", err)
	}
	if v := verify(t, e, tenantA); !v.Valid {
		t.Fatalf("audit chain: %+v", v)
	}
	evs, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditGrantExtended}, access.Page{})
	if err != nil || len(evs) != 1 || evs[0].ResourceID != g.ID {
		t.Fatalf("grant.extended audit: %+v %v", evs, err)
	}
}

func TestExtendRequireReview(t *testing.T) {
	ctx := context.Background()
	e := extendEnv(t)
	g := activeGrant(t, e, alice, acctProd)
	in := access.ExtendInput{DurationSeconds: 3600, Justification: "incident still open"}

	res, err := e.svc.ExtendGrant(ctx, alice, g.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	if r.Status != access.StatusPending || r.ApprovalsRequired != 1 || !res.Grant.ExpiresAt.Equal(*g.ExpiresAt) {
		t.Fatalf("pending extension: %+v grant %+v", r, res.Grant)
	}
	starts := e.wf.Starts()
	if last := starts[len(starts)-1]; last.RequestID != r.ID || last.Mode != policy.ModeRequire || last.GrantID != "" {
		t.Fatalf("workflow of the extension: %+v", last)
	}
	var dup *access.DuplicateError
	if _, err := e.svc.ExtendGrant(ctx, alice, g.ID, in); !errors.As(err, &dup) || dup.RequestID != r.ID {
		t.Fatalf("second pending extension: %v", err)
	}
	if _, err := e.svc.Approve(ctx, alice, r.ID, ""); !errors.Is(err, access.ErrSelfApproval) {
		t.Fatalf("grantee approves own extension: %v", err)
	}
	ap, err := e.svc.Approve(ctx, bob, r.ID, "ok")
	if err != nil || ap.Status != access.StatusApproved || ap.GrantID != "" {
		t.Fatalf("approve extension: %+v %v", ap, err)
	}
	cur, _ := e.store.GetGrant(ctx, tenantA, g.ID)
	if want := g.ExpiresAt.Add(time.Hour); !cur.ExpiresAt.Equal(want) || cur.Status != access.GrantActive {
		t.Fatalf("grant after approval: %+v", cur)
	}
	// The guard is released: another extension may be asked; a deny ends
	// it without touching the grant (nor the grant's own guard).
	res2, err := e.svc.ExtendGrant(ctx, alice, g.ID, in)
	if err != nil || res2.Request.Status != access.StatusPending {
		t.Fatalf("second extension: %+v %v", res2.Request, err)
	}
	if _, err := e.svc.Deny(ctx, bob, res2.Request.ID, "enough"); err != nil {
		t.Fatal(err)
	}
	if after, _ := e.store.GetGrant(ctx, tenantA, g.ID); after.Version != cur.Version {
		t.Fatalf("deny changed the grant: %+v", after)
	}
	var dupGrant *access.DuplicateError
	if _, err := e.svc.Create(ctx, alice, psInput(acctProd), ""); !errors.As(err, &dupGrant) || (dupGrant.GrantID != g.ID && dupGrant.RequestID != g.RequestID) {
		t.Fatalf("the live grant's guard must survive the extension's deny: %v", err)
	}
	// Approving an extension of a grant that ended meanwhile is a conflict.
	res3, err := e.svc.ExtendGrant(ctx, alice, g.ID, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeGrant(ctx, alice, g.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(ctx, bob, res3.Request.ID, ""); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("approve extension of a revoked grant: %v", err)
	}
	// ... and ends the extension: denied, not left pending for the next
	// approver to meet the same conflict.
	if x, err := e.store.GetRequest(ctx, tenantA, res3.Request.ID); err != nil || x.Status != access.StatusDenied || x.DecisionReasoning != "the grant is revoked" {
		t.Fatalf("the extension after its grant ended: %+v %v", x, err)
	}
	if _, err := e.svc.Approve(ctx, carol, res3.Request.ID, ""); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("a second approver: %v", err)
	}
}

// Concurrent extensions never lose an update: each one that succeeds moves
// the end by its own amount, on top of the others (conditional writes on
// the grant's version, the loser re-reads and decides again).
func TestExtendConcurrent(t *testing.T) {
	ctx := context.Background()
	e := extendEnv(t)
	g := activeGrant(t, e, alice, acctDev)
	const n = 6
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 600, Justification: "a bit longer"})
			errs <- err
		}()
	}
	ok := 0
	for i := 0; i < n; i++ {
		err := <-errs
		switch {
		case err == nil:
			ok++
		case errors.Is(err, access.ErrConflict): // kept losing the race: allowed, nothing written
		default:
			t.Fatal(err)
		}
	}
	cur, _ := e.store.GetGrant(ctx, tenantA, g.ID)
	if want := g.ExpiresAt.Add(time.Duration(ok) * 600 * time.Second); ok == 0 || !cur.ExpiresAt.Equal(want) {
		t.Fatalf("%d extensions succeeded, end %v, want %v", ok, cur.ExpiresAt, want)
	}
	evs, _, _ := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditGrantExtended}, access.Page{})
	if len(evs) != ok {
		t.Fatalf("%d grant.extended events for %d extensions", len(evs), ok)
	}
}
