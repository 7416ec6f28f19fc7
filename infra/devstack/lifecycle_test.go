package devstack_test

// End-to-end lifecycles of access requests through real HTTP: the local
// gateway and authorizer, the real handlers, the embedded DynamoDB and the
// local Step Functions running statemachines/access-request.asl.json with
// the worker Lambdas in process. Every test has its own stack. The slow
// ones wait for real timers (the minimum grant duration and approval
// timeout are both 60 s) and run in parallel.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// Accounts the seed has no rules for, one per test that adds a rule.
const (
	twoApproverAccount = "555555555555"
	quickTimeoutAcct   = "666666666666"
)

// quick is how long a step that needs no timer (provisioning, a resumed
// wait) may take.
const quick = 30 * time.Second

// TestLifecycleAutoExpires: auto → grant provisioning → active (assignment
// recorded) → expired by the workflow at its end (assignment revoked).
func TestLifecycleAutoExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()

	r := e.create(alice, accessRequest(devstack.DevAccount, 60, "debug a failing deploy"))
	if r.Status != access.StatusApproved || r.ApprovalMode != "auto" || r.DecidedBy != access.DecidedByPolicy ||
		r.GrantID != access.GrantIDFor(r.ID) || !slices.Equal(r.DecidingRuleIDs, []string{"dev-auto"}) {
		t.Fatalf("created: %+v", r.Request)
	}
	if r.Grant == nil || r.Grant.ID != r.GrantID || r.Grant.Status != access.GrantProvisioning || r.Grant.GranteeID != "alice" {
		t.Fatalf("created grant: %+v", r.Grant)
	}

	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	if g.GrantedAt == nil || g.ExpiresAt == nil || g.ExpiresAt.Sub(*g.GrantedAt) != 60*time.Second || g.DurationSeconds != 60 {
		t.Fatalf("active grant: %+v", g)
	}
	if h := e.holders(g); !slices.Equal(h, []string{g.ID}) {
		t.Fatalf("assignment holders while active: %v", h)
	}
	active := listAll[access.Grant](e, alice, "/v1/grants?status=active", 50)
	if !slices.Contains(ids(active, func(g access.Grant) string { return g.ID }), g.ID) {
		t.Errorf("active grant not listed under status=active: %+v", active)
	}
	if x := e.execution(r.ID); x.Status != "RUNNING" {
		t.Fatalf("execution while the grant is active: %+v", x)
	}

	end := *g.ExpiresAt
	g = e.waitGrant(alice, g.ID, access.GrantExpired, e.until(end)+quick)
	// The workflow's Wait has second precision, so it may fire up to 1 s
	// before expires_at; never earlier.
	if g.UpdatedAt.Before(end.Add(-time.Second)) {
		t.Errorf("expired at %s, before the grant's end %s", g.UpdatedAt, end)
	}
	if g.RevokedAt != nil || g.RevokedBy != "" {
		t.Errorf("expired grant carries a revocation: %+v", g)
	}
	if h := e.holders(g); len(h) != 0 {
		t.Fatalf("assignment holders after expiry: %v", h)
	}
	x := e.waitExecution(r.ID, quick)
	if x.Status != "SUCCEEDED" || x.Error != "" || !slices.Equal(x.States, autoStates) {
		t.Errorf("execution: %+v", x)
	}
	if got := e.request(alice, r.ID); got.Status != access.StatusApproved {
		t.Errorf("request after the grant expired: %+v", got.Request)
	}

	gevs := e.audit(admin, url.Values{"resource_id": {g.ID}})
	for _, a := range []string{access.AuditGrantActive, access.AuditGrantExpired} {
		ev := findEvent(t, gevs, a)
		if ev.ActorType != access.ActorTypeSystem || ev.Severity != access.SeverityInfo || ev.ResourceType != "grant" {
			t.Errorf("%s event: %+v", a, ev)
		}
	}
	if slices.Contains(actions(gevs), access.AuditGrantRevoked) {
		t.Errorf("grant events %v include a revocation", actions(gevs))
	}
	if ev := findEvent(t, e.audit(admin, url.Values{"resource_id": {r.ID}}), access.AuditRequestApproved); ev.ActorID != access.DecidedByPolicy {
		t.Errorf("request.approved: %+v", ev)
	}
	// The duplicate guard is released with the grant.
	e.create(alice, accessRequest(devstack.DevAccount, 60, "again"))
}

// autoStates are the states of an auto (or break-glass) execution whose
// grant ends (shorter than the notice lead: no notice is published).
var autoStates = []string{"ChooseMode", "Provision", "WaitUntilNotice", "NotifyExpiringSoon", "WaitUntilExpiry", "ExpireGrant", "StillActive", "Done"}

// TestLifecycleRequireApproved: require → bob approves → grant active; the
// request shows the review, the conversation an "approved by" message.
func TestLifecycleRequireApproved(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()

	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	if r.Status != access.StatusPending || r.ApprovalMode != "require" || r.ApprovalsRequired != 1 || r.ApprovalTimeout != 3600 ||
		r.ApprovalDeadline == nil || r.GrantID != "" || r.Grant != nil || !slices.Equal(r.DecidingRuleIDs, []string{"prod-require"}) {
		t.Fatalf("created: %s", e.want(http.StatusOK, "GET", "/v1/requests/"+r.ID, alice, nil))
	}
	// bob is a reviewer: he sees it among the pending requests.
	pending := listAll[access.Request](e, bob, "/v1/requests?status=pending", 50)
	if !slices.Contains(ids(pending, func(r access.Request) string { return r.ID }), r.ID) {
		t.Fatalf("bob's pending list lacks %s: %+v", r.ID, pending)
	}
	e.waitToken(r.ID)

	a := e.review(bob, r.ID, "approve", map[string]any{"reasoning": "CHG-42 checked"})
	if a.Status != access.StatusApproved || a.DecidedBy != "bob" || a.DecisionReasoning != "CHG-42 checked" ||
		a.GrantID != access.GrantIDFor(r.ID) || a.DecidedAt == nil {
		t.Fatalf("approved: %+v", a.Request)
	}
	got := e.request(alice, r.ID)
	if got.Status != access.StatusApproved || len(got.Reviews) != 1 || got.Reviews[0].ReviewerID != "bob" ||
		got.Reviews[0].Decision != access.StatusApproved || got.Reviews[0].Reasoning != "CHG-42 checked" {
		t.Fatalf("request after approval: %+v", got.Request)
	}

	g := e.waitGrant(alice, a.GrantID, access.GrantActive, quick)
	if g.RequestID != r.ID || g.GranteeID != "alice" || g.Resource.ID != devstack.ProdAccount {
		t.Fatalf("grant: %+v", g)
	}
	if h := e.holders(g); !slices.Equal(h, []string{g.ID}) {
		t.Fatalf("assignment holders: %v", h)
	}
	msgs := e.messages(alice, r.ID)
	if sys := systemMessages(msgs); len(sys) != 1 || sys[0] != "approved by bob: CHG-42 checked" {
		t.Fatalf("system messages: %q", sys)
	}
	// A 1h grant waits for its expiring-soon notice (15 min before the end).
	if x := e.waitState(r.ID, "WaitUntilNotice", quick); x.Status != "RUNNING" ||
		!slices.Equal(x.States, []string{"ChooseMode", "WaitForApproval", "ApprovedMeanwhile", "Provision", "WaitUntilNotice"}) {
		t.Fatalf("execution: %+v", x)
	}
	evs := e.audit(admin, url.Values{"resource_id": {r.ID}})
	if ev := findEvent(t, evs, access.AuditRequestCreated); ev.ActorID != "alice" {
		t.Errorf("request.created: %+v", ev)
	}
	if ev := findEvent(t, evs, access.AuditRequestApproved); ev.ActorID != "bob" || ev.Reasoning != "CHG-42 checked" {
		t.Errorf("request.approved: %+v", ev)
	}
	findEvent(t, e.audit(admin, url.Values{"resource_id": {g.ID}}), access.AuditGrantActive)
}

