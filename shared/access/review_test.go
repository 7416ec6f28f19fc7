package access_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

func TestReviewTransitions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	pending := func() access.Request { return mustCreate(t, e, alice, psInput(acctProd)).Request }
	// Each case gets a fresh pending request; the previous one is ended
	// so the duplicate guard lets the next be created.
	cases := []struct {
		name    string
		do      func(id string) (access.Request, error)
		wantErr error
		status  string
	}{
		{"self-approval refused although policy allows alice to approve", func(id string) (access.Request, error) { return e.svc.Approve(ctx, alice, id, "") }, access.ErrSelfApproval, ""},
		{"self-deny refused", func(id string) (access.Request, error) { return e.svc.Deny(ctx, alice, id, "") }, access.ErrSelfApproval, ""},
		// mallory may not even see the request: not found, like an unknown id.
		{"reviewer without policy", func(id string) (access.Request, error) { return e.svc.Approve(ctx, mallory, id, "") }, access.ErrNotFound, ""},
		{"cancel by other", func(id string) (access.Request, error) { return e.svc.Cancel(ctx, bob, id) }, access.ErrForbidden, ""},
		{"missing", func(string) (access.Request, error) { return e.svc.Approve(ctx, bob, "req_nope", "") }, access.ErrNotFound, ""},
		{"approve", func(id string) (access.Request, error) { return e.svc.Approve(ctx, bob, id, "looks fine") }, nil, access.StatusApproved},
		{"deny", func(id string) (access.Request, error) { return e.svc.Deny(ctx, bob, id, "not now") }, nil, access.StatusDenied},
		{"cancel", func(id string) (access.Request, error) { return e.svc.Cancel(ctx, alice, id) }, nil, access.StatusCancelled},
		{"expire", func(id string) (access.Request, error) { return e.svc.ExpireRequest(ctx, tenantA, id) }, nil, access.StatusExpired},
	}
	var prev string
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if prev != "" {
				if r, _ := e.svc.Get(ctx, alice, prev); r.Status == access.StatusPending {
					if _, err := e.svc.Cancel(ctx, alice, prev); err != nil {
						t.Fatal(err)
					}
				} else if r.GrantID != "" {
					if _, err := e.svc.RevokeGrant(ctx, admin, r.GrantID, ""); err != nil {
						t.Fatal(err)
					}
				}
			}
			r := pending()
			prev = r.ID
			if _, err := e.svc.StoreTaskToken(ctx, tenantA, r.ID, "tok-"+r.ID); err != nil {
				t.Fatal(err)
			}
			nres := len(e.wf.Resumes())
			got, err := tc.do(r.ID)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				cur, _ := e.svc.Get(ctx, alice, r.ID)
				if cur.Status != access.StatusPending || len(e.wf.Resumes()) != nres {
					t.Fatalf("refused call changed state: %s", cur.Status)
				}
				return
			}
			if got.Status != tc.status || got.DecidedAt == nil {
				t.Fatalf("status %s", got.Status)
			}
			// Second transition on the decided request: the loser gets
			// ErrConflict, as a StateError naming the status now.
			var se *access.StateError
			if _, err := e.svc.Deny(ctx, carol, r.ID, ""); !errors.Is(err, access.ErrConflict) || !errors.As(err, &se) || se.Status != tc.status {
				t.Fatalf("after %s, deny: %v", tc.status, err)
			}
			if _, err := e.svc.Cancel(ctx, alice, r.ID); !errors.Is(err, access.ErrConflict) || !errors.As(err, &se) || se.Status != tc.status {
				t.Fatalf("after %s, cancel: %v", tc.status, err)
			}
			again, err := e.svc.ExpireRequest(ctx, tenantA, r.ID)
			if err != nil || again.Status != tc.status {
				t.Fatalf("ExpireRequest on decided: %v %s", err, again.Status)
			}
			// Workflow resumed (not for the timeout, which is the workflow's own).
			res := e.wf.Resumes()
			switch tc.status {
			case access.StatusExpired:
				if len(res) != nres {
					t.Fatal("expire must not resume")
				}
			default:
				last := res[len(res)-1]
				want := map[string]string{access.StatusApproved: access.OutcomeApproved, access.StatusDenied: access.OutcomeDenied, access.StatusCancelled: access.OutcomeCancelled}[tc.status]
				if len(res) != nres+1 || last.Token != "tok-"+r.ID || last.Outcome.Status != want {
					t.Fatalf("resume: %+v", res)
				}
				if want == access.OutcomeApproved && (last.Outcome.GrantID == "" || last.Outcome.GrantID != got.GrantID) {
					t.Fatalf("approved resume needs the grant: %+v", last)
				}
			}
			// A system message tells what happened.
			msgs, _, err := e.svc.ListMessages(ctx, alice, r.ID, access.Page{})
			if err != nil || len(msgs) != 1 || msgs[0].AuthorType != "system" || !strings.Contains(msgs[0].Body, strings.TrimSuffix(tc.status, "d")) {
				t.Fatalf("messages: %+v %v", msgs, err)
			}
			// StoreTaskToken on a decided request returns it, unchanged.
			tr, err := e.svc.StoreTaskToken(ctx, tenantA, r.ID, "late")
			if err != nil || tr.Status != tc.status || tr.TaskToken == "late" {
				t.Fatalf("late token: %+v %v", tr.Status, err)
			}
		})
	}
	// Approval without a stored token skips Resume.
	if _, err := e.svc.RevokeGrant(ctx, admin, access.GrantIDFor(prev), ""); err != nil && !errors.Is(err, access.ErrNotFound) {
		t.Fatal(err)
	}
	r := mustCreate(t, e, user(tenantA, "erin", "engineering"), psInput(acctProd)).Request
	n := len(e.wf.Resumes())
	if _, err := e.svc.Approve(ctx, bob, r.ID, ""); err != nil || len(e.wf.Resumes()) != n {
		t.Fatalf("approve without token: %v", err)
	}
	if v := verify(t, e, tenantA); !v.Valid {
		t.Fatalf("audit: %+v", v)
	}
}

