package identitycenter_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

func TestProvisionSignsWithAssumedRole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	mustNot(t, e.p.Provision(ctx, assignment("g2", "bob", psRead)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin), icAssignment(e.uid("bob"), psRead))

	// One AssumeRole (credentials cached per tenant and role), signed with
	// the platform key, for the tenant's role, external id and session name.
	sessions := e.fake.Sessions()
	if len(sessions) != 1 {
		t.Fatalf("AssumeRole sessions: %+v", sessions)
	}
	s := sessions[0]
	if s.RoleARN != e.acme.RoleARN || s.ExternalID != externalID || s.SessionName != "jitsudo-acme" {
		t.Fatalf("session %+v", s)
	}
	for _, c := range e.fake.CallsOf(awsfault.OpAssumeRole) {
		if c.AccessKeyID != platformKey || c.Region != region {
			t.Fatalf("AssumeRole call %+v: want the platform key in %s", c, region)
		}
	}
	// Every Identity Center call was signed (signature verified by the
	// fake) with the assumed role's key, in the tenant's region.
	n := 0
	for _, c := range e.fake.CallsOf("") {
		if c.Op == awsfault.OpAssumeRole {
			continue
		}
		n++
		if c.AccessKeyID != s.AccessKeyID || c.Region != region {
			t.Fatalf("%s signed by %s in %s; want assumed-role key %s in %s", c.Op, c.AccessKeyID, c.Region, s.AccessKeyID, region)
		}
	}
	if n == 0 || e.fake.Calls(awsfault.OpCreateAccountAssignment) != 2 || e.fake.Calls(awsfault.OpGetUserID) != 2 {
		t.Fatalf("calls: %+v", e.fake.CallsOf(""))
	}
	for _, op := range []string{awsfault.OpAssumeRole, awsfault.OpGetUserID, awsfault.OpCreateAccountAssignment, awsfault.OpDescribeCreationStatus} {
		if r := e.fake.Rejected(op); r != 0 {
			t.Fatalf("%d %s calls rejected (signature/credentials)", r, op)
		}
	}
	// The record holds the grant and the Identity Center user id.
	recs := e.records()
	i := slices.IndexFunc(recs, func(r store.AssignmentRecord) bool { return r.PrincipalID == "alice" })
	if i < 0 || recs[i].ExternalPrincipalID != e.uid("alice") || !slices.Equal(recs[i].Holders, []string{"g1"}) {
		t.Fatalf("records %+v", recs)
	}
	// Provisioning again is idempotent.
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin), icAssignment(e.uid("bob"), psRead))
}

func TestWrongExternalIDIsRefused(t *testing.T) {
	e := newEnv(t)
	s := e.settings[tenant]
	s.ExternalID = "someone-elses-id"
	e.setSettings(tenant, s)
	err := e.p.Provision(context.Background(), assignment("g1", "alice", psAdmin))
	wantPermanent(t, err, nil)
	if !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("error %v does not say AccessDenied", err)
	}
	if len(e.fake.Sessions()) != 0 || e.fake.Calls(awsfault.OpCreateAccountAssignment) != 0 {
		t.Fatal("no session may be issued and nothing assigned")
	}
	e.wantAssignments()
}

// TestBadSignatureIsRefused: a platform secret that is not the key's
// signs AssumeRole wrongly; AWS (here the proxy, with the SDK's signer)
// refuses it and nothing is assigned.
func TestBadSignatureIsRefused(t *testing.T) {
	e := newEnv(t)
	e.p = identitycenter.New(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(platformKey, "not-the-secret", "")},
		e.settingsOf, e.st)
	e.p.Endpoint, e.p.Sleep, e.p.Logger = e.endpoint, e.sleep, slog.New(slog.DiscardHandler)
	err := e.p.Provision(context.Background(), assignment("g1", "alice", psAdmin))
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("error %v, want SignatureDoesNotMatch", err)
	}
	if e.fake.Rejected(awsfault.OpAssumeRole) == 0 || len(e.fake.Sessions()) != 0 {
		t.Fatalf("rejected %d, sessions %+v", e.fake.Rejected(awsfault.OpAssumeRole), e.fake.Sessions())
	}
	e.wantAssignments()
}

