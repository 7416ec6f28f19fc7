package identitycenter_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The provider's real STS, SSO Admin and Identity Store clients against
// moto (which keeps the sessions, users and account assignments), behind
// infra/awsfault for what moto does not do: throttling bursts,
// ConflictException, IN_PROGRESS then FAILED, lost responses, the external
// id. Each test's role is in an account of its own, so its Identity Center
// state in the shared moto is its own (moto keeps state per account, and
// an assumed role's keys act in the role's account).

type motoEnv struct {
	t       *testing.T
	proxy   *awsfault.Proxy
	st      *store.Store
	p       *identitycenter.Provider
	roleARN string
	users   map[string]string // user name -> Identity Center user id
	sso     *ssoadmin.Client  // direct to moto, as the tenant's role: what is really assigned

	mu       sync.Mutex
	settings map[string]identitycenter.Settings
}

func randomAccount() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e11))
	return fmt.Sprintf("%012d", n.Int64()+1e11)
}

func newMotoEnv(t *testing.T) *motoEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint := mototest.Endpoint(t)
	proxy, err := awsfault.New(endpoint)
	mustNot(t, err)
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	e := &motoEnv{t: t, proxy: proxy, roleARN: "arn:aws:iam::" + randomAccount() + ":role/jitsudo-broker", users: map[string]string{}}
	proxy.RequireExternalID(e.roleARN, externalID)
	proxy.AuthorizeInstance(instanceARN, storeID, e.roleARN)

	// The tenant's administrator: users in the identity store, and the
	// view of the assignments, as the role, straight to moto.
	platform := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(platformKey, platformSecret, "")}
	out, err := sts.NewFromConfig(platform, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) }).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(e.roleARN), RoleSessionName: aws.String("admin"), ExternalId: aws.String(externalID)})
	mustNot(t, err)
	admin := platform.Copy()
	admin.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	ids := identitystore.NewFromConfig(admin, func(o *identitystore.Options) { o.BaseEndpoint = aws.String(endpoint) })
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := ids.CreateUser(ctx, &identitystore.CreateUserInput{IdentityStoreId: aws.String(storeID), UserName: aws.String(name),
			DisplayName: aws.String(name), Name: &istypes.Name{GivenName: aws.String(name), FamilyName: aws.String("Test")},
			Emails: []istypes.Email{{Value: aws.String(name + "@acme.test"), Primary: true}}})
		mustNot(t, err)
		e.users[name] = aws.ToString(u.UserId)
	}
	e.sso = ssoadmin.NewFromConfig(admin, func(o *ssoadmin.Options) { o.BaseEndpoint = aws.String(endpoint) })

	e.settings = map[string]identitycenter.Settings{tenant: {InstanceARN: instanceARN, IdentityStoreID: storeID, Region: region,
		RoleARN: e.roleARN, ExternalID: externalID}}
	e.st, _, _ = dynamotest.New(t)
	e.p = identitycenter.New(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(platformKey, platformSecret, "")},
		func(_ context.Context, tenantID string) (identitycenter.Settings, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			s, ok := e.settings[tenantID]
			if !ok {
				return identitycenter.Settings{}, fmt.Errorf("settings of %s: %w", tenantID, access.ErrNotFound)
			}
			return s, nil
		}, e.st)
	e.p.Endpoint = srv.URL
	e.p.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	e.p.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

// assigned returns "user/permission set" of every assignment moto holds
// on the account for the two permission sets, sorted.
func (e *motoEnv) assigned() []string {
	e.t.Helper()
	byID := map[string]string{}
	for name, id := range e.users {
		byID[id] = name
	}
	var out []string
	for _, ps := range []string{psAdmin, psRead} {
		l, err := e.sso.ListAccountAssignments(context.Background(), &ssoadmin.ListAccountAssignmentsInput{
			InstanceArn: aws.String(instanceARN), AccountId: aws.String(account), PermissionSetArn: aws.String(ps)})
		mustNot(e.t, err)
		for _, a := range l.AccountAssignments {
			if name, ok := byID[aws.ToString(a.PrincipalId)]; ok { // the fixture's users only
				out = append(out, name+"/"+ps[strings.LastIndexByte(ps, '/')+1:])
			}
		}
	}
	slices.Sort(out)
	return out
}

func (e *motoEnv) wantAssigned(want ...string) {
	e.t.Helper()
	slices.Sort(want)
	if got := e.assigned(); !slices.Equal(got, want) {
		e.t.Fatalf("assignments in moto: %v, want %v", got, want)
	}
}

const (
	admin = "ps-0123456789abcdef"
	read  = "ps-fedcba9876543210"
)

