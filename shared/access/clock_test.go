package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// Decisions respect the clock (issue 10, item 2): approve, deny or cancel
// after the approval deadline expires the request in that same conditional
// write (audited like the ApprovalTimeoutWorker's expiry) and refuses the
// decision with the request's real state; the waiting execution is told.
func TestDecisionAfterDeadlineExpires(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		decide func(e *env, id string) (access.Request, error)
	}{
		{"approve", func(e *env, id string) (access.Request, error) { return e.svc.Approve(ctx, bob, id, "ok") }},
		{"deny", func(e *env, id string) (access.Request, error) { return e.svc.Deny(ctx, bob, id, "no") }},
		{"cancel", func(e *env, id string) (access.Request, error) { return e.svc.Cancel(ctx, alice, id) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			res := mustCreate(t, e, alice, psInput(acctProd))
			r := res.Request
			if r.Status != access.StatusPending || r.ApprovalDeadline == nil {
				t.Fatalf("created: %+v", r)
			}
			if _, _, err := e.store.SetTaskToken(ctx, tenantA, r.ID, "tok-1"); err != nil {
				t.Fatal(err)
			}
			// 17 s after the deadline (the execution's own timeout has
			// not fired yet).
			e.svc.Now = func() time.Time { return r.ApprovalDeadline.Add(17 * time.Second) }
			_, err := tc.decide(e, r.ID)
			var se *access.StateError
			if !errors.As(err, &se) || !errors.Is(err, access.ErrConflict) || se.Status != access.StatusExpired || se.At == nil || !se.At.Equal(*r.ApprovalDeadline) {
				t.Fatalf("%s after the deadline: %v", tc.name, err)
			}
			got, err := e.store.GetRequest(ctx, tenantA, r.ID)
			if err != nil || got.Status != access.StatusExpired || got.DecidedBy != access.DecidedByTimeout || got.GrantID != "" || len(got.Reviews) != 0 {
				t.Fatalf("stored request: %+v %v", got, err)
			}
			// Audited as the timeout worker does, naming the late decision.
			evs, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{ResourceID: r.ID}, access.Page{})
			if err != nil || len(evs) != 2 || evs[0].Action != access.AuditRequestExpired || evs[0].ActorID != access.DecidedByTimeout ||
				evs[0].Metadata["late_decision"] != tc.name || evs[0].Metadata["late_decision_by"] == "" {
				t.Fatalf("audit: %+v %v", evs, err)
			}
			// The wait is ended with Expired (fast path).
			rs := e.wf.Resumes()
			if len(rs) != 1 || rs[0].Token != "tok-1" || rs[0].Outcome.Status != access.StatusExpired {
				t.Fatalf("resumes: %+v", rs)
			}
			// The target is free again; the timeout worker later changes nothing.
			if x, err := e.svc.ExpireRequest(ctx, tenantA, r.ID); err != nil || x.Version != got.Version {
				t.Fatalf("timeout worker after: %+v %v", x, err)
			}
			e.svc.Now = nil
			if _, err := e.svc.Create(ctx, alice, psInput(acctProd), ""); err != nil {
				t.Fatalf("the target lock was not released: %v", err)
			}
			if v := verify(t, e, tenantA); !v.Valid {
				t.Fatalf("audit chain: %+v", v)
			}
		})
	}
}

// Just before the deadline a decision still counts.
func TestDecisionBeforeDeadlineCounts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := mustCreate(t, e, alice, psInput(acctProd)).Request
	e.svc.Now = func() time.Time { return r.ApprovalDeadline.Add(-time.Millisecond) }
	got, err := e.svc.Approve(ctx, bob, r.ID, "")
	if err != nil || got.Status != access.StatusApproved {
		t.Fatalf("approve before the deadline: %+v %v", got, err)
	}
}

// Extend after the grant's end is a conflict (issue 10, item 2), even
// while its workflow has not expired it yet; so is the final approval of
// an extension request once the grant's end has passed.
func TestExtendAfterEnd(t *testing.T) {
	ctx := context.Background()
	e := extendEnv(t)
	g := activeGrant(t, e, alice, acctDev)
	in := access.ExtendInput{DurationSeconds: 1800, Justification: "deploy still running"}
	e.svc.Now = func() time.Time { return g.ExpiresAt.Add(time.Second) }
	_, err := e.svc.ExtendGrant(ctx, alice, g.ID, in)
	var se *access.StateError
	if !errors.As(err, &se) || !errors.Is(err, access.ErrConflict) || se.At == nil || !se.At.Equal(*g.ExpiresAt) {
		t.Fatalf("extend after the end: %v", err)
	}
	if stored, _ := e.store.GetGrant(ctx, tenantA, g.ID); !stored.ExpiresAt.Equal(*g.ExpiresAt) {
		t.Fatalf("the end moved: %v", stored.ExpiresAt)
	}

	// A require extension asked in time, approved after the end.
	e.svc.Now = nil
	gp := activeGrant(t, e, alice, acctProd)
	e.svc.Now = func() time.Time { return gp.ExpiresAt.Add(-10 * time.Minute) }
	res, err := e.svc.ExtendGrant(ctx, alice, gp.ID, in)
	if err != nil || res.Request.Status != access.StatusPending {
		t.Fatalf("extension request: %+v %v", res, err)
	}
	e.svc.Now = func() time.Time { return gp.ExpiresAt.Add(time.Second) }
	if _, err := e.svc.Approve(ctx, bob, res.Request.ID, ""); !errors.As(err, &se) || se.What != "grant" || se.At == nil {
		t.Fatalf("approve an extension after the grant's end: %v", err)
	}
	if stored, _ := e.store.GetGrant(ctx, tenantA, gp.ID); !stored.ExpiresAt.Equal(*gp.ExpiresAt) {
		t.Fatalf("the end moved: %v", stored.ExpiresAt)
	}
}