func TestOtherTenantsInstanceIsRefused(t *testing.T) {
	e := newEnv(t)
	// globex's role may not manage acme's instance.
	e.setSettings(otherTenant, identitycenter.Settings{InstanceARN: instanceARN, IdentityStoreID: storeID, Region: region,
		RoleARN: e.other.RoleARN, ExternalID: otherExtID})
	a := assignment("g1", "alice", psAdmin)
	a.TenantID = otherTenant
	err := e.p.Provision(context.Background(), a)
	wantPermanent(t, err, nil)
	if !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("error %v", err)
	}
	e.wantAssignments()
}

func TestUnknownRequesterIsPermanent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	err := e.p.Provision(ctx, assignment("g1", "mallory", psAdmin))
	wantPermanent(t, err, identitycenter.ErrUnknownUser)
	if !strings.Contains(err.Error(), "requester mallory is not a user in Identity Center (userName=mallory)") {
		t.Fatalf("unclear error: %v", err)
	}
	if len(e.records()) != 0 {
		t.Fatal("an unknown requester must not be recorded")
	}

	// Matching by email.
	s := e.settings[tenant]
	s.UserAttribute = identitycenter.UserAttributeEmail
	e.setSettings(tenant, s)
	a := assignment("g2", "u-123", psAdmin)
	a.PrincipalEmail = "alice@acme.test" // moto matches exactly (see docs/development.md)
	mustNot(t, e.p.Provision(ctx, a))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))
	a.PrincipalEmail = "nobody@acme.test"
	err = e.p.Provision(ctx, a)
	wantPermanent(t, err, identitycenter.ErrUnknownUser)
	if !strings.Contains(err.Error(), "(emails.value=nobody@acme.test)") {
		t.Fatalf("unclear error: %v", err)
	}
}

func TestTenantWithoutSettings(t *testing.T) {
	e := newEnv(t)
	a := assignment("g1", "alice", psAdmin)
	a.TenantID = "initech"
	err := e.p.Provision(context.Background(), a)
	wantPermanent(t, err, identitycenter.ErrNoSettings)
	if !strings.Contains(err.Error(), "no Identity Center settings") {
		t.Fatalf("unclear error: %v", err)
	}
	e.setSettings("initech", identitycenter.Settings{InstanceARN: instanceARN, IdentityStoreID: storeID, RoleARN: e.acme.RoleARN})
	err = e.p.Provision(context.Background(), a)
	wantPermanent(t, err, identitycenter.ErrNoSettings)
	if !strings.Contains(err.Error(), "missing external_id") {
		t.Fatalf("unclear error: %v", err)
	}
}