func TestMotoProvisionSignsWithAssumedRole(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	mustNot(t, e.p.Provision(ctx, assignment("g2", "bob", psRead)))
	e.wantAssigned("alice/"+admin, "bob/"+read)

	// One AssumeRole with the platform key, for the tenant's role,
	// external id and session name; every Identity Center call signed by
	// the session's key, in the tenant's region.
	sessions := e.proxy.Sessions()
	if len(sessions) != 1 || sessions[0].RoleARN != e.roleARN || sessions[0].ExternalID != externalID || sessions[0].SessionName != "jitsudo-acme" {
		t.Fatalf("AssumeRole sessions: %+v", sessions)
	}
	session := sessions[0].AccessKeyID
	for _, c := range e.proxy.CallsOf("") {
		switch {
		case c.Op == awsfault.OpAssumeRole && (c.AccessKeyID != platformKey || c.Region != region):
			t.Fatalf("AssumeRole %+v: want the platform key in %s", c, region)
		case c.Op == awsfault.OpAssumeRole:
		case c.AccessKeyID != session || c.Region != region:
			t.Fatalf("%s signed by %s in %s; want the session's key %s in %s", c.Op, c.AccessKeyID, c.Region, session, region)
		}
	}
	recs, err := e.st.ListAssignments(ctx, tenant)
	mustNot(t, err)
	i := slices.IndexFunc(recs, func(r store.AssignmentRecord) bool { return r.PrincipalID == "alice" })
	if i < 0 || recs[i].ExternalPrincipalID != e.users["alice"] || !slices.Equal(recs[i].Holders, []string{"g1"}) {
		t.Fatalf("records %+v", recs)
	}
	// Idempotent, on Identity Center's side too (no duplicate).
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssigned("alice/"+admin, "bob/"+read)
	mustNot(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	mustNot(t, e.p.Revoke(ctx, assignment("g2", "bob", psRead)))
	e.wantAssigned()
}

func TestMotoWrongExternalIDIsRefused(t *testing.T) {
	e := newMotoEnv(t)
	s := e.settings[tenant]
	s.ExternalID = "someone-elses-id"
	e.settings[tenant] = s
	err := e.p.Provision(context.Background(), assignment("g1", "alice", psAdmin))
	wantPermanent(t, err, nil)
	if !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("error %v does not say AccessDenied", err)
	}
	if e.proxy.Rejected(awsfault.OpAssumeRole) != 1 || len(e.proxy.Sessions()) != 0 || e.proxy.Calls(awsfault.OpCreateAccountAssignment) != 0 {
		t.Fatalf("calls %+v", e.proxy.CallsOf(""))
	}
	e.wantAssigned()
}

func TestMotoUnknownUserIsPermanent(t *testing.T) {
	e := newMotoEnv(t)
	wantPermanent(t, e.p.Provision(context.Background(), assignment("g1", "mallory", psAdmin)), identitycenter.ErrUnknownUser)
	e.wantAssigned()
}

func TestMotoThrottlingAndConflictAreRetried(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	e.proxy.Throttle(awsfault.OpAssumeRole, 1)
	e.proxy.Throttle(awsfault.OpGetUserID, 2)
	e.proxy.Throttle(awsfault.OpCreateAccountAssignment, 3)
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssigned("alice/" + admin)
	if n := e.proxy.Calls(awsfault.OpCreateAccountAssignment); n != 4 {
		t.Fatalf("CreateAccountAssignment calls: %d, want 4 (3 throttled + 1)", n)
	}
	e.proxy.Conflict(awsfault.OpCreateAccountAssignment, 2)
	mustNot(t, e.p.Provision(ctx, assignment("g2", "bob", psAdmin)))
	e.wantAssigned("alice/"+admin, "bob/"+admin)

	// A burst longer than the budget: retryable, after exactly the budget.
	e.p.RetryAttempts = 3
	e.proxy.Throttle(awsfault.OpCreateAccountAssignment, 10)
	before := e.proxy.Calls(awsfault.OpCreateAccountAssignment)
	err := e.p.Provision(ctx, assignment("g3", "carol", psAdmin))
	wantRetryable(t, err)
	if !strings.Contains(err.Error(), "ThrottlingException") || e.proxy.Calls(awsfault.OpCreateAccountAssignment)-before != 3 {
		t.Fatalf("error %v after %d attempts", err, e.proxy.Calls(awsfault.OpCreateAccountAssignment)-before)
	}
	e.wantAssigned("alice/"+admin, "bob/"+admin)
}

