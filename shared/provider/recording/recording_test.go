package recording_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
)

func TestReferenceCounting(t *testing.T) {
	ctx := context.Background()
	st, _, _ := dynamotest.New(t)
	p := recording.New(st)
	a := func(grant string) access.Assignment {
		return access.Assignment{TenantID: "acme", GrantID: grant, PrincipalID: "alice", AccountID: "111122223333",
			PermissionSetARN: "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"}
	}
	holders := func() []string {
		h, err := p.Holders(ctx, a(""))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	if err := p.Revoke(ctx, a("g1")); err != nil { // missing: success
		t.Fatal(err)
	}
	for _, g := range []string{"g1", "g1", "g2"} { // g1 twice: idempotent
		if err := p.Provision(ctx, a(g)); err != nil {
			t.Fatal(err)
		}
	}
	if h := holders(); !slices.Equal(h, []string{"g1", "g2"}) {
		t.Fatalf("holders %v", h)
	}
	// Another principal / tenant is another assignment.
	other := a("g3")
	other.TenantID = "globex"
	if err := p.Provision(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := p.Revoke(ctx, a("g1")); err != nil {
		t.Fatal(err)
	}
	if h := holders(); !slices.Equal(h, []string{"g2"}) {
		t.Fatalf("overlapping grant must keep the assignment: %v", h)
	}
	if err := p.Revoke(ctx, a("g1")); err != nil { // again: no-op
		t.Fatal(err)
	}
	if err := p.Revoke(ctx, a("g2")); err != nil {
		t.Fatal(err)
	}
	if h := holders(); len(h) != 0 {
		t.Fatalf("last holder gone, still assigned: %v", h)
	}
	if h, _ := p.Holders(ctx, other); !slices.Equal(h, []string{"g3"}) {
		t.Fatalf("other tenant: %v", h)
	}
	if err := p.Provision(ctx, access.Assignment{TenantID: "acme"}); err == nil {
		t.Fatal("incomplete assignment accepted")
	}
}