// TestLifecycleTwoApprovers: a rule asking for two approvals; the requester
// cannot approve, nobody approves twice, one approval keeps it pending.
func TestLifecycleTwoApprovers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, carol, admin := e.alice(), e.bob(), e.carol(), e.admin()
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, requireRule("two-approvers", twoApproverAccount, "1h", 2))

	r := e.create(alice, accessRequest(twoApproverAccount, 3600, "migrate the billing database"))
	if r.Status != access.StatusPending || r.ApprovalsRequired != 2 || !slices.Equal(r.DecidingRuleIDs, []string{"two-approvers"}) {
		t.Fatalf("created: %+v", r.Request)
	}
	e.wantErr(http.StatusForbidden, "self_approval", "POST", "/v1/requests/"+r.ID+"/approve", alice, nil)

	a1 := e.review(carol, r.ID, "approve", map[string]any{"reasoning": "fine by me"})
	if a1.Status != access.StatusPending || a1.GrantID != "" || len(a1.Reviews) != 1 || a1.Reviews[0].ReviewerID != "carol" {
		t.Fatalf("after the first approval: %+v", a1.Request)
	}
	e.wantErr(http.StatusConflict, "already_reviewed", "POST", "/v1/requests/"+r.ID+"/approve", carol, nil)
	if got := e.request(alice, r.ID); got.Status != access.StatusPending || len(got.Reviews) != 1 || got.GrantID != "" {
		t.Fatalf("after a repeated approval: %+v", got.Request)
	}
	if sys := systemMessages(e.messages(alice, r.ID)); !slices.Equal(sys, []string{"approval 1 of 2 by carol: fine by me"}) {
		t.Errorf("system messages after one approval: %q", sys)
	}
	if ev := findEvent(t, e.audit(admin, url.Values{"resource_id": {r.ID}}), access.AuditRequestReviewed); ev.ActorID != "carol" {
		t.Errorf("request.reviewed: %+v", ev)
	}
	if got := listAll[access.Grant](e, alice, "/v1/grants", 50); len(got) != 0 {
		t.Fatalf("a grant after one of two approvals: %+v", got)
	}

	a2 := e.review(bob, r.ID, "approve", nil)
	if a2.Status != access.StatusApproved || a2.DecidedBy != "bob" || a2.GrantID != access.GrantIDFor(r.ID) ||
		!slices.Equal(ids(a2.Reviews, func(v access.Review) string { return v.ReviewerID }), []string{"carol", "bob"}) {
		t.Fatalf("after the second approval: %+v", a2.Request)
	}
	g := e.waitGrant(alice, a2.GrantID, access.GrantActive, quick)
	if h := e.holders(g); !slices.Equal(h, []string{g.ID}) {
		t.Fatalf("assignment holders: %v", h)
	}
	// Decided: further reviews conflict.
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/requests/"+r.ID+"/approve", carol, nil)
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/requests/"+r.ID+"/deny", carol, nil)
	e.wantErr(http.StatusForbidden, "self_approval", "POST", "/v1/requests/"+r.ID+"/approve", alice, nil)
}

// TestLifecycleRequireDenied: carol denies with reasoning; no grant, and
// the workflow closes without provisioning.
func TestLifecycleRequireDenied(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, carol, admin := e.alice(), e.bob(), e.carol(), e.admin()

	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	e.waitToken(r.ID)
	d := e.review(carol, r.ID, "deny", map[string]any{"reasoning": "no change ticket"})
	if d.Status != access.StatusDenied || d.DecidedBy != "carol" || d.DecisionReasoning != "no change ticket" || d.GrantID != "" ||
		len(d.Reviews) != 1 || d.Reviews[0].Decision != access.StatusDenied {
		t.Fatalf("denied: %+v", d.Request)
	}
	if got := e.request(alice, r.ID); got.Status != access.StatusDenied || got.GrantID != "" {
		t.Fatalf("request after deny: %+v", got.Request)
	}
	x := e.waitExecution(r.ID, quick)
	if x.Status != "SUCCEEDED" || !slices.Equal(x.States, []string{"ChooseMode", "WaitForApproval", "Closed"}) {
		t.Fatalf("execution: %+v", x)
	}
	if got := listAll[access.Grant](e, admin, "/v1/grants", 50); len(got) != 0 {
		t.Fatalf("grants after a deny: %+v", got)
	}
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/grants/"+access.GrantIDFor(r.ID), alice, nil)
	if sys := systemMessages(e.messages(alice, r.ID)); !slices.Equal(sys, []string{"denied by carol: no change ticket"}) {
		t.Errorf("system messages: %q", sys)
	}
	if ev := findEvent(t, e.audit(admin, url.Values{"resource_id": {r.ID}}), access.AuditRequestDenied); ev.ActorID != "carol" || ev.Reasoning != "no change ticket" {
		t.Errorf("request.denied: %+v", ev)
	}
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/requests/"+r.ID+"/approve", bob, nil)
	// The duplicate guard is released: alice may ask again.
	if again := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret, CHG-43")); again.Status != access.StatusPending {
		t.Fatalf("new request after a deny: %+v", again.Request)
	}
}

