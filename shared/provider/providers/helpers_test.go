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

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// The tests run the real pieces: the store on the embedded DynamoDB, the
// Identity Center provider's SDK clients against moto behind
// infra/awsfault (which checks the external id and which role's session
// may touch which instance), and access.Service for the audit log.

const (
	platformKey    = "AKIAPROVIDERSTEST001"
	platformSecret = "providers-test-secret"
	region         = "eu-west-1"
	permissionSet  = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
)

// org is one tenant's AWS organization: its role's account is random
// (each test's own Identity Center state in the shared moto).
type org struct {
	tenant, externalID, instanceARN, storeID, account string
	users                                             []string
}

var (
	acme = org{tenant: "acme", externalID: "jitsudo-acme-00112233445566778899aabbccddeeff",
		instanceARN: "arn:aws:sso:::instance/ssoins-0123456789abcdef", storeID: "d-0123456789", account: "444455556666",
		users: []string{"alice", "bob", "carol"}}
	globex = org{tenant: "globex", externalID: "jitsudo-globex-ffeeddccbbaa99887766554433221100",
		instanceARN: "arn:aws:sso:::instance/ssoins-aaaabbbbccccdddd", storeID: "d-aaaabbbbcc", account: "999988887777",
		users: []string{"mallory"}}
)

func (o org) settings(roleARN string) store.AWSSettings {
	return store.AWSSettings{TenantID: o.tenant, InstanceARN: o.instanceARN, IdentityStoreID: o.storeID, Region: region,
		RoleARN: roleARN, ExternalID: o.externalID, UserAttribute: "user_name", UpdatedAt: time.Now().UTC(), UpdatedBy: "test"}
}

type env struct {
	t    *testing.T
	ctx  context.Context
	fake *awsfault.Proxy
	orgs map[string]*awsfault.Tenant // tenant id -> its Identity Center in moto
	url  string
	st   *store.Store
	p    *identitycenter.Provider
	svc  *access.Service
	rec  providers.Reconcile
}

// newEnv sets up acme and globex in moto (behind awsfault) and their AWS
// settings in a fresh table, and builds the provider the way a Lambda
// function does: PROVIDER=identitycenter, the platform's credentials in
// the environment, PROVIDER_ENDPOINT at the proxy.
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	endpoint := mototest.Endpoint(t)
	proxy, err := awsfault.New(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, fake: proxy, orgs: map[string]*awsfault.Tenant{}}
	e.st, _, _ = dynamotest.New(t)
	for _, o := range []org{acme, globex} {
		ic, err := proxy.AddTenant(ctx, endpoint, awsfault.TenantSpec{RoleName: "jitsudo-provisioner", ExternalID: o.externalID,
			InstanceARN: o.instanceARN, IdentityStoreID: o.storeID, Region: region, EmailDomain: o.tenant + ".test", Users: o.users})
		if err != nil {
			t.Fatal(err)
		}
		e.orgs[o.tenant] = ic
		if _, err := e.st.PutAWSSettings(ctx, o.settings(ic.RoleARN), 0); err != nil {
			t.Fatal(err)
		}
	}
	proxy.RequireSignatures(map[string]string{platformKey: platformSecret})
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	t.Setenv("AWS_ACCESS_KEY_ID", platformKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", platformSecret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The provider as wiring builds it: the environment's credentials,
	// PROVIDER_ENDPOINT as the clients' endpoint.
	e.p = providers.IdentityCenter(wiring.AWSConfig(srv.URL, ""), e.st, logger, 0)
	// moto completes a request at once: do not wait out the poll backoff
	// in real time.
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
	if !e.has(o, user) {
		e.t.Fatalf("provisioning %s did not create %+v", id, e.assignment(o, user))
	}
	return g
}

// assignment is o's user's assignment to the permission set on o's account.
func (e *env) assignment(o org, user string) awsfault.Assignment {
	return e.orgs[o.tenant].User(user, o.account, permissionSet)
}

// has says whether o's user is assigned the permission set in moto.
func (e *env) has(o org, user string) bool {
	e.t.Helper()
	ok, err := e.orgs[o.tenant].Has(e.ctx, e.assignment(o, user))
	if err != nil {
		e.t.Fatal(err)
	}
	return ok
}

// assign and unassign change o's assignments behind jitsudo's back.
func (e *env) assign(o org, user string) {
	e.t.Helper()
	if err := e.orgs[o.tenant].Assign(e.ctx, e.assignment(o, user)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) unassign(o org, user string) {
	e.t.Helper()
	if err := e.orgs[o.tenant].Unassign(e.ctx, e.assignment(o, user)); err != nil {
		e.t.Fatal(err)
	}
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
