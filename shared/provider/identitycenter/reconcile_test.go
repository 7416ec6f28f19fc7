package identitycenter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
)

const groupID = "906753c5b4-99999999-8888-7777-6666-555555555555"

// drift builds one tenant with every kind of drift:
//
//   - gA (alice, admin), active: its assignment deleted behind our back;
//   - gB (bob, admin): provisioned, then revoked in the table without the
//     provider (a crash) — an orphan record and assignment;
//   - gC (alice, read), active, never recorded nor assigned;
//   - gD (carol, read), provisioning: recorded, not yet assigned;
//   - carol's admin assignment and 11 more users' (paging past the fake's
//     10-per-page default) nobody recorded, and a group assignment.
func drift(t *testing.T, e *env) (unexpected int) {
	ctx := context.Background()
	e.putGrant("gA", "alice", psAdmin, access.GrantProvisioning)
	e.putGrant("gB", "bob", psAdmin, access.GrantProvisioning)
	e.putGrant("gC", "alice", psRead, access.GrantActive)
	e.putGrant("gD", "carol", psRead, access.GrantProvisioning)
	mustNot(t, e.p.Provision(ctx, assignment("gA", "alice", psAdmin)))
	mustNot(t, e.p.Provision(ctx, assignment("gB", "bob", psAdmin)))
	e.setGrantStatus("gA", access.GrantActive)
	e.setGrantStatus("gB", access.GrantActive)
	e.setGrantStatus("gB", access.GrantRevoked)
	tg := target("carol", psRead)
	tg.ExternalPrincipalID = e.uid("carol")
	_, err := e.st.AddAssignmentHolder(ctx, tg, "gD")
	mustNot(t, err)

	e.unassign(icAssignment(e.uid("alice"), psAdmin))
	e.assign(icAssignment(e.uid("carol"), psAdmin))
	for i := range 11 {
		e.assign(icAssignment(fmt.Sprintf("906753c5b4-%08d-0000-0000-0000-000000000000", i), psAdmin))
	}
	e.assign(awsfault.Assignment{InstanceARN: instanceARN, AccountID: account, PermissionSetARN: psAdmin, PrincipalType: "GROUP", PrincipalID: groupID})
	return 12
}

func (e *env) reconciler() *identitycenter.Reconciler {
	return &identitycenter.Reconciler{Provider: e.p, Grants: identitycenter.RepoGrants{Repo: e.st}, Logger: e.p.Logger}
}

// converged checks the state drift ends in after reconciling.
func converged(t *testing.T, e *env) {
	t.Helper()
	got := e.assignments()
	for _, a := range []awsfault.Assignment{icAssignment(e.uid("alice"), psAdmin), icAssignment(e.uid("alice"), psRead), icAssignment(e.uid("carol"), psAdmin)} {
		if !slices.Contains(got, a) {
			t.Fatalf("missing %v in %v", a, got)
		}
	}
	for _, a := range []awsfault.Assignment{icAssignment(e.uid("bob"), psAdmin), icAssignment(e.uid("carol"), psRead)} {
		if slices.Contains(got, a) {
			t.Fatalf("%v must not be assigned", a)
		}
	}
	if len(got) != 3+11+1 {
		t.Fatalf("%d assignments: %v", len(got), got)
	}
	if h := e.holders("alice", psAdmin); !slices.Equal(h, []string{"gA"}) {
		t.Fatalf("alice admin holders %v", h)
	}
	if h := e.holders("alice", psRead); !slices.Equal(h, []string{"gC"}) {
		t.Fatalf("alice read holders %v", h)
	}
	if h := e.holders("carol", psRead); !slices.Equal(h, []string{"gD"}) {
		t.Fatalf("provisioning grant's holder must stay: %v", h)
	}
	if len(e.records()) != 3 {
		t.Fatalf("records %+v", e.records())
	}
}

func TestReconcile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wantUnexpected := drift(t, e)
	r := e.reconciler()
	rep, err := r.Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Errors) != 0 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	if len(rep.Repaired) != 2 || !strings.Contains(strings.Join(rep.Repaired, "\n"), psRead) || !strings.Contains(strings.Join(rep.Repaired, "\n"), psAdmin) {
		t.Fatalf("repaired %v", rep.Repaired)
	}
	if len(rep.Removed) != 1 || !strings.Contains(rep.Removed[0], "principal bob") {
		t.Fatalf("removed %v", rep.Removed)
	}
	if len(rep.Unexpected) != wantUnexpected || !strings.Contains(strings.Join(rep.Unexpected, "\n"), e.uid("carol")) ||
		strings.Contains(strings.Join(rep.Unexpected, "\n"), groupID) {
		t.Fatalf("unexpected %v", rep.Unexpected)
	}
	converged(t, e)
	if n := e.fake.Calls(awsfault.OpListAccountAssignments); n < 2 {
		t.Fatalf("ListAccountAssignments calls: %d, want more than one page", n)
	}

	// Idempotent: a second run finds nothing to do.
	creates, deletes := e.fake.Calls(awsfault.OpCreateAccountAssignment), e.fake.Calls(awsfault.OpDeleteAccountAssignment)
	rep, err = r.Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Repaired)+len(rep.Removed)+len(rep.Errors) != 0 || len(rep.Unexpected) != wantUnexpected {
		t.Fatalf("second run: %+v", rep)
	}
	if e.fake.Calls(awsfault.OpCreateAccountAssignment) != creates || e.fake.Calls(awsfault.OpDeleteAccountAssignment) != deletes {
		t.Fatal("second run changed Identity Center")
	}
	converged(t, e)

	// The provisioning grant fails: its holder goes, and its record.
	e.setGrantStatus("gD", access.GrantFailed)
	rep, err = r.Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Removed) != 1 || !strings.Contains(rep.Removed[0], "principal carol") {
		t.Fatalf("removed %v", rep.Removed)
	}
	if len(e.records()) != 2 {
		t.Fatalf("records %+v", e.records())
	}
}