// TestLifecycleApprovalTimeout: nobody decides; the ApprovalTimeoutWorker
// expires the request after the rule's timeout; a late approval conflicts.
func TestLifecycleApprovalTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, requireRule("quick-timeout", quickTimeoutAcct, "1m", 1))

	r := e.create(alice, accessRequest(quickTimeoutAcct, 3600, "try the new instance type"))
	if r.Status != access.StatusPending || r.ApprovalTimeout != 60 || r.ApprovalDeadline == nil ||
		r.ApprovalDeadline.Sub(r.CreatedAt) != time.Minute {
		t.Fatalf("created: %+v", r.Request)
	}
	deadline := *r.ApprovalDeadline
	x := e.waitExecution(r.ID, e.until(deadline)+quick)
	if x.Status != "SUCCEEDED" || !slices.Equal(x.States, []string{"ChooseMode", "WaitForApproval", "ApprovalTimeout", "ApprovedMeanwhile", "Closed"}) {
		t.Fatalf("execution: %+v", x)
	}
	got := e.request(alice, r.ID)
	if got.Status != access.StatusExpired || got.DecidedBy != access.DecidedByTimeout || got.DecidedAt == nil ||
		got.DecidedAt.Before(deadline.Add(-time.Second)) || got.GrantID != "" {
		t.Fatalf("request after the timeout: %+v", got.Request)
	}
	if sys := systemMessages(e.messages(alice, r.ID)); len(sys) != 1 || !strings.HasPrefix(sys[0], "expired") {
		t.Errorf("system messages: %q", sys)
	}
	ev := findEvent(t, e.audit(admin, url.Values{"resource_id": {r.ID}}), access.AuditRequestExpired)
	if ev.ActorID != access.DecidedByTimeout || ev.ActorType != access.ActorTypeSystem {
		t.Errorf("request.expired: %+v", ev)
	}
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/requests/"+r.ID+"/approve", bob, nil)
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/requests/"+r.ID+"/cancel", alice, nil)
	if got := e.request(alice, r.ID); got.Status != access.StatusExpired || got.GrantID != "" {
		t.Fatalf("late approval changed the request: %+v", got.Request)
	}
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/grants/"+access.GrantIDFor(r.ID), alice, nil)
	// The duplicate guard is released.
	e.create(alice, accessRequest(quickTimeoutAcct, 3600, "try the new instance type, again"))
}

// TestLifecycleCancel: only the requester cancels, and only once.
func TestLifecycleCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()

	r := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	e.waitToken(r.ID)
	path := "/v1/requests/" + r.ID + "/cancel"
	// Others in the tenant who may see the request (its reviewer, an
	// admin): 403 (the service says "only the requester"); who may not
	// see it (dave) and other tenants: 404, like an unknown id.
	e.wantErr(http.StatusForbidden, "forbidden", "POST", path, bob, nil)
	e.wantErr(http.StatusNotFound, "not_found", "POST", path, e.user("dave", "engineering"), nil)
	e.wantErr(http.StatusForbidden, "forbidden", "POST", path, admin, nil)
	e.wantErr(http.StatusNotFound, "not_found", "POST", path, e.mallory(), nil)
	if got := e.request(alice, r.ID); got.Status != access.StatusPending {
		t.Fatalf("refused cancels changed the request: %+v", got.Request)
	}

	c := e.review(alice, r.ID, "cancel", nil)
	if c.Status != access.StatusCancelled || c.DecidedBy != "alice" || c.DecidedAt == nil || c.GrantID != "" {
		t.Fatalf("cancelled: %+v", c.Request)
	}
	e.wantErr(http.StatusConflict, "conflict", "POST", path, alice, nil)
	e.wantErr(http.StatusConflict, "conflict", "POST", "/v1/requests/"+r.ID+"/approve", bob, nil)
	x := e.waitExecution(r.ID, quick)
	if x.Status != "SUCCEEDED" || !slices.Equal(x.States, []string{"ChooseMode", "WaitForApproval", "Closed"}) {
		t.Fatalf("execution: %+v", x)
	}
	if sys := systemMessages(e.messages(alice, r.ID)); !slices.Equal(sys, []string{"cancelled by alice"}) {
		t.Errorf("system messages: %q", sys)
	}
	if ev := findEvent(t, e.audit(admin, url.Values{"resource_id": {r.ID}}), access.AuditRequestCancelled); ev.ActorID != "alice" {
		t.Errorf("request.cancelled: %+v", ev)
	}
	e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret after all"))
}

// TestLifecycleBreakGlass: on-call alice gets production at once; every
// audit event of the request and its grant is critical.
func TestLifecycleBreakGlass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()

	body := accessRequest(devstack.ProdAccount, 3600, "INC-1234: prod is down, database failover")
	body["break_glass"] = true
	r := e.create(alice, body)
	if r.Status != access.StatusApproved || r.ApprovalMode != "break_glass" || !r.BreakGlass ||
		!slices.Equal(r.DecidingRuleIDs, []string{"oncall-break-glass"}) || r.Grant == nil || !r.Grant.BreakGlass {
		t.Fatalf("created: %+v grant %+v", r.Request, r.Grant)
	}
	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	if h := e.holders(g); !slices.Equal(h, []string{g.ID}) {
		t.Fatalf("assignment holders: %v", h)
	}
	e.want(http.StatusOK, "DELETE", "/v1/grants/"+g.ID, alice, map[string]any{"reasoning": "incident resolved"})

	revs := e.audit(admin, url.Values{"resource_id": {r.ID}})
	gevs := e.audit(admin, url.Values{"resource_id": {g.ID}})
	findEvent(t, revs, access.AuditRequestBreakGlass)
	findEvent(t, gevs, access.AuditGrantActive)
	findEvent(t, gevs, access.AuditGrantRevoked)
	for _, ev := range append(revs, gevs...) {
		if ev.Severity != access.SeverityCritical {
			t.Errorf("%s on %s: severity %q, want critical", ev.Action, ev.ResourceID, ev.Severity)
		}
	}
	if bg := e.audit(admin, url.Values{"action": {access.AuditRequestBreakGlass}}); len(bg) != 1 || bg[0].ResourceID != r.ID || bg[0].ActorID != "alice" {
		t.Errorf("action=request.break_glass: %+v", bg)
	}
}

// TestLifecycleEarlyRevoke: the grantee revokes early; the assignment goes;
// the scheduled end later is a no-op that leaves the grant revoked.
func TestLifecycleEarlyRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()

	r := e.create(alice, accessRequest(devstack.DevAccount, 60, "quick look at the logs"))
	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	if h := e.holders(g); !slices.Equal(h, []string{g.ID}) {
		t.Fatalf("assignment holders while active: %v", h)
	}

	rv := decodeAs[access.Grant](t, e.want(http.StatusOK, "DELETE", "/v1/grants/"+g.ID, alice, nil))
	if rv.Status != access.GrantRevoked || rv.RevokedBy != "alice" || rv.RevokedAt == nil {
		t.Fatalf("revoked: %+v", rv)
	}
	if h := e.holders(g); len(h) != 0 {
		t.Fatalf("assignment holders after the revoke: %v", h)
	}
	e.wantErr(http.StatusConflict, "conflict", "DELETE", "/v1/grants/"+g.ID, alice, nil)

	x := e.waitExecution(r.ID, e.until(*g.ExpiresAt)+quick)
	if x.Status != "SUCCEEDED" || x.Error != "" || x.Retries != 0 ||
		!slices.Equal(x.States, autoStates) {
		t.Fatalf("execution: %+v", x)
	}
	after := e.grant(alice, g.ID)
	if after.Status != access.GrantRevoked || after.RevokedBy != "alice" || after.Version != rv.Version {
		t.Fatalf("grant after its scheduled end: %+v (revoked as %+v)", after, rv)
	}
	if h := e.holders(g); len(h) != 0 {
		t.Fatalf("assignment holders after the scheduled end: %v", h)
	}
	acts := actions(e.audit(admin, url.Values{"resource_id": {g.ID}}))
	if !slices.Equal(acts, []string{access.AuditGrantRevoked, access.AuditGrantActive}) {
		t.Fatalf("grant events (newest first): %v", acts)
	}
}