func TestMotoCreationInProgressThenFailed(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	e.proxy.PlanCreation(2, "Received a 404 status error: Permission set not provisioned")
	a := assignment("g1", "alice", psAdmin)
	err := e.p.Provision(ctx, a)
	wantPermanent(t, err, identitycenter.ErrAssignmentFailed)
	if !strings.Contains(err.Error(), "Permission set not provisioned") {
		t.Fatalf("error lacks the failure reason: %v", err)
	}
	if n := e.proxy.Calls(awsfault.OpDescribeCreationStatus); n != 3 {
		t.Fatalf("status polls: %d, want 3 (2 IN_PROGRESS, then FAILED)", n)
	}
	e.wantAssigned()
	mustNot(t, e.p.Revoke(ctx, a)) // what FailGrant does
	e.wantAssigned()

	// IN_PROGRESS, then SUCCEEDED: applied when it completes.
	e.proxy.PlanCreation(2, "")
	mustNot(t, e.p.Provision(ctx, a))
	e.wantAssigned("alice/" + admin)
}

func TestMotoLostResponses(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	e.proxy.LoseResponse(awsfault.OpCreateAccountAssignment, 1)
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssigned("alice/" + admin)
	if n := e.proxy.Calls(awsfault.OpCreateAccountAssignment); n != 2 {
		t.Fatalf("CreateAccountAssignment calls: %d", n)
	}

	// Out of budget: retryable, applied although lost; the retry converges.
	e.p.RetryAttempts = 1
	e.proxy.LoseResponse(awsfault.OpCreateAccountAssignment, 1)
	wantRetryable(t, e.p.Provision(ctx, assignment("g2", "bob", psAdmin)))
	e.wantAssigned("alice/"+admin, "bob/"+admin)
	mustNot(t, e.p.Provision(ctx, assignment("g2", "bob", psAdmin)))
	e.wantAssigned("alice/"+admin, "bob/"+admin)

	// A lost deletion: applied, retryable; the retried Revoke is a no-op
	// in Identity Center and forgets the record.
	e.proxy.LoseResponse(awsfault.OpDeleteAccountAssignment, 1)
	wantRetryable(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssigned("bob/" + admin)
	mustNot(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	if n := e.proxy.Calls(awsfault.OpDeleteAccountAssignment); n != 2 {
		t.Fatalf("DeleteAccountAssignment calls: %d", n)
	}
	recs, err := e.st.ListAssignments(ctx, tenant)
	mustNot(t, err)
	if len(recs) != 1 || recs[0].PrincipalID != "bob" {
		t.Fatalf("records %+v", recs)
	}
}

// TestMotoReconcileRepairsDrift: the reconciler against assignments
// changed in moto behind the provider's back — an active grant's
// assignment deleted (re-created), a revoked grant's left behind
// (removed), one nobody granted (reported, left alone).
func TestMotoReconcileRepairsDrift(t *testing.T) {
	m := newMotoEnv(t)
	ctx := context.Background()
	e := &env{t: t, st: m.st} // the table helpers
	e.putGrant("gA", "alice", psAdmin, access.GrantProvisioning)
	e.putGrant("gB", "bob", psAdmin, access.GrantProvisioning)
	mustNot(t, m.p.Provision(ctx, assignment("gA", "alice", psAdmin)))
	mustNot(t, m.p.Provision(ctx, assignment("gB", "bob", psAdmin)))
	e.setGrantStatus("gA", access.GrantActive)
	e.setGrantStatus("gB", access.GrantActive)
	e.setGrantStatus("gB", access.GrantRevoked)
	behindOurBack := func(create bool, user string) {
		t.Helper()
		in := struct{ instance, target, ps, user *string }{aws.String(instanceARN), aws.String(account), aws.String(psAdmin), aws.String(m.users[user])}
		var err error
		if create {
			_, err = m.sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{InstanceArn: in.instance, TargetId: in.target,
				TargetType: "AWS_ACCOUNT", PermissionSetArn: in.ps, PrincipalType: "USER", PrincipalId: in.user})
		} else {
			_, err = m.sso.DeleteAccountAssignment(ctx, &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: in.instance, TargetId: in.target,
				TargetType: "AWS_ACCOUNT", PermissionSetArn: in.ps, PrincipalType: "USER", PrincipalId: in.user})
		}
		mustNot(t, err)
	}
	behindOurBack(false, "alice")
	behindOurBack(true, "carol")
	m.wantAssigned("bob/"+admin, "carol/"+admin)
	// 11 more nobody granted: the reconciler reads more than one page.
	for i := range 11 {
		_, err := m.sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(instanceARN),
			TargetId: aws.String(account), TargetType: "AWS_ACCOUNT", PermissionSetArn: aws.String(psAdmin), PrincipalType: "USER",
			PrincipalId: aws.String(fmt.Sprintf("906753c5b4-%08d-0000-0000-0000-000000000000", i))})
		mustNot(t, err)
	}

	r := &identitycenter.Reconciler{Provider: m.p, Grants: identitycenter.RepoGrants{Repo: m.st}, Logger: m.p.Logger}
	rep, err := r.Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Errors) != 0 || len(rep.Repaired) != 1 || !strings.Contains(rep.Repaired[0], psAdmin) ||
		len(rep.Removed) != 1 || !strings.Contains(rep.Removed[0], "principal bob") ||
		len(rep.Unexpected) != 12 || !strings.Contains(strings.Join(rep.Unexpected, "\n"), m.users["carol"]) {
		t.Fatalf("report %+v", rep)
	}
	if n := m.proxy.Calls(awsfault.OpListAccountAssignments); n < 2 {
		t.Fatalf("ListAccountAssignments calls: %d, want more than one page", n)
	}
	m.wantAssigned("alice/"+admin, "carol/"+admin)
	// Idempotent.
	rep, err = r.Reconcile(ctx, tenant)
	mustNot(t, err)
	if len(rep.Repaired)+len(rep.Removed)+len(rep.Errors) != 0 || len(rep.Unexpected) != 12 {
		t.Fatalf("second run: %+v", rep)
	}
	m.wantAssigned("alice/"+admin, "carol/"+admin)
}