func TestTwoApprovers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := mustCreate(t, e, alice, psInput(acctTwo)).Request
	if r.ApprovalsRequired != 2 || r.ApprovalTimeout != 7200 {
		t.Fatalf("%+v", r)
	}
	got, err := e.svc.Approve(ctx, bob, r.ID, "one")
	if err != nil || got.Status != access.StatusPending || len(got.Reviews) != 1 || got.GrantID != "" {
		t.Fatalf("first approval: %+v %v", got, err)
	}
	if _, err := e.svc.Approve(ctx, bob, r.ID, "again"); !errors.Is(err, access.ErrAlreadyReviewed) {
		t.Fatalf("same reviewer twice: %v", err)
	}
	if _, err := e.svc.Deny(ctx, bob, r.ID, "changed my mind"); !errors.Is(err, access.ErrAlreadyReviewed) {
		t.Fatalf("same reviewer deny after approve: %v", err)
	}
	got, err = e.svc.Approve(ctx, carol, r.ID, "two")
	if err != nil || got.Status != access.StatusApproved || got.DecidedBy != "carol" || len(got.Reviews) != 2 {
		t.Fatalf("second approval: %+v %v", got, err)
	}
	g, err := e.svc.GetGrant(ctx, alice, got.GrantID)
	if err != nil || g.Status != access.GrantProvisioning || g.RequestID != r.ID {
		t.Fatalf("grant: %+v %v", g, err)
	}
	// One deny ends a multi-approver request.
	r2 := mustCreate(t, e, user(tenantA, "erin", "engineering"), psInput(acctTwo)).Request
	if _, err := e.svc.Approve(ctx, bob, r2.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.Deny(ctx, carol, r2.ID, "no"); err != nil || got.Status != access.StatusDenied || got.DecidedBy != "carol" {
		t.Fatalf("deny after one approval: %+v %v", got, err)
	}
}