// TestLifecycleTenantIsolation: globex sees none of acme's requests,
// grants, conversations or audit events, and cannot act on them.
func TestLifecycleTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin, mallory, globex := e.alice(), e.admin(), e.mallory(), e.otherAdmin()

	pending := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	auto := e.create(alice, accessRequest(devstack.DevAccount, 3600, "debug a failing deploy"))
	g := e.waitGrant(alice, auto.GrantID, access.GrantActive, quick)
	e.want(http.StatusCreated, "POST", "/v1/requests/"+pending.ID+"/messages", alice, map[string]any{"body": "INC-1234"})
	// mallory's own request: globex has no rules, so it is denied (and stored).
	e.wantErr(http.StatusForbidden, "policy_denied", "POST", "/v1/requests", mallory, accessRequest(devstack.DevAccount, 3600, "curious"))

	acmeIDs := []string{pending.ID, auto.ID, g.ID}
	for _, who := range []struct {
		name string
		h    map[string]string
	}{{"mallory", mallory}, {"globex admin", globex}} {
		t.Run(who.name, func(t *testing.T) {
			e := &env{t: t, st: e.st, demo: e.demo}
			cases := []struct{ method, path string }{
				{"GET", "/v1/requests/" + pending.ID},
				{"GET", "/v1/requests/" + auto.ID},
				{"GET", "/v1/grants/" + g.ID},
				{"DELETE", "/v1/grants/" + g.ID},
				{"GET", "/v1/requests/" + pending.ID + "/messages"},
				{"POST", "/v1/requests/" + pending.ID + "/approve"},
				{"POST", "/v1/requests/" + pending.ID + "/deny"},
				{"POST", "/v1/requests/" + pending.ID + "/cancel"},
			}
			for _, c := range cases {
				e.wantErr(http.StatusNotFound, "not_found", c.method, c.path, who.h, nil)
			}
			e.wantErr(http.StatusNotFound, "not_found", "POST", "/v1/requests/"+pending.ID+"/messages", who.h, map[string]any{"body": "hello from globex"})
			for _, path := range []string{"/v1/requests", "/v1/requests?status=pending", "/v1/requests?requester=alice"} {
				for _, r := range listAll[access.Request](e, who.h, path, 50) {
					if r.TenantID != devstack.OtherTenant || slices.Contains(acmeIDs, r.ID) {
						t.Errorf("%s lists %+v", path, r)
					}
				}
			}
			for _, g := range listAll[access.Grant](e, globex, "/v1/grants", 50) {
				t.Errorf("globex lists a grant: %+v", g)
			}
		})
	}

	// globex's audit log holds only globex's events, mallory's denial among them.
	gevs := e.audit(globex, nil)
	findEvent(t, gevs, access.AuditRequestDenied)
	for _, ev := range gevs {
		if ev.TenantID != devstack.OtherTenant || slices.Contains(acmeIDs, ev.ResourceID) || ev.ActorID == "alice" {
			t.Errorf("globex's audit log holds %+v", ev)
		}
	}
	for _, id := range acmeIDs {
		if evs := e.audit(globex, url.Values{"resource_id": {id}}); len(evs) != 0 {
			t.Errorf("globex's audit log filtered by acme's %s: %+v", id, evs)
		}
	}
	for _, ev := range e.audit(admin, nil) {
		if ev.TenantID != devstack.DemoTenant || ev.ActorID == "mallory" {
			t.Errorf("acme's audit log holds %+v", ev)
		}
	}

	// A globex token on acme's tenant never reaches the handlers.
	onAcme := devstack.BearerHeaders(devstack.DemoTenant, e.demo.OtherRequester.Token)
	e.wantErr(http.StatusForbidden, "tenant_mismatch", "GET", "/v1/requests/"+pending.ID, onAcme, nil)
	e.wantErr(http.StatusForbidden, "tenant_mismatch", "POST", "/v1/requests/"+pending.ID+"/approve", onAcme, nil)
	e.wantErr(http.StatusForbidden, "tenant_mismatch", "GET", "/v1/grants/"+g.ID, onAcme, nil)
	e.wantErr(http.StatusForbidden, "tenant_mismatch", "GET", "/v1/audit-log", onAcme, nil)

	// Cursors are bound to the tenant.
	first := decodeAs[page[access.Request]](t, e.want(http.StatusOK, "GET", "/v1/requests?limit=1", admin, nil))
	if !first.HasMore {
		t.Fatalf("acme has one page of one request: %+v", first)
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", "/v1/requests?limit=1&cursor="+url.QueryEscape(first.NextCursor), globex, nil, "cursor")

	// Nothing changed.
	if got := e.request(alice, pending.ID); got.Status != access.StatusPending || len(got.Reviews) != 0 {
		t.Errorf("pending request after globex's attempts: %+v", got.Request)
	}
	if got := e.grant(alice, g.ID); got.Status != access.GrantActive {
		t.Errorf("grant after globex's attempts: %+v", got)
	}
	if msgs := e.messages(alice, pending.ID); len(msgs) != 1 {
		t.Errorf("messages after globex's attempts: %+v", msgs)
	}
}

// TestLifecycleIdempotencyAndDuplicates: an Idempotency-Key replays the
// first response; one pending request or live grant per target.
func TestLifecycleIdempotencyAndDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob := e.alice(), e.bob()
	body := accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret")
	keyed := merge(alice, map[string]string{"Idempotency-Key": "rotate-2026-11-27"})

	first := e.want(http.StatusCreated, "POST", "/v1/requests", keyed, body)
	r1 := decodeAs[reqOut](t, first)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first response is marked replayed")
	}
	again := e.want(http.StatusCreated, "POST", "/v1/requests", keyed, body)
	r2 := decodeAs[reqOut](t, again)
	if r2.ID != r1.ID || r2.Status != r1.Status || again.Header.Get("Idempotent-Replayed") != "true" ||
		again.Header.Get("Location") != "/v1/requests/"+r1.ID {
		t.Fatalf("replay: %s %v (first %s)", again.Body, again.Header, first.Body)
	}
	other := accessRequest(devstack.ProdAccount, 3600, "something else entirely")
	e.wantErr(http.StatusUnprocessableEntity, "idempotency_key_reused", "POST", "/v1/requests", keyed, other)

	// Another key, or none, for the same target: the duplicate guard.
	for _, h := range []map[string]string{alice, merge(alice, map[string]string{"Idempotency-Key": "another"})} {
		r := e.do("POST", "/v1/requests", h, body)
		if r.Status != http.StatusConflict || decodeAs[apiErr](t, r).Code != "duplicate_request" || errDetails(t, r)["request_id"] != r1.ID {
			t.Fatalf("duplicate: %s", r)
		}
	}
	mine := listAll[access.Request](e, alice, "/v1/requests?mine=true", 50)
	if len(mine) != 1 || mine[0].ID != r1.ID {
		t.Fatalf("alice's requests: %+v", mine)
	}
	// Keys are the requester's: bob's same key is his own request.
	rb := e.create(merge(bob, map[string]string{"Idempotency-Key": "rotate-2026-11-27"}), body)
	if rb.ID == r1.ID || rb.RequesterID != "bob" {
		t.Fatalf("bob's request with alice's key: %+v", rb.Request)
	}

	// A live grant guards its target too.
	auto := e.create(alice, accessRequest(devstack.DevAccount, 3600, "debug a failing deploy"))
	r := e.do("POST", "/v1/requests", alice, accessRequest(devstack.DevAccount, 600, "debug some more"))
	if d := errDetails(t, r); r.Status != http.StatusConflict || d["grant_id"] != auto.GrantID || d["request_id"] != auto.ID {
		t.Fatalf("request while a grant is live: %s", r)
	}
	// Once the pending one is cancelled, the key still replays it (cancelled).
	e.review(alice, r1.ID, "cancel", nil)
	if r3 := decodeAs[reqOut](t, e.want(http.StatusCreated, "POST", "/v1/requests", keyed, body)); r3.ID != r1.ID || r3.Status != access.StatusCancelled {
		t.Fatalf("replay after cancel: %+v", r3.Request)
	}
}