func TestUnsupportedResource(t *testing.T) {
	e := newEnv(t)
	a := access.Assignment{TenantID: tenant, GrantID: "g1", PrincipalID: "alice",
		Resource: access.Resource{Type: "s3_bucket", ID: "arn:aws:s3:::reports"}}
	err := e.p.Provision(context.Background(), a)
	wantPermanent(t, err, identitycenter.ErrUnsupportedResource)
	if !strings.Contains(err.Error(), "resource type s3_bucket is not provisioned through Identity Center") {
		t.Fatalf("unclear error: %v", err)
	}
	// Nothing was provisioned, so there is nothing to revoke.
	mustNot(t, e.p.Revoke(context.Background(), a))
	if n := len(e.fake.CallsOf("")); n != 0 {
		t.Fatalf("%d AWS calls for an unsupported resource", n)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.Throttle(awsfault.OpAssumeRole, 1)
	e.fake.Throttle(awsfault.OpGetUserID, 2)
	e.fake.Throttle(awsfault.OpCreateAccountAssignment, 3)
	e.fake.Throttle(awsfault.OpDescribeCreationStatus, 1)
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))
	if n := e.fake.Calls(awsfault.OpCreateAccountAssignment); n != 4 {
		t.Fatalf("CreateAccountAssignment calls: %d, want 4 (3 throttled + 1): SDK retries must be off", n)
	}
	// Backoff: jittered in [d/2, d) with d = 200ms·2ⁿ.
	for _, d := range e.slept() {
		if d <= 0 || d > identitycenter.DefaultRetryMax || d > identitycenter.DefaultPollMax {
			t.Fatalf("sleep %s out of bounds", d)
		}
	}

	// A burst longer than the budget: retryable, after exactly the budget.
	e.p.RetryAttempts = 3
	e.fake.Throttle(awsfault.OpCreateAccountAssignment, 10)
	before := e.fake.Calls(awsfault.OpCreateAccountAssignment)
	err := e.p.Provision(ctx, assignment("g2", "bob", psAdmin))
	wantRetryable(t, err)
	if !strings.Contains(err.Error(), "ThrottlingException") {
		t.Fatalf("error %v", err)
	}
	if n := e.fake.Calls(awsfault.OpCreateAccountAssignment) - before; n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestConflictIsRetried(t *testing.T) {
	e := newEnv(t)
	e.fake.Conflict(awsfault.OpCreateAccountAssignment, 2)
	mustNot(t, e.p.Provision(context.Background(), assignment("g1", "alice", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))
	if n := e.fake.Calls(awsfault.OpCreateAccountAssignment); n != 3 {
		t.Fatalf("CreateAccountAssignment calls: %d", n)
	}
}

// A creation that ends FAILED fails the grant for good. The grant's holder
// stays recorded: the workflow's FailGrant calls Revoke, which removes it
// (and the record) — no leak.
func TestCreationFailedIsPermanent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.PlanCreation(2, "Received a 404 status error: Permission set not provisioned")
	a := assignment("g1", "alice", psAdmin)
	err := e.p.Provision(ctx, a)
	wantPermanent(t, err, identitycenter.ErrAssignmentFailed)
	if !strings.Contains(err.Error(), "Permission set not provisioned") {
		t.Fatalf("error lacks the failure reason: %v", err)
	}
	if n := e.fake.Calls(awsfault.OpDescribeCreationStatus); n != 3 {
		t.Fatalf("status polls: %d, want 3 (2 IN_PROGRESS, then FAILED)", n)
	}
	e.wantAssignments()
	if h := e.holders("alice", psAdmin); !slices.Equal(h, []string{"g1"}) {
		t.Fatalf("holders %v", h)
	}
	mustNot(t, e.p.Revoke(ctx, a)) // what FailGrant does
	if len(e.records()) != 0 {
		t.Fatalf("records left: %+v", e.records())
	}
	e.wantAssignments()
	// IN_PROGRESS, then SUCCEEDED: applied when it completes.
	e.fake.PlanCreation(2, "")
	mustNot(t, e.p.Provision(ctx, a))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))
}

func TestCreationStuckIsRetryable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.fake.PlanCreation(1000, "")
	err := e.p.Provision(ctx, assignment("g1", "alice", psAdmin))
	wantRetryable(t, err)
	if !strings.Contains(err.Error(), "still IN_PROGRESS") {
		t.Fatalf("error %v", err)
	}
	var total time.Duration
	for _, d := range e.slept() {
		total += d
	}
	if total != identitycenter.DefaultPollBudget {
		t.Fatalf("waited %s, want the poll budget %s", total, identitycenter.DefaultPollBudget)
	}
	// The state machine retries the task: a new (idempotent) request.
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))
}

func TestLostCreateResponse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// Retried inside the call.
	e.fake.LoseResponse(awsfault.OpCreateAccountAssignment, 1)
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))
	if n := e.fake.Calls(awsfault.OpCreateAccountAssignment); n != 2 {
		t.Fatalf("CreateAccountAssignment calls: %d", n)
	}

	// Out of budget: retryable; the task's retry converges to one assignment.
	e.p.RetryAttempts = 1
	e.fake.LoseResponse(awsfault.OpCreateAccountAssignment, 1)
	err := e.p.Provision(ctx, assignment("g2", "bob", psAdmin))
	wantRetryable(t, err)
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin), icAssignment(e.uid("bob"), psAdmin)) // applied although lost
	mustNot(t, e.p.Provision(ctx, assignment("g2", "bob", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin), icAssignment(e.uid("bob"), psAdmin))
}

