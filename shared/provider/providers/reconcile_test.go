package providers_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// TestReconcileRepairsAndAuditsOnce: a live active grant whose assignment
// was deleted behind jitsudo's back is repaired and audited (once: the
// next run finds nothing); a tenant without problems is reconciled
// without an audit event.
func TestReconcileRepairsAndAuditsOnce(t *testing.T) {
	e := newEnv(t)
	e.activeGrant(acme, "grt_alice", "alice")
	e.activeGrant(globex, "grt_mallory", "mallory")
	e.unassign(acme, "alice")

	reps := e.run()
	a := reps[acme.tenant]
	if len(a.Repaired) != 1 || !strings.Contains(a.Repaired[0], acme.account) || !strings.Contains(a.Repaired[0], e.orgs[acme.tenant].Users["alice"]) ||
		len(a.Removed)+len(a.Unexpected)+len(a.Errors) != 0 {
		t.Fatalf("acme: %+v, want alice's assignment repaired and nothing else", a)
	}
	if g, ok := reps[globex.tenant]; !ok || !empty(g) {
		t.Fatalf("globex: %+v (reconciled %v), want reconciled with nothing to do", g, ok)
	}
	if !e.has(acme, "alice") || !e.has(globex, "mallory") {
		t.Fatal("assignments after the run: alice's or mallory's missing")
	}
	ev := e.drift(acme.tenant)
	if len(ev) != 1 {
		t.Fatalf("acme: %d drift.detected events, want 1: %+v", len(ev), ev)
	}
	if ev[0].ActorType != access.ActorTypeSystem || ev[0].Severity != access.SeverityWarning || ev[0].ResourceID != acme.tenant ||
		count(ev[0].Metadata, "repaired_count") != "1" || count(ev[0].Metadata, "removed_count") != "0" || count(ev[0].Metadata, "unexpected_count") != "0" {
		t.Fatalf("acme's drift event: %+v", ev[0])
	}
	if ev := e.drift(globex.tenant); len(ev) != 0 {
		t.Fatalf("globex had no drift but got %+v", ev)
	}

	// Converged: the second run changes nothing and audits nothing.
	creates := e.fake.Calls(awsfault.OpCreateAccountAssignment)
	reps = e.run()
	for _, tenant := range []string{acme.tenant, globex.tenant} {
		if !empty(reps[tenant]) {
			t.Fatalf("second run, %s: %+v", tenant, reps[tenant])
		}
	}
	if e.fake.Calls(awsfault.OpCreateAccountAssignment) != creates {
		t.Fatal("the second run created assignments")
	}
	if n, m := len(e.drift(acme.tenant)), len(e.drift(globex.tenant)); n != 1 || m != 0 {
		t.Fatalf("after the second run: acme %d, globex %d drift events; want 1, 0", n, m)
	}
}

// TestReconcileAuditsUnexpectedOnce: an assignment made outside jitsudo
// is reported, never touched, and audited when the set of them changes —
// not again on every run (SwapDriftDigest).
func TestReconcileAuditsUnexpectedOnce(t *testing.T) {
	e := newEnv(t)
	e.activeGrant(acme, "grt_alice", "alice")
	e.assign(acme, "bob") // standing access, made by hand

	for run := 1; run <= 2; run++ {
		a := e.run()[acme.tenant]
		if len(a.Unexpected) != 1 || !strings.Contains(a.Unexpected[0], e.orgs[acme.tenant].Users["bob"]) || len(a.Repaired)+len(a.Removed)+len(a.Errors) != 0 {
			t.Fatalf("run %d: %+v, want bob's assignment unexpected", run, a)
		}
		if !e.has(acme, "bob") {
			t.Fatalf("run %d removed an assignment jitsudo does not own", run)
		}
		ev := e.drift(acme.tenant)
		if len(ev) != 1 || count(ev[0].Metadata, "unexpected_count") != "1" {
			t.Fatalf("run %d: drift events %+v, want the one of the first run", run, ev)
		}
	}

	// Another one appears: the set changed, so it is audited again.
	e.assign(acme, "carol")
	a := e.run()[acme.tenant]
	if len(a.Unexpected) != 2 {
		t.Fatalf("third run: %+v, want bob's and carol's assignments unexpected", a)
	}
	ev := e.drift(acme.tenant)
	if len(ev) != 2 || count(ev[1].Metadata, "unexpected_count") != "2" {
		t.Fatalf("third run: drift events %+v, want a second one with both", ev)
	}
	if !e.has(acme, "carol") || !e.has(acme, "alice") {
		t.Fatal("carol's or alice's assignment missing")
	}
	if ev := e.drift(globex.tenant); len(ev) != 0 {
		t.Fatalf("globex: %+v", ev)
	}
}