// TestLifecycleAuditLog: the lifecycle's events are listed and filtered;
// the chain (extended from the stream) verifies, and a changed stored
// event breaks it at its entry.
func TestLifecycleAuditLog(t *testing.T) {
	t.Parallel()
	e, db := newEnvWithDB(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()

	auto := e.create(alice, accessRequest(devstack.DevAccount, 3600, "debug a failing deploy"))
	prod := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	e.want(http.StatusCreated, "POST", "/v1/requests/"+prod.ID+"/messages", bob, map[string]any{"body": "which secret?"})
	a := e.review(bob, prod.ID, "approve", map[string]any{"reasoning": "ok"})
	e.waitGrant(alice, auto.GrantID, access.GrantActive, quick)
	e.waitGrant(alice, a.GrantID, access.GrantActive, quick)

	all := e.audit(admin, nil)
	for i, ev := range all {
		if ev.TenantID != devstack.DemoTenant || ev.Hash != access.AuditHash(ev) || (i > 0 && ev.ID > all[i-1].ID) {
			t.Fatalf("event %d of %d (newest first): %+v", i, len(all), ev)
		}
	}
	if paged := listAll[access.AuditEvent](e, admin, "/v1/audit-log", 2); !slices.EqualFunc(paged, all, func(a, b access.AuditEvent) bool { return a.ID == b.ID }) {
		t.Fatalf("paging by 2 lists %d events, one page %d", len(paged), len(all))
	}

	approved := e.audit(admin, url.Values{"action": {access.AuditRequestApproved}})
	if got := ids(approved, func(ev access.AuditEvent) string { return ev.ResourceID }); !slices.Equal(got, []string{prod.ID, auto.ID}) {
		t.Errorf("action=request.approved: %v, want [%s %s]", got, prod.ID, auto.ID)
	}
	if got := actions(e.audit(admin, url.Values{"resource_id": {prod.ID}})); !slices.Equal(got, []string{access.AuditRequestApproved, access.AuditMessagePosted, access.AuditRequestCreated}) {
		t.Errorf("resource_id=%s: %v", prod.ID, got)
	}
	if got := e.audit(admin, url.Values{"resource_id": {a.GrantID}, "action": {access.AuditGrantActive}}); len(got) != 1 || got[0].ResourceType != "grant" {
		t.Errorf("grant.active of %s: %+v", a.GrantID, got)
	}
	for _, ev := range e.audit(admin, url.Values{"actor_id": {"bob"}}) {
		if ev.ActorID != "bob" {
			t.Errorf("actor_id=bob lists %+v", ev)
		}
	}
	if got := e.audit(admin, url.Values{"resource_type": {"grant"}}); len(got) != 2 {
		t.Errorf("resource_type=grant: %v", actions(got))
	}
	e.wantErr(http.StatusForbidden, "", "GET", "/v1/audit-log", alice, nil)
	e.wantErr(http.StatusForbidden, "", "GET", "/v1/audit-log/verify", bob, nil)

	if err := e.st.Notifications.Stream.Flush(t.Context()); err != nil { // the chain is extended after commit
		t.Fatal(err)
	}
	v := decodeAs[access.VerifyResult](t, e.want(http.StatusOK, "GET", "/v1/audit-log/verify?genesis=true", admin, nil))
	if !v.Valid || v.Checked != int64(len(all)) || v.FirstBrokenSeq != 0 || v.HeadSeq != int64(len(all)) {
		t.Fatalf("verify before tampering: %+v (%d events)", v, len(all))
	}

	// Rewrite who created the prod request, straight in the table.
	victim := findEvent(t, e.audit(admin, url.Values{"resource_id": {prod.ID}}), access.AuditRequestCreated)
	_, err := db.UpdateItem(t.Context(), &dynamodb.UpdateItemInput{
		TableName: aws.String(e.st.Store.Table()),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "T#" + devstack.DemoTenant + "#AUDIT"},
			"SK": &types.AttributeValueMemberS{Value: "EVT#" + victim.ID},
		},
		UpdateExpression:          aws.String("SET actor_id = :m"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: "mallory"}},
	})
	if err != nil {
		t.Fatalf("tamper with event %s: %v", victim.ID, err)
	}
	v = decodeAs[access.VerifyResult](t, e.want(http.StatusOK, "GET", "/v1/audit-log/verify?genesis=true", admin, nil))
	if v.Valid || v.FirstBrokenSeq == 0 || !strings.Contains(v.Reason, victim.ID) {
		t.Fatalf("verify after tampering with event %s: %+v", victim.ID, v)
	}
	// From the latest anchor (the default) the edit is before the
	// anchored window or in it; from genesis it is always found (above).
	if v := decodeAs[access.VerifyResult](t, e.want(http.StatusOK, "GET", "/v1/audit-log/verify", admin, nil)); v.LatestAnchor == 0 {
		t.Errorf("no anchor written: %+v", v)
	}
	// globex's chain is untouched.
	if v := decodeAs[access.VerifyResult](t, e.want(http.StatusOK, "GET", "/v1/audit-log/verify", e.otherAdmin(), nil)); !v.Valid {
		t.Errorf("globex's chain: %+v", v)
	}
}

