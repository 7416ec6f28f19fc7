package identitycenter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/jitsudo/jitsudo-serverless/infra/awsfault"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/infra/mototest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The tests run the real SDK clients (STS, SSO Admin, Identity Store)
// against moto (which keeps the sessions, users and account assignments)
// behind infra/awsfault (faults, the external id, who may call), and the
// real store on a fresh table. Each test's tenants are in accounts of
// their own, so tests sharing one moto do not see each other.

const (
	tenant         = "acme"
	platformKey    = "AKIAPLATFORM00000001"
	platformSecret = "platform-secret"
	region         = "eu-west-1"
	externalID     = "acme-external-id-0001"
	instanceARN    = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
	storeID        = "d-0123456789"
	account        = "444455556666"
	psAdmin        = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
	psRead         = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-fedcba9876543210"

	// A second tenant with its own role and instance.
	otherTenant   = "globex"
	otherExtID    = "globex-external-id-0001"
	otherInstance = "arn:aws:sso:::instance/ssoins-aaaabbbbccccdddd"
	otherStoreID  = "d-aaaabbbbcc"
)

type env struct {
	t        *testing.T
	fake     *awsfault.Proxy
	acme     *awsfault.Tenant // acme's Identity Center in moto
	other    *awsfault.Tenant // globex's
	st       *store.Store
	p        *identitycenter.Provider
	endpoint string // the proxy's URL

	mu       sync.Mutex
	settings map[string]identitycenter.Settings
	sleeps   []time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint := mototest.Endpoint(t)
	proxy, err := awsfault.New(endpoint)
	mustNot(t, err)
	e := &env{t: t, fake: proxy, settings: map[string]identitycenter.Settings{}}
	e.acme, err = proxy.AddTenant(ctx, endpoint, awsfault.TenantSpec{ExternalID: externalID, InstanceARN: instanceARN,
		IdentityStoreID: storeID, Region: region, EmailDomain: "acme.test", Users: []string{"alice", "bob", "carol"}})
	mustNot(t, err)
	e.other, err = proxy.AddTenant(ctx, endpoint, awsfault.TenantSpec{ExternalID: otherExtID, InstanceARN: otherInstance,
		IdentityStoreID: otherStoreID, Region: region, EmailDomain: "globex.test"})
	mustNot(t, err)
	proxy.RequireSignatures(map[string]string{platformKey: platformSecret})
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)

	e.settings[tenant] = identitycenter.Settings{InstanceARN: instanceARN, IdentityStoreID: storeID, Region: region,
		RoleARN: e.acme.RoleARN, ExternalID: externalID}
	e.st, _, _ = dynamotest.New(t)
	base := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(platformKey, platformSecret, "")}
	e.p = identitycenter.New(base, e.settingsOf, e.st)
	e.endpoint = srv.URL
	e.p.Endpoint = srv.URL
	e.p.Sleep = e.sleep
	e.p.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return e
}

// uid is acme's user's Identity Center user id.
func (e *env) uid(user string) string { return e.acme.Users[user] }

func (e *env) settingsOf(_ context.Context, tenantID string) (identitycenter.Settings, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.settings[tenantID]
	if !ok {
		return identitycenter.Settings{}, fmt.Errorf("settings of %s: %w", tenantID, access.ErrNotFound)
	}
	return s, nil
}

func (e *env) setSettings(tenantID string, s identitycenter.Settings) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.settings[tenantID] = s
}

// sleep records the wait asked for and returns at once.
func (e *env) sleep(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	e.sleeps = append(e.sleeps, d)
	e.mu.Unlock()
	return ctx.Err()
}

func (e *env) slept() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sleeps)
}

func (e *env) resetSleeps() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sleeps = nil
}

func assignment(grantID, principal, permissionSet string) access.Assignment {
	return access.Assignment{TenantID: tenant, GrantID: grantID, PrincipalID: principal, PrincipalEmail: principal + "@acme.test",
		AccountID: account, PermissionSetARN: permissionSet, Resource: access.Resource{Type: "aws_account", ID: account}}
}

func icAssignment(userID, permissionSet string) awsfault.Assignment {
	return awsfault.Assignment{InstanceARN: instanceARN, AccountID: account, PermissionSetARN: permissionSet, PrincipalType: "USER", PrincipalID: userID}
}

// assignments returns acme's assignments in moto on account.
func (e *env) assignments() []awsfault.Assignment {
	e.t.Helper()
	got, err := e.acme.Assignments(context.Background(), account, psAdmin, psRead)
	mustNot(e.t, err)
	return got
}

// assign and unassign change acme's assignments behind the provider's back.
func (e *env) assign(a awsfault.Assignment) {
	e.t.Helper()
	mustNot(e.t, e.acme.Assign(context.Background(), a))
}
func (e *env) unassign(a awsfault.Assignment) {
	e.t.Helper()
	mustNot(e.t, e.acme.Unassign(context.Background(), a))
}

func target(principal, permissionSet string) store.AssignmentTarget {
	return store.AssignmentTarget{TenantID: tenant, AccountID: account, PermissionSetARN: permissionSet, PrincipalID: principal}
}

func (e *env) holders(principal, permissionSet string) []string {
	e.t.Helper()
	h, err := e.st.AssignmentHolders(context.Background(), target(principal, permissionSet))
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// records returns the tenant's assignment records.
func (e *env) records() []store.AssignmentRecord {
	e.t.Helper()
	recs, err := e.st.ListAssignments(context.Background(), tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func (e *env) wantAssignments(want ...awsfault.Assignment) {
	e.t.Helper()
	got := e.assignments()
	if len(got) != len(want) {
		e.t.Fatalf("assignments in Identity Center: got %v, want %v", got, want)
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			e.t.Fatalf("assignments in Identity Center: got %v, missing %v", got, w)
		}
	}
}

func mustNot(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantPermanent(t *testing.T, err error, target error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if errors.Is(err, access.ErrRetryable) {
		t.Fatalf("error must be permanent, is retryable: %v", err)
	}
	if target != nil && !errors.Is(err, target) {
		t.Fatalf("error %v is not %v", err, target)
	}
}

func wantRetryable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, access.ErrRetryable) {
		t.Fatalf("error must wrap access.ErrRetryable: %v", err)
	}
}

// putGrant stores a grant in the table.
func (e *env) putGrant(id, principal, permissionSet, status string) access.Grant {
	e.t.Helper()
	now := time.Now().UTC()
	g := access.Grant{ID: id, TenantID: tenant, RequestID: "req-" + id, GranteeID: principal, GranteeEmail: principal + "@acme.test",
		Resource: access.Resource{Type: "aws_account", ID: account}, PermissionSetARN: permissionSet, Status: status,
		DurationSeconds: 3600, CreatedAt: now, UpdatedAt: now, Version: 1}
	_, err := e.st.Commit(context.Background(), tenant, access.Change{Grant: &access.GrantWrite{Grant: g, Create: true}})
	mustNot(e.t, err)
	return g
}

// setGrantStatus moves a stored grant to status (as the Service would,
// without calling the provider).
func (e *env) setGrantStatus(id, status string) {
	e.t.Helper()
	ctx := context.Background()
	g, err := e.st.GetGrant(ctx, tenant, id)
	mustNot(e.t, err)
	old, oldStatus := g.Version, g.Status
	g.Status, g.Version, g.UpdatedAt = status, old+1, time.Now().UTC()
	_, err = e.st.Commit(ctx, tenant, access.Change{Grant: &access.GrantWrite{Grant: g, ExpectStatus: oldStatus, ExpectVersion: old}})
	mustNot(e.t, err)
}