func TestReconcileConcurrently(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	drift(t, e)
	var wg sync.WaitGroup
	reps := make([]identitycenter.Report, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { reps[i], errs[i] = e.reconciler().Reconcile(ctx, tenant) })
	}
	wg.Wait()
	for i := range 2 {
		mustNot(t, errs[i])
		if len(reps[i].Errors) != 0 {
			t.Fatalf("run %d errors: %v", i, reps[i].Errors)
		}
	}
	converged(t, e)
	rep, err := e.reconciler().Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Repaired)+len(rep.Removed)+len(rep.Errors) != 0 {
		t.Fatalf("after concurrent runs: %+v", rep)
	}
}

// staleGrants returns a snapshot of the live grants taken before a revoke
// committed, as a slow LiveGrants (or a lagging status index) would.
type staleGrants struct {
	identitycenter.RepoGrants
	snapshot []access.Grant
}

func (s staleGrants) LiveGrants(context.Context, string) ([]access.Grant, error) {
	return s.snapshot, nil
}

func TestReconcileDoesNotResurrectEndedGrant(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.putGrant("g1", "alice", psAdmin, access.GrantProvisioning)
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.setGrantStatus("g1", access.GrantActive)
	snapshot, err := identitycenter.RepoGrants{Repo: e.st}.LiveGrants(ctx, tenant)
	mustNot(t, err)
	// Revoked (provider first, then the table) after the snapshot.
	mustNot(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	e.setGrantStatus("g1", access.GrantRevoked)

	r := e.reconciler()
	r.Grants = staleGrants{RepoGrants: identitycenter.RepoGrants{Repo: e.st}, snapshot: snapshot}
	rep, err := r.Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Repaired)+len(rep.Errors) != 0 {
		t.Fatalf("report %+v", rep)
	}
	e.wantAssignments()
	if len(e.records()) != 0 {
		t.Fatalf("records %+v", e.records())
	}
}

// endGrant makes a stored active grant one whose end passed `ago` ago
// without being revoked (its execution failed or was stopped).
func (e *env) endGrant(id string, ago time.Duration) {
	e.t.Helper()
	ctx := context.Background()
	g, err := e.st.GetGrant(ctx, tenant, id)
	mustNot(e.t, err)
	exp := time.Now().UTC().Add(-ago)
	old := g.Version
	g.ExpiresAt, g.Version = &exp, old+1
	_, err = e.st.Commit(ctx, tenant, access.Change{Grant: &access.GrantWrite{Grant: g, ExpectStatus: g.Status, ExpectVersion: old}})
	mustNot(e.t, err)
}

// TestReconcileRevokesGrantPastItsEnd: an active grant whose end passed
// is not a legitimate holder. Its assignment present: the reconciler
// removes it. Its assignment removed already: the reconciler does not
// re-create it (it used to, for a grant that ended 48 h ago).
func TestReconcileRevokesGrantPastItsEnd(t *testing.T) {
	for _, present := range []bool{true, false} {
		t.Run(fmt.Sprintf("assignment present %v", present), func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.putGrant("g1", "alice", psAdmin, access.GrantProvisioning)
			mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
			e.setGrantStatus("g1", access.GrantActive)
			e.endGrant("g1", 48*time.Hour)
			if !present {
				e.unassign(icAssignment(e.uid("alice"), psAdmin))
			}
			creates := e.fake.Calls(awsfault.OpCreateAccountAssignment)
			rep, err := e.reconciler().Reconcile(ctx, tenant)
			mustNot(t, err)
			if len(rep.Repaired)+len(rep.Errors) != 0 || len(rep.Removed) != 1 {
				t.Fatalf("report %+v", rep)
			}
			if e.fake.Calls(awsfault.OpCreateAccountAssignment) != creates {
				t.Fatal("the reconciler re-created the assignment of a grant past its end")
			}
			e.wantAssignments()
			if len(e.records()) != 0 {
				t.Fatalf("records %+v", e.records())
			}
			// A grant extended before its end keeps its assignment.
			e.putGrant("g2", "bob", psAdmin, access.GrantProvisioning)
			mustNot(t, e.p.Provision(ctx, assignment("g2", "bob", psAdmin)))
			e.setGrantStatus("g2", access.GrantActive)
			e.endGrant("g2", -time.Hour)
			rep, err = e.reconciler().Reconcile(ctx, tenant)
			mustNot(t, err)
			if len(rep.Removed)+len(rep.Repaired)+len(rep.Errors) != 0 {
				t.Fatalf("live grant: report %+v", rep)
			}
			e.wantAssignments(icAssignment(e.uid("bob"), psAdmin))
		})
	}
}

// TestReportJSONHasNoNulls: a report with nothing to say lists nothing as
// [] (what reconcile-assignments returns), never null.
func TestReportJSONHasNoNulls(t *testing.T) {
	raw, err := json.Marshal(identitycenter.Report{Repaired: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(raw), `{"repaired":["a"],"removed":[],"unexpected":[],"errors":[]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
