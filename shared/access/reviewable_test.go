package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// TestListReviewable: the inbox answer is what policy lets the caller
// approve now — pending, not their own, not reviewed by them yet — for
// admins too (policy decides, not the role), within the tenant.
func TestListReviewable(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	one := mustCreate(t, e, alice, psInput(acctProd)).Request // pending, 1 approval
	two := mustCreate(t, e, alice, psInput(acctTwo)).Request  // pending, 2 approvals
	mustCreate(t, e, alice, psInput(acctDev))                 // approved at once: never reviewable
	dave := user(tenantA, "dave", "engineering")
	own := mustCreate(t, e, dave, psInput(acctProd)).Request // pending, dave's

	ids := func(c access.Caller) []string {
		t.Helper()
		rs, _, err := e.svc.List(ctx, c, access.ListFilter{Reviewable: true}, access.Page{})
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	same := func(who string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s reviews %v, want %v", who, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s reviews %v, want %v", who, got, want)
			}
		}
	}
	// Newest first.
	same("bob", ids(bob), own.ID, two.ID, one.ID)
	same("alice (an approver, never of her own)", ids(alice), own.ID)
	same("dave (no approve_request)", ids(dave))
	same("mallory", ids(mallory))
	same("admin (policy decides, not the role)", ids(admin))
	same("globex's bob", ids(bobB))

	if _, err := e.svc.Approve(ctx, bob, two.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	same("bob after approving 1 of 2", ids(bob), own.ID, one.ID)
	same("carol", ids(carol), own.ID, two.ID, one.ID)
	if _, err := e.svc.Cancel(ctx, alice, one.ID); err != nil {
		t.Fatal(err)
	}
	same("carol after alice cancelled", ids(carol), own.ID, two.ID)

	var ve *access.ValidationError
	for _, f := range []access.ListFilter{
		{Reviewable: true, Status: access.StatusApproved},
		{Reviewable: true, Mine: true},
	} {
		if _, _, err := e.svc.List(ctx, bob, f, access.Page{}); !errors.As(err, &ve) {
			t.Fatalf("%+v: %v", f, err)
		}
	}
	// Paginated: one at a time, every item once.
	var seen []string
	p := access.Page{Limit: 1}
	for {
		rs, next, err := e.svc.List(ctx, carol, access.ListFilter{Reviewable: true}, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			seen = append(seen, r.ID)
		}
		if next == "" {
			break
		}
		p.Cursor = next
	}
	same("carol page by page", seen, own.ID, two.ID)
}