func TestGrantLifecycle(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	res := mustCreate(t, e, alice, psInput(acctDev))
	gid := res.Grant.ID
	a := access.AssignmentOf(*res.Grant)
	if a.AccountID != acctDev || a.PermissionSetARN != psARN || a.PrincipalID != "alice" {
		t.Fatalf("assignment: %+v", a)
	}
	g1, err := e.svc.ProvisionGrant(ctx, tenantA, gid)
	if err != nil || g1.Status != access.GrantActive || g1.ExpiresAt == nil || g1.GrantedAt == nil ||
		g1.ExpiresAt.Sub(*g1.GrantedAt).Seconds() != 3600 {
		t.Fatalf("provision: %+v %v", g1, err)
	}
	g2, err := e.svc.ProvisionGrant(ctx, tenantA, gid)
	if err != nil || g2.Version != g1.Version || !g2.ExpiresAt.Equal(*g1.ExpiresAt) {
		t.Fatalf("provision again: %+v %v", g2, err)
	}
	if h, _ := e.prov.Holders(ctx, a); len(h) != 1 || h[0] != gid {
		t.Fatalf("holders: %v", h)
	}
	if _, err := e.svc.RevokeGrant(ctx, mallory, gid, ""); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("mallory revokes: %v", err)
	}
	rv, err := e.svc.RevokeGrant(ctx, bob, gid, "incident over") // a reviewer policy allows
	if err != nil || rv.Status != access.GrantRevoked || rv.RevokedBy != "bob" || rv.RevokedAt == nil {
		t.Fatalf("revoke: %+v %v", rv, err)
	}
	if h, _ := e.prov.Holders(ctx, a); len(h) != 0 {
		t.Fatalf("still assigned: %v", h)
	}
	if _, err := e.svc.RevokeGrant(ctx, alice, gid, ""); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("revoke twice: %v", err)
	}
	ex, err := e.svc.ExpireGrant(ctx, tenantA, gid)
	if err != nil || ex.Status != access.GrantRevoked || ex.Version != rv.Version {
		t.Fatalf("ExpireGrant after revoke must be a no-op: %+v %v", ex, err)
	}
	if p, err := e.svc.ProvisionGrant(ctx, tenantA, gid); err != nil || p.Status != access.GrantRevoked {
		t.Fatalf("provision after revoke: %+v %v", p, err)
	}

	// Scheduled expiry.
	res = mustCreate(t, e, alice, psInput(acctDev))
	if _, err := e.svc.ProvisionGrant(ctx, tenantA, res.Grant.ID); err != nil {
		t.Fatal(err)
	}
	active, err := e.svc.ProvisionGrant(ctx, tenantA, res.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Before its end, the scheduled expiry is a no-op (the grant may have
	// been extended after the workflow began waiting).
	if early, err := e.svc.ExpireGrant(ctx, tenantA, res.Grant.ID); err != nil || early.Status != access.GrantActive || early.Version != active.Version {
		t.Fatalf("expire before the end: %+v %v", early, err)
	}
	e.svc.Now = func() time.Time { return active.ExpiresAt.Add(time.Second) }
	ex, err = e.svc.ExpireGrant(ctx, tenantA, res.Grant.ID)
	e.svc.Now = nil
	if err != nil || ex.Status != access.GrantExpired {
		t.Fatalf("expire: %+v %v", ex, err)
	}
	if ex2, err := e.svc.ExpireGrant(ctx, tenantA, res.Grant.ID); err != nil || ex2.Version != ex.Version {
		t.Fatalf("expire twice: %v", err)
	}
	if h, _ := e.prov.Holders(ctx, access.AssignmentOf(ex)); len(h) != 0 {
		t.Fatalf("expired but assigned: %v", h)
	}

	// Failed provisioning.
	res = mustCreate(t, e, alice, psInput(acctDev))
	f, err := e.svc.FailGrant(ctx, tenantA, res.Grant.ID, "AccessDenied from sso-admin")
	if err != nil || f.Status != access.GrantFailed || f.FailureReason == "" {
		t.Fatalf("fail: %+v %v", f, err)
	}
	if f2, err := e.svc.FailGrant(ctx, tenantA, res.Grant.ID, "again"); err != nil || f2.Version != f.Version {
		t.Fatalf("fail twice: %v", err)
	}
	mustCreate(t, e, alice, psInput(acctDev)) // guard released

	// Lists.
	gs, _, err := e.svc.ListGrants(ctx, alice, access.GrantFilter{}, access.Page{})
	if err != nil || len(gs) != 4 {
		t.Fatalf("alice's grants: %d %v", len(gs), err)
	}
	gs, _, err = e.svc.ListGrants(ctx, admin, access.GrantFilter{Status: access.GrantExpired}, access.Page{})
	if err != nil || len(gs) != 1 || gs[0].ID != res.Grant.ID && gs[0].Status != access.GrantExpired {
		t.Fatalf("expired grants: %+v %v", gs, err)
	}
	if _, _, err := e.svc.ListGrants(ctx, bob, access.GrantFilter{GranteeID: "alice"}, access.Page{}); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("bob lists alice's grants: %v", err)
	}
	if v := verify(t, e, tenantA); !v.Valid {
		t.Fatalf("audit: %+v", v)
	}
}