// TestLifecycleSeedCommands: the walkthrough `make dev` prints (Demo.
// Walkthrough, steps 5 and 6) as a person types it — the flat resource
// spelling, the id cut from the start of the body, approve and deny with
// just the two headers (no body, no content type), a conversation both
// sides see.
func TestLifecycleSeedCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, carol := e.alice(), e.bob(), e.carol()
	if len(alice) != 2 || len(bob) != 2 {
		t.Fatalf("BearerHeaders is more than Authorization + X-Tenant-ID: %v", bob)
	}

	cr := e.want(http.StatusCreated, "POST", "/v1/requests", alice, jsonBody(
		`{"resource_type":"aws_account","resource_id":"`+devstack.ProdAccount+`","duration_seconds":3600,"justification":"rotate a prod secret"}`))
	r := decodeAs[reqOut](t, cr)
	if !strings.HasPrefix(string(cr.Body), `{"id":"`+r.ID+`"`) || r.Status != access.StatusPending || r.Resource.ID != devstack.ProdAccount {
		t.Fatalf("the walkthrough cuts the id from the body's start: %s", cr.Body)
	}
	q := decodeAs[access.Message](t, e.want(http.StatusCreated, "POST", "/v1/requests/"+r.ID+"/messages", bob,
		jsonBody(`{"body": "Can you provide more context on the incident?"}`)))
	if q.AuthorType != "approver" || q.AuthorID != "bob" || q.RequestID != r.ID || q.Body != "Can you provide more context on the incident?" {
		t.Fatalf("bob's message: %+v", q)
	}
	a := decodeAs[access.Message](t, e.want(http.StatusCreated, "POST", "/v1/requests/"+r.ID+"/messages", alice,
		map[string]any{"body": "INC-1234: the primary database is failing over."}))
	if a.AuthorType != "user" || a.AuthorID != "alice" {
		t.Fatalf("alice's message: %+v", a)
	}
	for name, h := range map[string]map[string]string{"alice": alice, "bob": bob, "carol": carol} {
		msgs := e.messages(h, r.ID)
		if got := ids(msgs, func(m access.Message) string { return m.ID }); !slices.Equal(got, []string{q.ID, a.ID}) {
			t.Errorf("%s sees messages %+v", name, msgs)
		}
	}
	// Someone who is neither requester nor reviewer sees nothing: not
	// even that the request exists.
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/requests/"+r.ID+"/messages", e.user("dave", "engineering"), nil)

	ap := e.review(bob, r.ID, "approve", nil)
	if ap.Status != access.StatusApproved || ap.DecidedBy != "bob" || ap.DecisionReasoning != "" || ap.GrantID == "" {
		t.Fatalf("bare approve: %+v", ap.Request)
	}
	if sys := systemMessages(e.messages(alice, r.ID)); !slices.Equal(sys, []string{"approved by bob"}) {
		t.Errorf("system messages: %q", sys)
	}
	e.waitGrant(alice, ap.GrantID, access.GrantActive, quick)
	if got := listAll[access.Grant](e, alice, "/v1/grants?status=active", 50); len(got) != 1 || got[0].ID != ap.GrantID {
		t.Fatalf("alice's active grants: %+v", got)
	}

	// Step 6's sandbox request (the "reason" spelling), denied bare.
	sandbox := jsonBody(`{"resource":{"type":"aws_account","id":"` + devstack.SandboxAccount + `"},"reason":"try a sandbox change","duration_seconds":600}`)
	sb := decodeAs[reqOut](t, e.want(http.StatusCreated, "POST", "/v1/requests", alice, sandbox))
	if sb.Status != access.StatusPending || sb.ApprovalTimeout != 60 || sb.Reason != "try a sandbox change" {
		t.Fatalf("sandbox request: %+v", sb.Request)
	}
	if d := e.review(bob, sb.ID, "deny", nil); d.Status != access.StatusDenied || d.DecidedBy != "bob" || d.DecisionReasoning != "" {
		t.Fatalf("bare deny: %+v", d.Request)
	}
	if sys := systemMessages(e.messages(alice, sb.ID)); !slices.Equal(sys, []string{"denied by bob"}) {
		t.Errorf("system messages: %q", sys)
	}
	// A JSON content type with an empty body is a bare call as well.
	sb2 := decodeAs[reqOut](t, e.want(http.StatusCreated, "POST", "/v1/requests", alice, sandbox))
	if d := e.review(carol, sb2.ID, "deny", jsonBody("")); d.Status != access.StatusDenied {
		t.Fatalf("deny with an empty JSON body: %+v", d.Request)
	}
}

