package providers_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// TestIdentityCenterProvisions: the provider wiring builds works end to
// end: the tenant's settings from the table, the platform's
// credentials from the environment used only to assume the tenant's role
// with its external id, the assignment made with that role's session.
func TestIdentityCenterProvisions(t *testing.T) {
	e := newEnv(t)
	e.activeGrant(acme, "grt_one", "alice")
	for _, c := range e.fake.CallsOf("") {
		if c.Op == "AssumeRole" {
			if c.AccessKeyID != platformKey {
				t.Errorf("AssumeRole signed by %s, want the platform key", c.AccessKeyID)
			}
			continue
		}
		s, ok := e.fake.SessionOf(c.AccessKeyID)
		if !ok || s.RoleARN != e.orgs[acme.tenant].RoleARN || s.ExternalID != acme.externalID {
			t.Errorf("%s signed by %s: not a session of acme's role with its external id (%+v)", c.Op, c.AccessKeyID, s)
		}
		if c.Region != region {
			t.Errorf("%s signed for %s, want the tenant's region %s", c.Op, c.Region, region)
		}
	}
	// A tenant without settings: a permanent ErrNoSettings, nothing called.
	calls := len(e.fake.CallsOf(""))
	a := access.AssignmentOf(access.Grant{ID: "grt_x", TenantID: "initech", GranteeID: "alice", PermissionSetARN: permissionSet,
		Resource: access.Resource{Type: "aws_account", ID: acme.account}})
	err := e.p.Provision(e.ctx, a)
	if !errors.Is(err, identitycenter.ErrNoSettings) || errors.Is(err, access.ErrRetryable) {
		t.Fatalf("provision without settings: %v, want a permanent ErrNoSettings", err)
	}
	if len(e.fake.CallsOf("")) != calls {
		t.Fatal("provisioning without settings called AWS")
	}
}

func TestSettings(t *testing.T) {
	st, _, _ := dynamotest.New(t)
	ctx := context.Background()
	v := acme.settings("arn:aws:iam::111122223333:role/jitsudo-provisioner")
	v.UserAttribute = "email"
	saved, err := st.PutAWSSettings(ctx, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := providers.Settings(st)(ctx, acme.tenant)
	if err != nil {
		t.Fatal(err)
	}
	want := identitycenter.Settings{InstanceARN: acme.instanceARN, IdentityStoreID: acme.storeID, Region: region,
		RoleARN: v.RoleARN, ExternalID: acme.externalID, UserAttribute: identitycenter.UserAttributeEmail}
	if got != want {
		t.Fatalf("settings %+v, want %+v", got, want)
	}

	// A later version is read, not a cached one.
	saved.RoleARN = "arn:aws:iam::111122223333:role/jitsudo-provisioner-2"
	if _, err := st.PutAWSSettings(ctx, saved, saved.Version); err != nil {
		t.Fatal(err)
	}
	if got, err := providers.Settings(st)(ctx, acme.tenant); err != nil || got.RoleARN != saved.RoleARN {
		t.Fatalf("after an update: %+v, %v", got, err)
	}

	_, err = providers.Settings(st)(ctx, "globex")
	if !errors.Is(err, identitycenter.ErrNoSettings) || !strings.Contains(err.Error(), "/v1/settings/aws") {
		t.Fatalf("missing settings: %v, want ErrNoSettings pointing at PUT /v1/settings/aws", err)
	}
	if _, err := providers.Settings(st)(ctx, "Not A Tenant"); err == nil || errors.Is(err, identitycenter.ErrNoSettings) {
		t.Fatalf("invalid tenant id: %v, want the store's error", err)
	}
	var _ store.AWSSettings = saved
}
