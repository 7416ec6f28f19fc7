package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// TestListOverdue: the sweeper index holds only what can become overdue,
// by kind, and a query returns only what is due by then, across tenants;
// an item leaves it when it leaves those states.
func TestListOverdue(t *testing.T) {
	s, _, _ := dynamotest.New(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	put := func(tenant string, g access.Grant) {
		t.Helper()
		g.TenantID, g.GranteeID, g.RequestID, g.CreatedAt, g.Version = tenant, "alice", "req-"+g.ID, now, 1
		if g.UpdatedAt.IsZero() {
			g.UpdatedAt = now
		}
		if _, err := s.Commit(ctx, tenant, access.Change{Grant: &access.GrantWrite{Grant: g, Create: true}}); err != nil {
			t.Fatal(err)
		}
	}
	put("acme", access.Grant{ID: "g-over", Status: access.GrantActive, ExpiresAt: at(-time.Minute)})
	put("beta", access.Grant{ID: "g-over2", Status: access.GrantActive, ExpiresAt: at(-time.Second)})
	put("acme", access.Grant{ID: "g-live", Status: access.GrantActive, ExpiresAt: at(time.Hour)})
	put("acme", access.Grant{ID: "g-ended", Status: access.GrantExpired, ExpiresAt: at(-time.Hour)})
	put("acme", access.Grant{ID: "g-prov", Status: access.GrantProvisioning, UpdatedAt: now.Add(-time.Hour)})
	put("acme", access.Grant{ID: "g-retry", Status: access.GrantRevokeFailed, ExpiresAt: at(-time.Hour), NextRevokeAt: at(-time.Millisecond)})
	put("acme", access.Grant{ID: "g-later", Status: access.GrantRevokeFailed, ExpiresAt: at(-time.Hour), NextRevokeAt: at(time.Minute)})

	ids := func(kind string, before time.Time) []string {
		t.Helper()
		got, err := s.ListOverdue(ctx, kind, before, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range got {
			if o.Entity != "grant" || o.Kind != kind || o.DueAt.After(before) {
				t.Fatalf("%+v", o)
			}
			out = append(out, o.TenantID+"/"+o.ID)
		}
		return out
	}
	if got := ids(access.SweepEnd, now); !slices.Equal(got, []string{"acme/g-over", "beta/g-over2"}) {
		t.Fatalf("end: %v", got)
	}
	if got := ids(access.SweepEnd, now.Add(-30*time.Second)); !slices.Equal(got, []string{"acme/g-over"}) {
		t.Fatalf("end with grace: %v", got)
	}
	if got := ids(access.SweepProvisioning, now.Add(-10*time.Minute)); !slices.Equal(got, []string{"acme/g-prov"}) {
		t.Fatalf("provisioning: %v", got)
	}
	if got := ids(access.SweepRevokeRetry, now); !slices.Equal(got, []string{"acme/g-retry"}) {
		t.Fatalf("revoke retry: %v", got)
	}
	// Expired: out of the index.
	g, err := s.GetGrant(ctx, "acme", "g-over")
	if err != nil {
		t.Fatal(err)
	}
	old := g.Version
	g.Status, g.Version = access.GrantExpired, old+1
	if _, err := s.Commit(ctx, "acme", access.Change{Grant: &access.GrantWrite{Grant: g, ExpectStatus: access.GrantActive, ExpectVersion: old}}); err != nil {
		t.Fatal(err)
	}
	if got := ids(access.SweepEnd, now); !slices.Equal(got, []string{"beta/g-over2"}) {
		t.Fatalf("end after expiry: %v", got)
	}
	if _, err := s.ListOverdue(ctx, "x#y", now, 0); err == nil {
		t.Fatal("bad kind accepted")
	}
}