func TestMessagesAndVisibility(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := mustCreate(t, e, alice, psInput(acctProd)).Request
	m, err := e.svc.PostMessage(ctx, alice, r.ID, "  please, prod is down  ")
	if err != nil || m.AuthorType != "user" || m.Body != "please, prod is down" {
		t.Fatalf("requester message: %+v %v", m, err)
	}
	if m, err = e.svc.PostMessage(ctx, bob, r.ID, "which ticket?"); err != nil || m.AuthorType != "approver" {
		t.Fatalf("reviewer message: %+v %v", m, err)
	}
	if m, err = e.svc.PostMessage(ctx, admin, r.ID, "watching"); err != nil || m.AuthorType != "approver" {
		t.Fatalf("admin message: %+v %v", m, err)
	}
	if _, err := e.svc.PostMessage(ctx, mallory, r.ID, "hi"); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("outsider posts: %v", err)
	}
	if _, _, err := e.svc.ListMessages(ctx, mallory, r.ID, access.Page{}); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("outsider reads: %v", err)
	}
	var ve *access.ValidationError
	if _, err := e.svc.PostMessage(ctx, alice, r.ID, "   "); !errors.As(err, &ve) {
		t.Fatalf("empty body: %v", err)
	}
	if _, err := e.svc.PostMessage(ctx, alice, r.ID, strings.Repeat("é", 4001)); !errors.As(err, &ve) {
		t.Fatalf("long body: %v", err)
	}
	msgs, _, err := e.svc.ListMessages(ctx, bob, r.ID, access.Page{Limit: 2})
	if err != nil || len(msgs) != 2 || msgs[0].AuthorID != "alice" {
		t.Fatalf("list: %+v %v", msgs, err)
	}
	// Visibility of the request.
	if _, err := e.svc.Get(ctx, mallory, r.ID); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("mallory gets: %v", err)
	}
	for _, c := range []access.Caller{alice, bob, admin, {TenantID: tenantA, ID: "key_1", Type: "api_key"}} {
		if _, err := e.svc.Get(ctx, c, r.ID); err != nil {
			t.Fatalf("%s gets: %v", c.ID, err)
		}
	}
	mustCreate(t, e, user(tenantA, "erin", "engineering"), psInput(acctDev)) // approved, not pending
	list := func(c access.Caller, f access.ListFilter) int {
		rs, _, err := e.svc.List(ctx, c, f, access.Page{})
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	if n := list(admin, access.ListFilter{}); n != 2 {
		t.Fatalf("admin sees %d", n)
	}
	if n := list(bob, access.ListFilter{}); n != 1 { // alice's pending one
		t.Fatalf("bob sees %d", n)
	}
	if n := list(mallory, access.ListFilter{}); n != 0 {
		t.Fatalf("mallory sees %d", n)
	}
	if n := list(alice, access.ListFilter{Mine: true}); n != 1 {
		t.Fatalf("alice mine %d", n)
	}
	if n := list(admin, access.ListFilter{Status: access.StatusApproved}); n != 1 {
		t.Fatalf("approved %d", n)
	}
	if _, _, err := e.svc.List(ctx, admin, access.ListFilter{Status: "bogus"}, access.Page{}); !errors.As(err, &ve) {
		t.Fatalf("bad status: %v", err)
	}
	// Audit log: admins only.
	if _, _, err := e.svc.AuditLog(ctx, bob, access.AuditFilter{}, access.Page{}); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("bob reads audit: %v", err)
	}
	evs, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditMessagePosted, ActorID: "bob"}, access.Page{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit filter: %+v %v", evs, err)
	}
	if err := e.svc.RecordRuleChange(ctx, admin, access.AuditRuleCreated, "eng-require", map[string]any{"priority": 10}); err != nil {
		t.Fatal(err)
	}
	evs, _, _ = e.svc.AuditLog(ctx, admin, access.AuditFilter{ResourceType: "policy_rule"}, access.Page{})
	if len(evs) != 1 || evs[0].ResourceID != "eng-require" {
		t.Fatalf("rule audit: %+v", evs)
	}
}