// TestMotoOtherTenantsInstanceIsRefused: globex's role may not manage
// acme's instance.
func TestMotoOtherTenantsInstanceIsRefused(t *testing.T) {
	e := newMotoEnv(t)
	otherRole := "arn:aws:iam::" + randomAccount() + ":role/jitsudo-broker"
	e.proxy.RequireExternalID(otherRole, otherExtID)
	e.settings[otherTenant] = identitycenter.Settings{InstanceARN: instanceARN, IdentityStoreID: storeID, Region: region,
		RoleARN: otherRole, ExternalID: otherExtID}
	a := assignment("g1", "alice", psAdmin)
	a.TenantID = otherTenant
	err := e.p.Provision(context.Background(), a)
	wantPermanent(t, err, nil)
	if !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Fatalf("error %v", err)
	}
	e.wantAssigned()
}

// TestMotoExpiredCredentialsAreRefreshed: AWS's clock runs an hour ahead
// and finds the cached 15-minute session expired; the provider drops it
// and assumes the role again.
func TestMotoExpiredCredentialsAreRefreshed(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	var skew atomic.Int64
	e.proxy.SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	skew.Store(int64(time.Hour))
	mustNot(t, e.p.Revoke(ctx, assignment("g1", "alice", psAdmin)))
	if n := len(e.proxy.Sessions()); n != 2 {
		t.Fatalf("sessions: %d, want 2", n)
	}
	if n := e.proxy.Rejected(awsfault.OpDeleteAccountAssignment); n != 1 {
		t.Fatalf("DeleteAccountAssignment rejected %d times, want 1 (expired)", n)
	}
	e.wantAssigned()
}

// TestMotoCreationStuckIsRetryable: IN_PROGRESS past the poll budget is
// retryable after exactly the budget; the task's retry converges.
func TestMotoCreationStuckIsRetryable(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	var mu sync.Mutex
	var waited time.Duration
	e.p.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waited += d
		mu.Unlock()
		return ctx.Err()
	}
	e.proxy.PlanCreation(1000, "")
	err := e.p.Provision(ctx, assignment("g1", "alice", psAdmin))
	wantRetryable(t, err)
	if !strings.Contains(err.Error(), "still IN_PROGRESS") || waited != identitycenter.DefaultPollBudget {
		t.Fatalf("error %v after %s, want the poll budget %s", err, waited, identitycenter.DefaultPollBudget)
	}
	e.wantAssigned()
	mustNot(t, e.p.Provision(ctx, assignment("g1", "alice", psAdmin)))
	e.wantAssigned("alice/" + admin)
}

// TestMotoOverlappingGrants: two grants share one assignment; it goes
// with the last of them, once.
func TestMotoOverlappingGrants(t *testing.T) {
	e := newMotoEnv(t)
	ctx := context.Background()
	g1, g2 := assignment("g1", "alice", psAdmin), assignment("g2", "alice", psAdmin)
	mustNot(t, e.p.Provision(ctx, g1))
	mustNot(t, e.p.Provision(ctx, g2))
	e.wantAssigned("alice/" + admin)
	mustNot(t, e.p.Revoke(ctx, g1))
	mustNot(t, e.p.Revoke(ctx, g1))
	e.wantAssigned("alice/" + admin)
	if n := e.proxy.Calls(awsfault.OpDeleteAccountAssignment); n != 0 {
		t.Fatalf("%d deletions while a grant still holds the assignment", n)
	}
	mustNot(t, e.p.Revoke(ctx, g2))
	e.wantAssigned()
	calls := len(e.proxy.CallsOf(""))
	mustNot(t, e.p.Revoke(ctx, g2))
	mustNot(t, e.p.Revoke(ctx, assignment("g9", "bob", psRead)))
	if len(e.proxy.CallsOf("")) != calls {
		t.Fatal("revoking twice, or a never-provisioned grant, called AWS")
	}
}
