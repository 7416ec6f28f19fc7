package providers_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter/awsfake"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The tests run the real pieces: the store on the embedded DynamoDB, the
// Identity Center provider's SDK clients against awsfake (which checks
// SigV4 signatures, the external id and which role's session may touch
// which instance), and access.Service for the audit log.

const (
	platformKey    = "AKIAPROVIDERSTEST001"
	platformSecret = "providers-test-secret"
	region         = "eu-west-1"
	permissionSet  = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
)

// org is one tenant's AWS organization in the fake.
type org struct {
	tenant, roleARN, externalID, instanceARN, storeID, account string
	users                                                      map[string]string // user name → Identity Center user id
}

var (
	acme = org{tenant: "acme", roleARN: "arn:aws:iam::111122223333:role/jitsudo-provisioner",
		externalID: "jitsudo-acme-00112233445566778899aabbccddeeff", instanceARN: "arn:aws:sso:::instance/ssoins-0123456789abcdef",
		storeID: "d-0123456789", account: "444455556666", users: map[string]string{
			"alice": "906753c5b4-11111111-2222-3333-4444-555555555555",
			"bob":   "906753c5b4-22222222-3333-4444-5555-666666666666",
			"carol": "906753c5b4-33333333-4444-5555-6666-777777777777",
		}}
	globex = org{tenant: "globex", roleARN: "arn:aws:iam::777788889999:role/jitsudo-provisioner",
		externalID: "jitsudo-globex-ffeeddccbbaa99887766554433221100", instanceARN: "arn:aws:sso:::instance/ssoins-aaaabbbbccccdddd",
		storeID: "d-aaaabbbbcc", account: "999988887777", users: map[string]string{
			"mallory": "906753c5b4-44444444-5555-6666-7777-888888888888",
		}}
)

func (o org) settings() store.AWSSettings {
	return store.AWSSettings{TenantID: o.tenant, InstanceARN: o.instanceARN, IdentityStoreID: o.storeID, Region: region,
		RoleARN: o.roleARN, ExternalID: o.externalID, UserAttribute: "user_name", UpdatedAt: time.Now().UTC(), UpdatedBy: "test"}
}

func (o org) assignment(user string) awsfake.Assignment {
	return awsfake.Assignment{InstanceARN: o.instanceARN, AccountID: o.account, PermissionSetARN: permissionSet,
		PrincipalType: "USER", PrincipalID: o.users[user]}
}

type env struct {
	t    *testing.T
	ctx  context.Context
	fake *awsfake.Server
	url  string
	st   *store.Store
	p    *identitycenter.Provider
	svc  *access.Service
	rec  providers.Reconcile
}

// newEnv registers acme and globex in the fake and their AWS settings in
// a fresh table, and builds the provider the way a Lambda function does:
// PROVIDER=identitycenter, the platform's credentials in the environment,
// PROVIDER_ENDPOINT at the fake.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, fake: awsfake.New()}
	e.fake.AddPlatformKey(platformKey, platformSecret)
	e.st, _, _ = dynamotest.New(t)
	for _, o := range []org{acme, globex} {
		e.fake.AddRole(o.roleARN, o.externalID)
		e.fake.AddInstance(o.instanceARN, o.storeID, o.roleARN)
		for name, id := range o.users {
			e.fake.AddUser(o.storeID, id, name, name+"@"+o.tenant+".test")
		}
		if _, err := e.st.PutAWSSettings(ctx, o.settings(), 0); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(e.fake)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	t.Setenv("AWS_ACCESS_KEY_ID", platformKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", platformSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv(providers.EnvProvider, providers.IdentityCenter)
	t.Setenv(providers.EnvEndpoint, srv.URL)
	t.Setenv(providers.EnvPollBudget, "")
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	prov, err := providers.FromEnv(ctx, e.st, logger)
	if err != nil {
		t.Fatal(err)
	}
	e.p = prov.(*identitycenter.Provider)
	// The fake completes a request on its first status poll: do not wait
	// out the poll backoff in real time.
	e.p.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	e.svc = &access.Service{Repo: e.st, Provider: e.p, Now: time.Now, Logger: logger}
	e.rec = providers.Reconcile{Store: e.st, Provider: e.p, Audit: e.svc, Logger: logger}
	return e
}

// activeGrant stores an active grant of o's user on o's account and the
// permission set, and provisions it (record + assignment).
func (e *env) activeGrant(o org, id, user string) access.Grant {
	e.t.Helper()
	now := time.Now().UTC()
	end := now.Add(time.Hour)
	g := access.Grant{ID: id, TenantID: o.tenant, RequestID: "req_" + id, GranteeID: user, GranteeEmail: user + "@" + o.tenant + ".test",
		Resource: access.Resource{Type: "aws_account", ID: o.account}, PermissionSetARN: permissionSet, Status: access.GrantActive,
		DurationSeconds: 3600, GrantedAt: &now, ExpiresAt: &end, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := e.st.Commit(e.ctx, o.tenant, access.Change{Grant: &access.GrantWrite{Grant: g, Create: true}}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.p.Provision(e.ctx, access.AssignmentOf(g)); err != nil {
		e.t.Fatal(err)
	}
	if !e.fake.HasAssignment(o.assignment(user)) {
		e.t.Fatalf("provisioning %s did not create %+v", id, o.assignment(user))
	}
	return g
}

// drift returns the tenant's drift.detected audit events, oldest first.
func (e *env) drift(tenant string) []access.AuditEvent {
	e.t.Helper()
	evs, _, err := e.st.ListAudit(e.ctx, tenant, access.AuditQuery{Action: access.AuditDriftDetected}, access.Page{Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	// Oldest first: events carry no tenant sequence on the request path
	// (the chain assigns it later); their time-ordered ids order them.
	slices.SortFunc(evs, func(a, b access.AuditEvent) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return evs
}

// run reconciles every configured tenant and fails on an error.
func (e *env) run() map[string]identitycenter.Report {
	e.t.Helper()
	reps, err := e.rec.Run(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return reps
}

func empty(r identitycenter.Report) bool {
	return len(r.Repaired)+len(r.Removed)+len(r.Unexpected)+len(r.Errors) == 0
}

// count reads a number out of audit metadata (it comes back from the
// table as a float64 or a string, depending on the decoder).
func count(md map[string]any, k string) string { return fmt.Sprint(md[k]) }