// TestReconcileGoesOnAfterABrokenTenant: a tenant whose settings cannot
// be used fails alone; the others are reconciled, and Run reports it.
func TestReconcileGoesOnAfterABrokenTenant(t *testing.T) {
	e := newEnv(t)
	e.activeGrant(acme, "grt_alice", "alice")
	e.unassign(acme, "alice")
	broken := acme.settings(e.orgs[acme.tenant].RoleARN)
	broken.TenantID, broken.UserAttribute = "initech", "phone" // the API refuses it; the table does not
	if _, err := e.st.PutAWSSettings(e.ctx, broken, 0); err != nil {
		t.Fatal(err)
	}
	reps, err := e.rec.Run(e.ctx)
	if err == nil || !strings.Contains(err.Error(), "initech") {
		t.Fatalf("Run: %v, want the failure of initech", err)
	}
	if _, ok := reps["initech"]; ok {
		t.Fatalf("initech has a report: %+v", reps["initech"])
	}
	if len(reps[acme.tenant].Repaired) != 1 || !e.has(acme, "alice") {
		t.Fatalf("acme not reconciled after initech failed: %+v", reps[acme.tenant])
	}
	tenants, err := e.st.TenantsWithAWSSettings(e.ctx)
	if err != nil || !slices.Equal(tenants, []string{"acme", "globex", "initech"}) {
		t.Fatalf("configured tenants %v, %v", tenants, err)
	}
	// The scheduled handler does not fail the invocation for one tenant
	// (Lambda would retry the whole run); it reports it.
	res, err := e.rec.Handle(e.ctx)
	if err != nil || !strings.Contains(res.Failed, "initech") || len(res.Tenants[acme.tenant].Repaired) != 0 {
		t.Fatalf("Handle: %+v %v", res, err)
	}
}

// TestReconcileWiring: the function's wiring refuses the recording
// provider (nothing can drift there) and otherwise runs over the table.
func TestReconcileWiring(t *testing.T) {
	e := newEnv(t)
	_, _, table := dynamotest.New(t)
	t.Setenv("TABLE_NAME", table)
	t.Setenv("DYNAMODB_ENDPOINT", dynamotest.Endpoint(t))
	t.Setenv("STATE_MACHINE_ARN", "arn:aws:states:us-east-1:000000000000:stateMachine:access-request")
	t.Setenv("PROVIDER_ENDPOINT", e.url)
	for _, p := range []string{"", "recording"} {
		t.Setenv("PROVIDER", p)
		if _, err := wiring.Reconcile(context.Background(), slog.New(slog.DiscardHandler), providers.IdentityCenter, providers.NewReconcile); err == nil {
			t.Fatalf("PROVIDER=%q: the reconciler must refuse it", p)
		}
	}
	t.Setenv("PROVIDER", "identitycenter")
	r, err := wiring.Reconcile(context.Background(), slog.New(slog.DiscardHandler), providers.IdentityCenter, providers.NewReconcile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store.PutAWSSettings(e.ctx, acme.settings(e.orgs[acme.tenant].RoleARN), 0); err != nil {
		t.Fatal(err)
	}
	res, err := r.Handle(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep, ok := res.Tenants[acme.tenant]; !ok || !empty(rep) || len(res.Tenants) != 1 {
		t.Fatalf("Handle on a table with one configured tenant and no grants: %+v", res)
	}
}