func TestTenantIsolation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	res := mustCreate(t, e, alice, psInput(acctDev))
	r, g := res.Request, res.Grant
	for _, c := range []access.Caller{bobB, adminB} {
		if _, err := e.svc.Get(ctx, c, r.ID); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("get: %v", err)
		}
		if _, err := e.svc.GetGrant(ctx, c, g.ID); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("grant: %v", err)
		}
		if _, _, err := e.svc.ListMessages(ctx, c, r.ID, access.Page{}); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("messages: %v", err)
		}
		if _, err := e.svc.PostMessage(ctx, c, r.ID, "hi"); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("post: %v", err)
		}
		if _, err := e.svc.Approve(ctx, c, r.ID, ""); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("approve: %v", err)
		}
		if _, err := e.svc.RevokeGrant(ctx, c, g.ID, ""); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("revoke: %v", err)
		}
		if rs, _, err := e.svc.List(ctx, c, access.ListFilter{}, access.Page{}); err != nil || len(rs) != 0 {
			t.Fatalf("list: %v %v", rs, err)
		}
	}
	if _, err := e.svc.ProvisionGrant(ctx, tenantB, g.ID); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("provision across tenants: %v", err)
	}
	if v := verify(t, e, tenantB); !v.Valid || v.Checked != 0 {
		t.Fatalf("tenant B chain: %+v", v)
	}
}

// TestConcurrentDecisions races approve (bob), deny (carol), cancel
// (alice) and the approval timeout on one pending request, round after
// round: exactly one wins, the others lose with ErrConflict, at most one
// grant exists, and the audit chain stays valid.
func TestConcurrentDecisions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const rounds = 40
	outcomes := map[string]int{}
	for round := range rounds {
		requester := user(tenantA, fmt.Sprintf("dev%d", round), "engineering")
		r := mustCreate(t, e, requester, psInput(acctProd)).Request
		if round%2 == 0 {
			if _, err := e.svc.StoreTaskToken(ctx, tenantA, r.ID, "tok"); err != nil {
				t.Fatal(err)
			}
		}
		type result struct {
			who string
			r   access.Request
			err error
		}
		results := make(chan result, 4)
		var start sync.WaitGroup
		start.Add(1)
		run := func(who string, f func() (access.Request, error)) {
			go func() {
				start.Wait()
				r, err := f()
				results <- result{who, r, err}
			}()
		}
		run("approve", func() (access.Request, error) { return e.svc.Approve(ctx, bob, r.ID, "") })
		run("deny", func() (access.Request, error) { return e.svc.Deny(ctx, carol, r.ID, "") })
		run("cancel", func() (access.Request, error) { return e.svc.Cancel(ctx, requester, r.ID) })
		run("expire", func() (access.Request, error) { return e.svc.ExpireRequest(ctx, tenantA, r.ID) })
		start.Done()
		winners := map[string]bool{}
		for range 4 {
			res := <-results
			switch {
			case res.err == nil && res.who == "expire" && res.r.Status != access.StatusExpired:
				// the timeout found it decided: returned unchanged
			case res.err == nil:
				winners[res.r.Status] = true
			case errors.Is(res.err, access.ErrConflict):
			default:
				t.Fatalf("round %d %s: %v", round, res.who, res.err)
			}
		}
		final, err := e.svc.Get(ctx, admin, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(winners) != 1 || !winners[final.Status] {
			t.Fatalf("round %d: winners %v, final %s", round, winners, final.Status)
		}
		outcomes[final.Status]++
		grants, _, err := e.svc.ListGrants(ctx, admin, access.GrantFilter{GranteeID: requester.ID}, access.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]int{true: 1, false: 0}[final.Status == access.StatusApproved]; len(grants) != want {
			t.Fatalf("round %d: %d grants for %s", round, len(grants), final.Status)
		}
	}
	t.Logf("outcomes over %d rounds: %v", rounds, outcomes)
	if v := verify(t, e, tenantA); !v.Valid || v.Checked < 2*rounds {
		t.Fatalf("audit: %+v", v)
	}
}