func TestLostDeleteResponse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := assignment("g1", "alice", psAdmin)
	mustNot(t, e.p.Provision(ctx, a))

	e.p.RetryAttempts = 1
	e.fake.LoseResponse(awsfault.OpDeleteAccountAssignment, 1)
	wantRetryable(t, e.p.Revoke(ctx, a))
	e.wantAssignments() // the deletion was applied
	if len(e.records()) != 1 || len(e.holders("alice", psAdmin)) != 0 {
		t.Fatalf("the unheld record must stay until the deletion is confirmed: %+v", e.records())
	}
	// The retried Revoke deletes again (a no-op in Identity Center) and
	// forgets the record.
	mustNot(t, e.p.Revoke(ctx, a))
	if len(e.records()) != 0 {
		t.Fatalf("records left: %+v", e.records())
	}
	deletes := e.fake.Calls(awsfault.OpDeleteAccountAssignment)
	if deletes != 2 {
		t.Fatalf("DeleteAccountAssignment calls: %d", deletes)
	}
	// And again: nothing left to do, no call.
	mustNot(t, e.p.Revoke(ctx, a))
	if e.fake.Calls(awsfault.OpDeleteAccountAssignment) != deletes {
		t.Fatal("a revoke of nothing called Identity Center")
	}

	// Within budget the lost response is retried inside Revoke.
	e.p.RetryAttempts = 0
	mustNot(t, e.p.Provision(ctx, a))
	e.fake.LoseResponse(awsfault.OpDeleteAccountAssignment, 1)
	mustNot(t, e.p.Revoke(ctx, a))
	e.wantAssignments()
	if len(e.records()) != 0 {
		t.Fatalf("records left: %+v", e.records())
	}
}

func TestOverlappingGrants(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	g1, g2 := assignment("g1", "alice", psAdmin), assignment("g2", "alice", psAdmin)
	mustNot(t, e.p.Provision(ctx, g1))
	mustNot(t, e.p.Provision(ctx, g2))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))

	mustNot(t, e.p.Revoke(ctx, g1))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin)) // g2 keeps it
	if h := e.holders("alice", psAdmin); !slices.Equal(h, []string{"g2"}) {
		t.Fatalf("holders %v", h)
	}
	if n := e.fake.Calls(awsfault.OpDeleteAccountAssignment); n != 0 {
		t.Fatalf("%d deletions while a grant still holds the assignment", n)
	}
	mustNot(t, e.p.Revoke(ctx, g1)) // twice: no-op
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin))

	mustNot(t, e.p.Revoke(ctx, g2))
	e.wantAssignments()
	if len(e.records()) != 0 {
		t.Fatalf("records left: %+v", e.records())
	}
	deletes := e.fake.Calls(awsfault.OpDeleteAccountAssignment)
	mustNot(t, e.p.Revoke(ctx, g2))
	mustNot(t, e.p.Revoke(ctx, g1))
	if e.fake.Calls(awsfault.OpDeleteAccountAssignment) != deletes {
		t.Fatal("revoking twice called Identity Center again")
	}
	// A grant never provisioned: nothing to do, no AWS call.
	calls := len(e.fake.CallsOf(""))
	mustNot(t, e.p.Revoke(ctx, assignment("g9", "bob", psRead)))
	if len(e.fake.CallsOf("")) != calls {
		t.Fatal("revoking a never-provisioned grant called AWS")
	}
}

// racingRecords is the real store with a concurrent Provision interleaved:
// another grant records itself just before the revoker's conditional
// record deletion (its CreateAccountAssignment had landed before the
// revoker's DeleteAccountAssignment).
type racingRecords struct {
	*store.Store
	once func()
}

func (r *racingRecords) DeleteAssignmentIfUnheld(ctx context.Context, a store.AssignmentTarget) (bool, error) {
	if r.once != nil {
		f := r.once
		r.once = nil
		f()
	}
	return r.Store.DeleteAssignmentIfUnheld(ctx, a)
}

func TestRevokeRecreatesForHolderThatAppeared(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	rr := &racingRecords{Store: e.st}
	rr.once = func() {
		tg := target("alice", psAdmin)
		tg.ExternalPrincipalID = e.uid("alice")
		if _, err := e.st.AddAssignmentHolder(ctx, tg, "g2"); err != nil {
			t.Error(err)
		}
	}
	e.p.Records = rr
	mustNot(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssignments(icAssignment(e.uid("alice"), psAdmin)) // re-created for g2
	if h := e.holders("alice", psAdmin); !slices.Equal(h, []string{"g2"}) {
		t.Fatalf("holders %v", h)
	}
}

func TestExpiredCredentialsAreRefreshed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var skew atomic.Int64
	e.fake.SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	// AWS's clock runs an hour ahead: it finds the cached 15-minute
	// session expired. The provider drops it and assumes the role again.
	skew.Store(int64(time.Hour))
	mustNot(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	if n := len(e.fake.Sessions()); n != 2 {
		t.Fatalf("sessions: %d, want 2", n)
	}
	if n := e.fake.Rejected(awsfault.OpDeleteAccountAssignment); n != 1 {
		t.Fatalf("DeleteAccountAssignment rejected %d times, want 1 (expired)", n)
	}
	e.wantAssignments()
}
