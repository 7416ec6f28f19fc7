package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

func TestAWSSettings(t *testing.T) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	if _, err := s.GetAWSSettings(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset: %v", err)
	}
	v := store.AWSSettings{TenantID: "acme", InstanceARN: "arn:aws:sso:::instance/ssoins-1111111111111111",
		IdentityStoreID: "d-1234567890", Region: "eu-west-1", RoleARN: "arn:aws:iam::111111111111:role/jitsudo",
		ExternalID: "ext-1", UserAttribute: "email", UpdatedAt: time.Now().UTC(), UpdatedBy: "root"}
	got, err := s.PutAWSSettings(ctx, v, 0)
	if err != nil || got.Version != 1 {
		t.Fatalf("create: %+v %v", got, err)
	}
	if _, err := s.PutAWSSettings(ctx, v, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	// Two concurrent updates from version 1: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := v
			u.Region = []string{"us-east-1", "us-west-2"}[i]
			_, errs[i] = s.PutAWSSettings(ctx, u, 1)
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("concurrent updates: %v", errs)
	}
	back, err := s.GetAWSSettings(ctx, "acme")
	if err != nil || back.Version != 2 || back.ExternalID != "ext-1" || (back.Region != "us-east-1" && back.Region != "us-west-2") {
		t.Fatalf("read back: %+v %v", back, err)
	}
	if _, err := s.GetAWSSettings(ctx, "globex"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant sees acme's settings: %v", err)
	}
	g := v
	g.TenantID = "globex"
	if _, err := s.PutAWSSettings(ctx, g, 0); err != nil {
		t.Fatal(err)
	}
	if tenants, err := s.TenantsWithAWSSettings(ctx); err != nil || !slices.Equal(tenants, []string{"acme", "globex"}) {
		t.Fatalf("configured tenants %v %v", tenants, err)
	}
}

func TestAssignmentRecords(t *testing.T) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	a := store.AssignmentTarget{TenantID: "acme", AccountID: "111111111111", PermissionSetARN: "arn:ps", PrincipalID: "alice", ExternalPrincipalID: "u-1"}
	b := a
	b.AccountID = "222222222222"
	for _, g := range []string{"g1", "g2"} {
		if _, err := s.AddAssignmentHolder(ctx, a, g); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddAssignmentHolder(ctx, b, "g3"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAssignmentHolder(ctx, store.AssignmentTarget{TenantID: "globex", AccountID: "1", PermissionSetARN: "p", PrincipalID: "x"}, "g9"); err != nil {
		t.Fatal(err)
	}
	recs, err := s.ListAssignments(ctx, "acme")
	if err != nil || len(recs) != 2 {
		t.Fatalf("list: %+v %v", recs, err)
	}
	for _, r := range recs {
		if r.ExternalPrincipalID != "u-1" || r.PrincipalID != "alice" || r.UpdatedAt.IsZero() {
			t.Fatalf("record %+v", r)
		}
	}
	// A held assignment is not deleted; an unheld one is, once.
	if gone, err := s.DeleteAssignmentIfUnheld(ctx, a); err != nil || gone {
		t.Fatalf("deleted a held assignment: %v %v", gone, err)
	}
	for _, g := range []string{"g1", "g2"} {
		if _, err := s.RemoveAssignmentHolder(ctx, a, g); err != nil {
			t.Fatal(err)
		}
	}
	recs, _ = s.ListAssignments(ctx, "acme")
	if i := slices.IndexFunc(recs, func(r store.AssignmentRecord) bool { return r.AccountID == a.AccountID }); i < 0 || len(recs[i].Holders) != 0 {
		t.Fatalf("unheld record must stay until deleted: %+v", recs)
	}
	if gone, err := s.DeleteAssignmentIfUnheld(ctx, a); err != nil || !gone {
		t.Fatalf("delete unheld: %v %v", gone, err)
	}
	if gone, err := s.DeleteAssignmentIfUnheld(ctx, a); err != nil || !gone {
		t.Fatalf("delete again: %v %v", gone, err)
	}
	if recs, _ = s.ListAssignments(ctx, "acme"); len(recs) != 1 || recs[0].AccountID != b.AccountID {
		t.Fatalf("after delete: %+v", recs)
	}
}

func TestMaxGrantDuration(t *testing.T) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	if n, err := s.MaxGrantDurationSeconds(ctx, "acme"); err != nil || n != 0 {
		t.Fatalf("no settings: %d %v", n, err)
	}
	v := store.AWSSettings{TenantID: "acme", InstanceARN: "arn:aws:sso:::instance/ssoins-1111111111111111",
		IdentityStoreID: "d-1234567890", Region: "eu-west-1", RoleARN: "arn:aws:iam::111111111111:role/jitsudo",
		ExternalID: "ext-1", UserAttribute: "email", UpdatedAt: time.Now().UTC(), UpdatedBy: "root"}
	if _, err := s.PutAWSSettings(ctx, v, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MaxGrantDurationSeconds(ctx, "acme"); err != nil || n != 0 {
		t.Fatalf("settings without a limit: %d %v", n, err)
	}
	v.MaxGrantDurationSeconds = 4 * 3600
	if _, err := s.PutAWSSettings(ctx, v, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MaxGrantDurationSeconds(ctx, "acme"); err != nil || n != 4*3600 {
		t.Fatalf("limit: %d %v", n, err)
	}
	if back, err := s.GetAWSSettings(ctx, "acme"); err != nil || back.MaxGrantDurationSeconds != 4*3600 {
		t.Fatalf("read back: %+v %v", back, err)
	}
	if n, err := s.MaxGrantDurationSeconds(ctx, "globex"); err != nil || n != 0 {
		t.Fatalf("another tenant: %d %v", n, err)
	}
}