// TestLifecycleHostileInput: malformed input on the request, review,
// message, grant and audit routes is a precise 4xx with {code, message},
// never a 500, and changes nothing.
func TestLifecycleHostileInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()
	pending := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	auto := e.create(alice, accessRequest(devstack.DevAccount, 3600, "debug a failing deploy"))
	g := e.waitGrant(alice, auto.GrantID, access.GrantActive, quick)
	reqs0 := len(listAll[access.Request](e, admin, "/v1/requests", 250))
	audit0 := len(e.audit(admin, nil))

	withReq := func(kv ...any) map[string]any {
		b := accessRequest(devstack.DevAccount, 600, "debug a failing deploy")
		for i := 0; i+1 < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	long := func(n int) string { return strings.Repeat("x", n) }
	p := "/v1/requests/" + pending.ID
	cases := []hostileCase{
		// POST /v1/requests.
		{"unknown field", "POST", "/v1/requests", alice, withReq("bogus", 1), 400, "validation_failed", []string{"bogus"}},
		{"unknown field in resource", "POST", "/v1/requests", alice, withReq("resource", map[string]any{"type": "aws_account", "id": devstack.DevAccount, "extra": 1}), 400, "validation_failed", nil},
		{"both resource spellings", "POST", "/v1/requests", alice, withReq("resource_type", "aws_account", "resource_id", devstack.DevAccount), 400, "validation_failed", []string{"resource"}},
		{"flat and nested disagree", "POST", "/v1/requests", alice, withReq("resource_type", "aws_account", "resource_id", devstack.ProdAccount), 400, "validation_failed", []string{"resource"}},
		{"bad account id", "POST", "/v1/requests", alice, withReq("resource", account("12345")), 400, "validation_failed", []string{"resource.id"}},
		{"account id with letters", "POST", "/v1/requests", alice, withReq("resource", account("11111111111a")), 400, "validation_failed", []string{"resource.id"}},
		{"bad resource type", "POST", "/v1/requests", alice, withReq("resource", map[string]any{"type": "gcp_project", "id": "x"}), 400, "validation_failed", []string{"resource.type"}},
		{"no resource", "POST", "/v1/requests", alice, map[string]any{"duration_seconds": 600, "justification": "x"}, 400, "validation_failed", nil},
		{"duration 0", "POST", "/v1/requests", alice, withReq("duration_seconds", 0, "resource", account(devstack.SandboxAccount)), 400, "validation_failed", []string{"duration_seconds"}},
		{"duration 59", "POST", "/v1/requests", alice, withReq("duration_seconds", 59), 400, "validation_failed", []string{"duration_seconds"}},
		{"negative duration", "POST", "/v1/requests", alice, withReq("duration_seconds", -3600), 400, "validation_failed", []string{"duration_seconds"}},
		{"duration over 7 days", "POST", "/v1/requests", alice, withReq("duration_seconds", 7*24*3600+1), 400, "validation_failed", []string{"duration_seconds"}},
		{"huge duration", "POST", "/v1/requests", alice, withReq("duration_seconds", int64(1)<<62), 400, "validation_failed", []string{"duration_seconds"}},
		{"overflowing duration", "POST", "/v1/requests", alice, jsonBody(`{"resource":{"type":"aws_account","id":"111111111111"},"justification":"x","duration_seconds":1e300}`), 400, "validation_failed", []string{"duration_seconds"}},
		{"fractional duration", "POST", "/v1/requests", alice, withReq("duration_seconds", 600.5), 400, "validation_failed", []string{"duration_seconds"}},
		{"duration as string", "POST", "/v1/requests", alice, withReq("duration_seconds", "600"), 400, "validation_failed", []string{"duration_seconds"}},
		{"empty reason", "POST", "/v1/requests", alice, withReq("justification", ""), 400, "validation_failed", []string{"reason"}},
		{"blank reason", "POST", "/v1/requests", alice, withReq("justification", " \n\t "), 400, "validation_failed", []string{"reason"}},
		{"two different reasons", "POST", "/v1/requests", alice, withReq("reason", "something else"), 400, "validation_failed", []string{"reason"}},
		{"long reason", "POST", "/v1/requests", alice, withReq("justification", long(2001)), 400, "validation_failed", []string{"reason"}},
		{"break-glass with a short reason", "POST", "/v1/requests", alice, withReq("break_glass", true, "justification", "prod down"), 400, "validation_failed", []string{"reason"}},
		{"bidi override in reason", "POST", "/v1/requests", alice, withReq("justification", "debug \u202Egnp.exe"), 400, "validation_failed", []string{"reason"}},
		{"zero-width space in reason", "POST", "/v1/requests", alice, withReq("justification", "debug\u200b"), 400, "validation_failed", []string{"reason"}},
		{"field name in upper case", "POST", "/v1/requests", alice, jsonBody(`{"RESOURCE_TYPE":"aws_account","resource_id":"111111111111","justification":"debug"}`), 400, "validation_failed", []string{"RESOURCE_TYPE"}},
		{"duplicate key", "POST", "/v1/requests", alice, jsonBody(`{"resource_type":"aws_account","resource_id":"111111111111","resource_id":"222222222222","justification":"debug"}`), 400, "validation_failed", []string{"resource_id"}},
		{"bad permission set", "POST", "/v1/requests", alice, withReq("permission_set_arn", "arn:aws:iam::aws:policy/AdministratorAccess"), 400, "validation_failed", []string{"permission_set_arn"}},
		{"other action", "POST", "/v1/requests", alice, withReq("action", "approve_request"), 400, "validation_failed", []string{"action"}},
		{"large metadata", "POST", "/v1/requests", alice, withReq("metadata", map[string]any{"x": long(5000)}), 400, "validation_failed", []string{"metadata"}},
		{"metadata not an object", "POST", "/v1/requests", alice, withReq("metadata", []int{1}), 400, "validation_failed", []string{"metadata"}},
		{"bad Idempotency-Key", "POST", "/v1/requests", merge(alice, map[string]string{"Idempotency-Key": "a key"}), withReq(), 400, "validation_failed", []string{"Idempotency-Key"}},
		{"long Idempotency-Key", "POST", "/v1/requests", merge(alice, map[string]string{"Idempotency-Key": long(129)}), withReq(), 400, "validation_failed", []string{"Idempotency-Key"}},
		{"text/plain", "POST", "/v1/requests", alice, rawBody{"text/plain", []byte(`{"resource":{"type":"aws_account","id":"111111111111"},"justification":"x"}`)}, 415, "unsupported_media_type", nil},
		{"form", "POST", "/v1/requests", alice, rawBody{"application/x-www-form-urlencoded", []byte("resource_type=aws_account")}, 415, "unsupported_media_type", nil},
		{"no body", "POST", "/v1/requests", alice, nil, 400, "validation_failed", nil},
		{"null", "POST", "/v1/requests", alice, jsonBody(`null`), 400, "validation_failed", nil},
		{"array", "POST", "/v1/requests", alice, jsonBody(`[{"resource":{"type":"aws_account","id":"111111111111"}}]`), 400, "validation_failed", nil},
		{"truncated", "POST", "/v1/requests", alice, jsonBody(`{"resource":{"type":"aws_account"`), 400, "validation_failed", nil},
		{"over 64 KiB", "POST", "/v1/requests", alice, withReq("justification", long(70<<10)), 413, "body_too_large", nil},

		// Reviews and cancel.
		{"approve: unknown field", "POST", p + "/approve", bob, map[string]any{"bogus": 1}, 400, "validation_failed", []string{"bogus"}},
		{"approve: reasoning not a string", "POST", p + "/approve", bob, map[string]any{"reasoning": 5}, 400, "validation_failed", []string{"reasoning"}},
		{"approve: long reasoning", "POST", p + "/approve", bob, map[string]any{"reasoning": long(2001)}, 400, "validation_failed", []string{"reasoning"}},
		{"approve: control characters", "POST", p + "/approve", bob, map[string]any{"reasoning": "ok\x00"}, 400, "validation_failed", []string{"reasoning"}},
		{"approve: bidi override", "POST", p + "/approve", bob, map[string]any{"reasoning": "ok\u202E"}, 400, "validation_failed", []string{"reasoning"}},
		{"deny: bidi isolate", "POST", p + "/deny", bob, map[string]any{"reasoning": "\u2067no\u2069"}, 400, "validation_failed", []string{"reasoning"}},
		{"approve: duplicate key", "POST", p + "/approve", bob, jsonBody(`{"reasoning":"a","reasoning":"b"}`), 400, "validation_failed", []string{"reasoning"}},
		{"approve: array", "POST", p + "/approve", bob, jsonBody(`[]`), 400, "validation_failed", nil},
		{"approve: text/plain", "POST", p + "/approve", bob, rawBody{"text/plain", []byte("looks good")}, 415, "unsupported_media_type", nil},
		{"approve: JSON sent as text/plain", "POST", p + "/approve", bob, rawBody{"text/plain", []byte(`{"reasoning":"ok"}`)}, 415, "unsupported_media_type", nil},
		{"cancel: JSON sent as a form", "POST", p + "/cancel", alice, rawBody{"application/x-www-form-urlencoded", []byte(`{}`)}, 415, "unsupported_media_type", nil},
		{"revoke: JSON sent as text/plain", "DELETE", "/v1/grants/" + g.ID, alice, rawBody{"text/plain", []byte(`{"reasoning":"ok"}`)}, 415, "unsupported_media_type", nil},
		{"deny: long reasoning", "POST", p + "/deny", bob, map[string]any{"reasoning": long(2001)}, 400, "validation_failed", []string{"reasoning"}},
		{"deny: trailing data", "POST", p + "/deny", bob, jsonBody(`{"reasoning":"no"} x`), 400, "validation_failed", nil},
		{"cancel: unknown field", "POST", p + "/cancel", alice, map[string]any{"reasoning": "changed my mind"}, 400, "validation_failed", []string{"reasoning"}},
		{"approve: unknown request", "POST", "/v1/requests/req_00000000000000000000000000/approve", bob, nil, 404, "not_found", nil},
		{"approve: odd id", "POST", "/v1/requests/" + url.PathEscape("x#META") + "/approve", bob, nil, 404, "not_found", nil},
		{"get: long id", "GET", "/v1/requests/" + long(2000), alice, nil, 0, "", nil},

		// Messages.
		{"message: empty", "POST", p + "/messages", alice, map[string]any{"body": ""}, 400, "validation_failed", []string{"body"}},
		{"message: blank", "POST", p + "/messages", alice, map[string]any{"body": " \n "}, 400, "validation_failed", []string{"body"}},
		{"message: missing", "POST", p + "/messages", alice, map[string]any{}, 400, "validation_failed", []string{"body"}},
		{"message: 5000 characters", "POST", p + "/messages", alice, map[string]any{"body": long(5000)}, 400, "validation_failed", []string{"body"}},
		{"message: 4001 runes", "POST", p + "/messages", alice, map[string]any{"body": strings.Repeat("é", 4001)}, 400, "validation_failed", []string{"body"}},
		{"message: control characters", "POST", p + "/messages", alice, map[string]any{"body": "a\x07b"}, 400, "validation_failed", []string{"body"}},
		{"message: bidi override", "POST", p + "/messages", alice, map[string]any{"body": "see \u202Etxt.exe"}, 400, "validation_failed", []string{"body"}},
		{"message: field name in another case", "POST", p + "/messages", alice, jsonBody(`{"Body":"hi"}`), 400, "validation_failed", []string{"Body"}},
		{"message: number", "POST", p + "/messages", alice, map[string]any{"body": 5}, 400, "validation_failed", []string{"body"}},
		{"message: unknown field", "POST", p + "/messages", alice, map[string]any{"body": "hi", "author_type": "system"}, 400, "validation_failed", []string{"author_type"}},
		{"message: text/plain", "POST", p + "/messages", alice, "hello", 415, "unsupported_media_type", nil},
		{"message: unknown request", "POST", "/v1/requests/req_00000000000000000000000000/messages", alice, map[string]any{"body": "hi"}, 404, "not_found", nil},

		// Lists.
		{"requests: bad status", "GET", "/v1/requests?status=bogus", alice, nil, 400, "validation_failed", []string{"status"}},
		{"requests: grant status", "GET", "/v1/requests?status=active", alice, nil, 400, "validation_failed", []string{"status"}},
		{"requests: bad mine", "GET", "/v1/requests?mine=maybe", alice, nil, 400, "validation_failed", []string{"mine"}},
		{"requests: mine and another requester", "GET", "/v1/requests?mine=true&requester=bob", alice, nil, 400, "validation_failed", []string{"requester"}},
		{"requests: bad requester", "GET", "/v1/requests?requester=" + url.QueryEscape("a\x00b"), alice, nil, 400, "validation_failed", []string{"requester"}},
		{"requests: bad cursor", "GET", "/v1/requests?cursor=garbage", alice, nil, 400, "validation_failed", []string{"cursor"}},
		{"requests: base64 cursor", "GET", "/v1/requests?cursor=eyJwayI6IlQjZ2xvYmV4I1JFUVMifQ", admin, nil, 400, "validation_failed", []string{"cursor"}},
		{"requests: huge cursor", "GET", "/v1/requests?cursor=" + long(5000), alice, nil, 400, "validation_failed", []string{"cursor"}},
		{"requests: limit=0", "GET", "/v1/requests?limit=0", alice, nil, 400, "validation_failed", []string{"limit"}},
		{"requests: limit=251", "GET", "/v1/requests?limit=251", alice, nil, 400, "validation_failed", []string{"limit"}},
		{"requests: limit=abc", "GET", "/v1/requests?limit=abc", alice, nil, 400, "validation_failed", []string{"limit"}},
		{"grants: bad status", "GET", "/v1/grants?status=pending", alice, nil, 400, "validation_failed", []string{"status"}},
		{"grants: bad cursor", "GET", "/v1/grants?cursor=garbage", alice, nil, 400, "validation_failed", []string{"cursor"}},
		{"grants: limit=-1", "GET", "/v1/grants?limit=-1", alice, nil, 400, "validation_failed", []string{"limit"}},
		{"grants: someone else's", "GET", "/v1/grants?grantee=bob", alice, nil, 403, "forbidden", nil},
		{"messages: bad cursor", "GET", p + "/messages?cursor=garbage", alice, nil, 400, "validation_failed", []string{"cursor"}},
		{"messages: limit overflow", "GET", p + "/messages?limit=99999999999999999999", alice, nil, 400, "validation_failed", []string{"limit"}},
		{"audit: bad cursor", "GET", "/v1/audit-log?cursor=garbage", admin, nil, 400, "validation_failed", []string{"cursor"}},
		{"audit: limit=0", "GET", "/v1/audit-log?limit=0", admin, nil, 400, "validation_failed", []string{"limit"}},
		{"audit: bad from", "GET", "/v1/audit-log?from=yesterday", admin, nil, 400, "validation_failed", []string{"from"}},
		{"audit: to before from", "GET", "/v1/audit-log?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", admin, nil, 400, "validation_failed", []string{"to"}},
		{"audit: as a person", "GET", "/v1/audit-log", alice, nil, 403, "forbidden", nil},
		{"verify: as a person", "GET", "/v1/audit-log/verify", alice, nil, 403, "forbidden", nil},

		// Grants.
		{"revoke: long reasoning", "DELETE", "/v1/grants/" + g.ID, alice, map[string]any{"reasoning": long(2001)}, 400, "validation_failed", []string{"reasoning"}},
		{"revoke: unknown field", "DELETE", "/v1/grants/" + g.ID, alice, map[string]any{"force": true}, 400, "validation_failed", []string{"force"}},
		{"revoke: someone else's (not even visible)", "DELETE", "/v1/grants/" + g.ID, e.user("dave", "engineering"), nil, 404, "not_found", nil},
		{"revoke: unknown grant", "DELETE", "/v1/grants/grt_00000000000000000000000000", alice, nil, 404, "not_found", nil},
		{"get grant: unknown", "GET", "/v1/grants/grt_00000000000000000000000000", alice, nil, 404, "not_found", nil},
		{"get grant: request id", "GET", "/v1/grants/" + pending.ID, alice, nil, 404, "not_found", nil},
	}
	e.refuseAll(cases)

	// Nothing changed.
	if got := e.request(alice, pending.ID); got.Status != access.StatusPending || len(got.Reviews) != 0 {
		t.Errorf("pending request after hostile input: %+v", got.Request)
	}
	if got := e.grant(alice, g.ID); got.Status != access.GrantActive {
		t.Errorf("grant after hostile input: %+v", got)
	}
	if msgs := e.messages(alice, pending.ID); len(msgs) != 0 {
		t.Errorf("messages after hostile input: %+v", msgs)
	}
	if n := len(listAll[access.Request](e, admin, "/v1/requests", 250)); n != reqs0 {
		t.Errorf("%d requests after hostile input, %d before", n, reqs0)
	}
	if n := len(e.audit(admin, nil)); n != audit0 {
		t.Errorf("%d audit events after hostile input, %d before", n, audit0)
	}
}
