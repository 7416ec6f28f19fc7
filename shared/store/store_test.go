package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func hashOf(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

func key(tenant, id string) store.APIKey {
	return store.APIKey{
		ID: id, TenantID: tenant, Name: "key " + id, Hash: hashOf(tenant + "/" + id),
		Prefix: "jsk_" + id, Scopes: []string{"requests:write"}, CreatedBy: "admin", CreatedAt: t0,
	}
}

func rule(id string) policy.Rule {
	return policy.Rule{
		ID: id, Name: "rule " + id, Priority: 10, Enabled: true, Effect: policy.EffectPermit,
		PrincipalScopeType: policy.ScopeIn, PrincipalEntityType: "Group", PrincipalEntityID: "admins",
		ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionRequestAccess},
		ResourceScopeType: policy.ScopeAny, ApprovalMode: policy.ModeAuto,
	}
}

// newTenant makes a store with tenant(s) created.
func newTenant(t *testing.T, tenants ...string) *store.Store {
	t.Helper()
	s, _, _ := dynamotest.New(t)
	for _, id := range tenants {
		if err := s.CreateTenant(t.Context(), store.Tenant{ID: id, Name: id, CreatedAt: t0}, key(id, "first")); err != nil {
			t.Fatalf("CreateTenant(%s): %v", id, err)
		}
	}
	return s
}

func version(t *testing.T, s *store.Store, tenant string) int64 {
	t.Helper()
	v, err := s.RuleSetVersion(t.Context(), tenant)
	if err != nil {
		t.Fatalf("RuleSetVersion: %v", err)
	}
	return v
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func TestTenantCreateGetConflict(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	got, err := s.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "acme" || got.Name != "acme" || !got.CreatedAt.Equal(t0) || got.RuleSetVersion != 0 {
		t.Fatalf("GetTenant = %+v", got)
	}
	// The first key came with it.
	k, err := s.GetAPIKeyByHash(ctx, "acme", hashOf("acme/first"))
	if err != nil || k.ID != "first" || k.TenantID != "acme" {
		t.Fatalf("first key: %+v, %v", k, err)
	}
	// Again: conflict, and nothing of the second attempt is written.
	err = s.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "other"}, key("acme", "second"))
	wantErr(t, err, store.ErrConflict)
	if _, err := s.GetAPIKeyByHash(ctx, "acme", hashOf("acme/second")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key of failed tenant creation exists: %v", err)
	}
	if got, _ := s.GetTenant(ctx, "acme"); got.Name != "acme" {
		t.Fatalf("tenant overwritten: %+v", got)
	}
	_, err = s.GetTenant(ctx, "nobody")
	wantErr(t, err, store.ErrNotFound)
	// A first key for another tenant is refused.
	wantErr(t, s.CreateTenant(ctx, store.Tenant{ID: "beta"}, key("acme", "x")), store.ErrInvalidInput)
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()

	wantErr(t, s.CreateAPIKey(ctx, key("ghost", "k1")), store.ErrNotFound)
	if _, err := s.GetAPIKeyByHash(ctx, "ghost", hashOf("ghost/k1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("key of missing tenant written: %v", err)
	}

	exp := t0.Add(24 * time.Hour)
	k := key("acme", "k1")
	k.ExpiresAt = &exp
	if err := s.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.CreateAPIKey(ctx, k), store.ErrConflict)
	dupHash := key("acme", "k2")
	dupHash.Hash = k.Hash
	wantErr(t, s.CreateAPIKey(ctx, dupHash), store.ErrConflict)
	// Taken id, fresh hash: the hash item written first is rolled back.
	dupID := key("acme", "other")
	dupID.ID = "k1"
	wantErr(t, s.CreateAPIKey(ctx, dupID), store.ErrConflict)
	if _, err := s.GetAPIKeyByHash(ctx, "acme", dupID.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("half-written key after failed create: %v", err)
	}
	if _, err := s.RevokeAPIKey(ctx, "acme", "k2", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("k2 exists after failed create: %v", err)
	}

	got, err := s.GetAPIKeyByHash(ctx, "acme", k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "k1" || got.Name != k.Name || got.Prefix != k.Prefix || !slices.Equal(got.Scopes, k.Scopes) ||
		got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) || got.RevokedAt != nil || !got.Usable(t0) || got.Usable(exp) {
		t.Fatalf("GetAPIKeyByHash = %+v", got)
	}
	_, err = s.GetAPIKeyByHash(ctx, "acme", hashOf("nope"))
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetAPIKeyByHash(ctx, "acme", "NOT-A-HASH")
	wantErr(t, err, store.ErrInvalidInput)
	// The hash is looked up within the tenant only.
	s2 := s // same table
	if err := s2.CreateTenant(ctx, store.Tenant{ID: "beta"}, key("beta", "first")); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetAPIKeyByHash(ctx, "beta", k.Hash)
	wantErr(t, err, store.ErrNotFound)

	at := t0.Add(time.Hour)
	rev, err := s.RevokeAPIKey(ctx, "acme", "k1", at)
	if err != nil {
		t.Fatal(err)
	}
	if rev.RevokedAt == nil || !rev.RevokedAt.Equal(at) || rev.Usable(t0) {
		t.Fatalf("revoked key = %+v", rev)
	}
	// Both items show it.
	got, err = s.GetAPIKeyByHash(ctx, "acme", k.Hash)
	if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
		t.Fatalf("after revoke, by hash: %+v, %v", got, err)
	}
	_, err = s.RevokeAPIKey(ctx, "acme", "k1", at)
	wantErr(t, err, store.ErrConflict)
	_, err = s.RevokeAPIKey(ctx, "acme", "nope", at)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RevokeAPIKey(ctx, "beta", "k1", at)
	wantErr(t, err, store.ErrNotFound)

	list, next, err := s.ListAPIKeys(ctx, "acme", store.Page{})
	if err != nil || next != "" {
		t.Fatalf("ListAPIKeys: %v, next %q", err, next)
	}
	if len(list) != 2 || list[0].ID != "first" || list[1].ID != "k1" || list[1].RevokedAt == nil {
		t.Fatalf("ListAPIKeys = %+v", list)
	}
}

func TestAPIKeyPagination(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	want := []string{"first"}
	for i := range 11 {
		id := fmt.Sprintf("k%02d", i)
		if err := s.CreateAPIKey(ctx, key("acme", id)); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Sort(want)
	var got []string
	cursor, pages := "", 0
	for {
		keys, next, err := s.ListAPIKeys(ctx, "acme", store.Page{Limit: 4, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(keys) > 4 {
			t.Fatalf("page of %d", len(keys))
		}
		for _, k := range keys {
			got = append(got, k.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("paged %d pages: %v, want %v", pages, got, want)
	}
	// Exactly a full last page: no dangling cursor.
	keys, next, err := s.ListAPIKeys(ctx, "acme", store.Page{Limit: 12})
	if err != nil || len(keys) != 12 || next != "" {
		t.Fatalf("limit 12: %d keys, next %q, %v", len(keys), next, err)
	}
	_, _, err = s.ListAPIKeys(ctx, "acme", store.Page{Limit: 251})
	wantErr(t, err, store.ErrBadPage)
	_, _, err = s.ListAPIKeys(ctx, "acme", store.Page{Limit: -1})
	wantErr(t, err, store.ErrBadPage)
	_, _, err = s.ListAPIKeys(ctx, "acme", store.Page{Cursor: "garbage"})
	wantErr(t, err, store.ErrBadCursor)
}

func TestRuleCRUDAndVersion(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	if v := version(t, s, "acme"); v != 0 {
		t.Fatalf("initial version %d", v)
	}

	r := rule("r1")
	rec, err := s.CreateRule(ctx, "acme", r, t0)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != 1 || !rec.CreatedAt.Equal(t0) || !rec.UpdatedAt.Equal(t0) {
		t.Fatalf("created %+v", rec)
	}
	if v := version(t, s, "acme"); v != 1 {
		t.Fatalf("version after create %d, want 1", v)
	}
	got, err := s.GetRule(ctx, "acme", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Rule.ID != r.ID || got.Name != r.Name || got.Priority != r.Priority || got.Enabled != r.Enabled ||
		got.PrincipalEntityID != r.PrincipalEntityID || !slices.Equal(got.ActionIDs, r.ActionIDs) ||
		got.ApprovalMode != r.ApprovalMode || got.Revision != 1 || !got.CreatedAt.Equal(t0) {
		t.Fatalf("GetRule = %+v", got)
	}

	// Failed writes bump nothing.
	_, err = s.CreateRule(ctx, "acme", r, t0)
	wantErr(t, err, store.ErrConflict)
	_, err = s.CreateRule(ctx, "ghost", r, t0)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateRule(ctx, "acme", rule("nope"), 0, t0)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateRule(ctx, "acme", r, 7, t0)
	wantErr(t, err, store.ErrConflict)
	wantErr(t, s.DeleteRule(ctx, "acme", "nope"), store.ErrNotFound)
	_, err = s.GetRule(ctx, "acme", "nope")
	wantErr(t, err, store.ErrNotFound)
	if v := version(t, s, "acme"); v != 1 {
		t.Fatalf("version after failed writes %d, want 1", v)
	}

	// Update with the right revision, then with "any".
	r.Priority = 20
	r.Enabled = false
	r.ActionIDs = nil
	t1 := t0.Add(time.Minute)
	rec, err = s.UpdateRule(ctx, "acme", r, 1, t1)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != 2 || !rec.CreatedAt.Equal(t0) || !rec.UpdatedAt.Equal(t1) {
		t.Fatalf("updated %+v", rec)
	}
	_, err = s.UpdateRule(ctx, "acme", r, 1, t1) // stale revision
	wantErr(t, err, store.ErrConflict)
	if v := version(t, s, "acme"); v != 2 {
		t.Fatalf("version after update %d, want 2", v)
	}
	rec, err = s.UpdateRule(ctx, "acme", r, 0, t1)
	if err != nil || rec.Revision != 3 {
		t.Fatalf("update any: %+v, %v", rec, err)
	}
	got, err = s.GetRule(ctx, "acme", "r1")
	if err != nil || got.Priority != 20 || got.Enabled || got.ActionIDs != nil || got.Revision != 3 || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t1) {
		t.Fatalf("after updates: %+v, %v", got, err)
	}
	if v := version(t, s, "acme"); v != 3 {
		t.Fatalf("version %d, want 3", v)
	}

	if err := s.DeleteRule(ctx, "acme", "r1"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteRule(ctx, "acme", "r1"), store.ErrNotFound)
	_, err = s.GetRule(ctx, "acme", "r1")
	wantErr(t, err, store.ErrNotFound)
	if v := version(t, s, "acme"); v != 4 {
		t.Fatalf("version after delete %d, want 4", v)
	}
	_, err = s.UpdateRule(ctx, "acme", r, 0, t1)
	wantErr(t, err, store.ErrNotFound)
	// Unstorable rules.
	_, err = s.CreateRule(ctx, "acme", policy.Rule{}, t0)
	wantErr(t, err, store.ErrInvalidInput)
	bad := rule("x")
	bad.PolicyText = "permit(principal, action, resource);"
	_, err = s.CreateRule(ctx, "acme", bad, t0)
	wantErr(t, err, store.ErrInvalidInput)
	_, err = s.UpdateRule(ctx, "acme", rule("x"), -1, t0)
	wantErr(t, err, store.ErrInvalidInput)
	if v := version(t, s, "acme"); v != 4 {
		t.Fatalf("version after rejected writes %d, want 4", v)
	}
}

func ruleIDs(recs []store.RuleRecord) []string {
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.Rule.ID)
	}
	return ids
}

func TestListRulesPaginationAndTenantBinding(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme", "beta")
	ctx := t.Context()
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("r%d", 6-i) // created out of order
		if _, err := s.CreateRule(ctx, "acme", rule(id), t0); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Sort(want)
	if _, err := s.CreateRule(ctx, "beta", rule("r0"), t0); err != nil {
		t.Fatal(err)
	}

	page1, next, err := s.ListRules(ctx, "acme", store.Page{Limit: 3})
	if err != nil || next == "" {
		t.Fatalf("page 1: %v, next %q", err, next)
	}
	// A's cursor is useless to B, and to A's other lists.
	_, _, err = s.ListRules(ctx, "beta", store.Page{Limit: 3, Cursor: next})
	wantErr(t, err, store.ErrBadCursor)
	_, _, err = s.ListAPIKeys(ctx, "acme", store.Page{Limit: 3, Cursor: next})
	wantErr(t, err, store.ErrBadCursor)

	all := page1
	for next != "" {
		var page []store.RuleRecord
		page, next, err = s.ListRules(ctx, "acme", store.Page{Limit: 3, Cursor: next})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
	}
	if got := ruleIDs(all); !slices.Equal(got, want) {
		t.Fatalf("acme rules %v, want %v", got, want)
	}
	b, next, err := s.ListRules(ctx, "beta", store.Page{})
	if err != nil || next != "" || !slices.Equal(ruleIDs(b), []string{"r0"}) {
		t.Fatalf("beta rules %v next %q err %v", ruleIDs(b), next, err)
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme", "beta")
	ctx := t.Context()
	ra, rb := rule("same"), rule("same")
	ra.Name, rb.Name = "A's", "B's"
	if _, err := s.CreateRule(ctx, "acme", ra, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRule(ctx, "beta", rb, t0); err != nil {
		t.Fatalf("same id in another tenant: %v", err)
	}
	ga, _ := s.GetRule(ctx, "acme", "same")
	gb, _ := s.GetRule(ctx, "beta", "same")
	if ga.Name != "A's" || gb.Name != "B's" {
		t.Fatalf("A %q, B %q", ga.Name, gb.Name)
	}
	if err := s.DeleteRule(ctx, "beta", "same"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRule(ctx, "acme", "same"); err != nil {
		t.Fatalf("deleting B's rule touched A's: %v", err)
	}
	if va, vb := version(t, s, "acme"), version(t, s, "beta"); va != 1 || vb != 2 {
		t.Fatalf("versions A %d B %d, want 1 2", va, vb)
	}
	rules, _, err := s.LoadRuleSet(ctx, "beta")
	if err != nil || len(rules) != 0 {
		t.Fatalf("beta rule set %v %v", rules, err)
	}
	keys, _, err := s.ListAPIKeys(ctx, "beta", store.Page{})
	if err != nil || len(keys) != 1 || keys[0].TenantID != "beta" {
		t.Fatalf("beta keys %+v %v", keys, err)
	}
}

func TestImportRules(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	if _, err := s.CreateRule(ctx, "acme", rule("keep"), t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRule(ctx, "acme", rule("drop"), t0); err != nil {
		t.Fatal(err)
	}
	// v = 2. Upsert without replace: keep changed, new added, drop untouched.
	keep := rule("keep")
	keep.Priority = 99
	t1 := t0.Add(time.Hour)
	v, err := s.ImportRules(ctx, "acme", []policy.Rule{keep, rule("new")}, false, t1)
	if err != nil || v != 3 {
		t.Fatalf("import: v %d, %v; want 3", v, err)
	}
	got, _ := s.GetRule(ctx, "acme", "keep")
	if got.Priority != 99 || got.Revision != 2 || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t1) {
		t.Fatalf("keep after import %+v", got)
	}
	if _, err := s.GetRule(ctx, "acme", "drop"); err != nil {
		t.Fatalf("drop gone without replace: %v", err)
	}
	// Same import again: nothing changes, version stays.
	v, err = s.ImportRules(ctx, "acme", []policy.Rule{keep, rule("new")}, false, t1)
	if err != nil || v != 3 {
		t.Fatalf("idempotent import: v %d, %v; want 3", v, err)
	}
	if got, _ := s.GetRule(ctx, "acme", "keep"); got.Revision != 2 {
		t.Fatalf("unchanged rule rewritten: %+v", got)
	}
	// Replace: drop goes.
	v, err = s.ImportRules(ctx, "acme", []policy.Rule{keep, rule("new")}, true, t1)
	if err != nil || v != 4 {
		t.Fatalf("replace import: v %d, %v; want 4", v, err)
	}
	rules, lv, err := s.LoadRuleSet(ctx, "acme")
	if err != nil || lv != 4 {
		t.Fatalf("LoadRuleSet: %d %v", lv, err)
	}
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"keep", "new"}) || rules[0].Priority != 99 {
		t.Fatalf("rule set %v", ids)
	}
	// Bad input writes nothing.
	_, err = s.ImportRules(ctx, "acme", []policy.Rule{rule("a"), rule("a")}, true, t1)
	wantErr(t, err, store.ErrInvalidInput)
	_, err = s.ImportRules(ctx, "ghost", []policy.Rule{rule("a")}, true, t1)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.ImportRules(ctx, "ghost", nil, true, t1)
	wantErr(t, err, store.ErrNotFound)
	if v := version(t, s, "acme"); v != 4 {
		t.Fatalf("version after rejected imports %d", v)
	}
	// Replace with nothing: everything goes, one transaction.
	v, err = s.ImportRules(ctx, "acme", nil, true, t1)
	if err != nil || v != 5 {
		t.Fatalf("empty replace: v %d, %v", v, err)
	}
	if rules, _, _ := s.LoadRuleSet(ctx, "acme"); len(rules) != 0 {
		t.Fatalf("rules left: %v", rules)
	}
}

func TestImportRulesChunked(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	var rules []policy.Rule
	for i := range 250 {
		rules = append(rules, rule(fmt.Sprintf("r%03d", i)))
	}
	// 250 changes → chunks of 99, 99, 52 → three bumps.
	v, err := s.ImportRules(ctx, "acme", rules, false, t0)
	if err != nil || v != 3 {
		t.Fatalf("import 250: v %d, %v; want 3", v, err)
	}
	got, lv, err := s.LoadRuleSet(ctx, "acme")
	if err != nil || len(got) != 250 || lv != 3 {
		t.Fatalf("LoadRuleSet: %d rules, v %d, %v", len(got), lv, err)
	}
	for i, r := range got {
		if r.ID != rules[i].ID {
			t.Fatalf("rule %d is %s", i, r.ID)
		}
	}
	// Replace with 120 of them, 30 changed: 130 deletes + 30 updates = 160 → 2 chunks.
	keep := slices.Clone(rules[:120])
	for i := range 30 {
		keep[i].Priority = 1
	}
	v, err = s.ImportRules(ctx, "acme", keep, true, t0)
	if err != nil || v != 5 {
		t.Fatalf("replace import: v %d, %v; want 5", v, err)
	}
	got, _, err = s.LoadRuleSet(ctx, "acme")
	if err != nil || len(got) != 120 || got[0].Priority != 1 || got[30].Priority != 10 {
		t.Fatalf("after replace: %d rules %v", len(got), err)
	}
	// Listing walks all pages at max limit.
	page, next, err := s.ListRules(ctx, "acme", store.Page{Limit: 100})
	if err != nil || len(page) != 100 || next == "" {
		t.Fatalf("list page 1: %d %q %v", len(page), next, err)
	}
	page, next, err = s.ListRules(ctx, "acme", store.Page{Limit: 100, Cursor: next})
	if err != nil || len(page) != 20 || next != "" {
		t.Fatalf("list page 2: %d %q %v", len(page), next, err)
	}
}

func TestLoadRuleSet(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	rules, v, err := s.LoadRuleSet(ctx, "acme")
	if err != nil || len(rules) != 0 || v != 0 {
		t.Fatalf("empty: %v %d %v", rules, v, err)
	}
	r := rule("b")
	r.Conditions = `when { context.duration_seconds <= 3600 }`
	for _, x := range []policy.Rule{r, rule("a")} {
		if _, err := s.CreateRule(ctx, "acme", x, t0); err != nil {
			t.Fatal(err)
		}
	}
	rules, v, err = s.LoadRuleSet(ctx, "acme")
	if err != nil || v != 2 || len(rules) != 2 || rules[0].ID != "a" || rules[1].Conditions != r.Conditions {
		t.Fatalf("LoadRuleSet: %+v %d %v", rules, v, err)
	}
	_, _, err = s.LoadRuleSet(ctx, "ghost")
	wantErr(t, err, store.ErrNotFound)
}

func TestInvalidTenantIDsRejected(t *testing.T) {
	t.Parallel()
	s, _, _ := dynamotest.New(t)
	ctx := t.Context()
	for _, id := range []string{"", "A", "a#b", "T#x", "acme#RULES", "-x", "x y"} {
		errs := map[string]error{}
		errs["CreateTenant"] = s.CreateTenant(ctx, store.Tenant{ID: id}, key(id, "k"))
		_, errs["GetTenant"] = s.GetTenant(ctx, id)
		errs["CreateAPIKey"] = s.CreateAPIKey(ctx, key(id, "k"))
		_, errs["GetAPIKeyByHash"] = s.GetAPIKeyByHash(ctx, id, hashOf("x"))
		_, errs["RevokeAPIKey"] = s.RevokeAPIKey(ctx, id, "k", t0)
		_, _, errs["ListAPIKeys"] = s.ListAPIKeys(ctx, id, store.Page{})
		_, _, errs["ListRules"] = s.ListRules(ctx, id, store.Page{})
		_, errs["GetRule"] = s.GetRule(ctx, id, "r")
		_, errs["CreateRule"] = s.CreateRule(ctx, id, rule("r"), t0)
		_, errs["UpdateRule"] = s.UpdateRule(ctx, id, rule("r"), 0, t0)
		errs["DeleteRule"] = s.DeleteRule(ctx, id, "r")
		_, errs["ImportRules"] = s.ImportRules(ctx, id, nil, true, t0)
		_, errs["RuleSetVersion"] = s.RuleSetVersion(ctx, id)
		_, _, errs["LoadRuleSet"] = s.LoadRuleSet(ctx, id)
		for m, err := range errs {
			if !errors.Is(err, store.ErrInvalidTenant) {
				t.Errorf("%s(%q): err = %v, want ErrInvalidTenant", m, id, err)
			}
		}
	}
}

func TestConcurrentCreateRule(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := rule("race")
			r.Name = fmt.Sprintf("writer %d", i)
			_, errs[i] = s.CreateRule(ctx, "acme", r, t0)
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
	if v := version(t, s, "acme"); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
}

func TestConcurrentUpdateRule(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme")
	ctx := t.Context()
	if _, err := s.CreateRule(ctx, "acme", rule("r"), t0); err != nil {
		t.Fatal(err)
	}
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := rule("r")
			r.Priority = 100 + i
			_, errs[i] = s.UpdateRule(ctx, "acme", r, 1, t0)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("two winners: %d and %d", winner, i)
			}
			winner = i
		case errors.Is(err, store.ErrConflict):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if winner < 0 {
		t.Fatal("no winner")
	}
	got, err := s.GetRule(ctx, "acme", "r")
	if err != nil || got.Revision != 2 || got.Priority != 100+winner {
		t.Fatalf("after race: %+v %v (winner %d)", got, err, winner)
	}
	if v := version(t, s, "acme"); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	// With expectedRevision 0, concurrent updates all succeed, serially.
	for i := range n {
		wg.Go(func() {
			r := rule("r")
			r.Priority = i
			if _, err := s.UpdateRule(ctx, "acme", r, 0, t0); err != nil {
				t.Errorf("update any: %v", err)
			}
		})
	}
	wg.Wait()
	if got, _ := s.GetRule(ctx, "acme", "r"); got.Revision != 2+n {
		t.Fatalf("revision %d, want %d", got.Revision, 2+n)
	}
	if v := version(t, s, "acme"); v != 2+n {
		t.Fatalf("version %d, want %d", v, 2+n)
	}
}

// The table the store writes matches TableSchema, and items carry only the
// documented keys.
func TestTableMatchesSchema(t *testing.T) {
	t.Parallel()
	s, c, table := dynamotest.New(t)
	ctx := t.Context()
	out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	var idx []string
	for _, g := range out.Table.GlobalSecondaryIndexes {
		idx = append(idx, aws.ToString(g.IndexName))
	}
	slices.Sort(idx)
	if !slices.Equal(idx, []string{store.IndexGSI1, store.IndexGSI2, store.IndexGSI3, store.IndexGSI4, store.IndexGSI5}) {
		t.Fatalf("indexes %v", idx)
	}
	if s.Table() != table {
		t.Fatalf("store table %s", s.Table())
	}
	if err := s.CreateTenant(ctx, store.Tenant{ID: "acme"}, key("acme", "k")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRule(ctx, "acme", rule("r"), t0); err != nil {
		t.Fatal(err)
	}
	scan, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	pks := map[string]string{}
	for _, it := range scan.Items {
		pks[it[store.AttrPK].(*types.AttributeValueMemberS).Value] = it[store.AttrSK].(*types.AttributeValueMemberS).Value
	}
	want := map[string]string{
		"T#acme":                         "TENANT",
		"T#acme#RULES":                   "RULE#r",
		"T#acme#KEYS":                    "KEY#k",
		"T#acme#KEY#" + hashOf("acme/k"): "KEY",
	}
	if len(pks) != len(want) {
		t.Fatalf("items %v", pks)
	}
	for pk, sk := range want {
		if pks[pk] != sk {
			t.Errorf("item %s: SK %q, want %q", pk, pks[pk], sk)
		}
	}
}

func TestDynamotestHelpers(t *testing.T) {
	t.Parallel()
	if dynamotest.Endpoint(t) == "" {
		t.Fatal("no endpoint")
	}
	a := dynamotest.TableName("TestX/sub case#1")
	b := dynamotest.TableName("TestX/sub case#1")
	if a == b {
		t.Fatal("table names not unique")
	}
	for _, r := range a {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			t.Fatalf("invalid character %q in %s", r, a)
		}
	}
	long := dynamotest.TableName(string(make([]byte, 1000)))
	if len(long) > 255 {
		t.Fatalf("table name too long: %d", len(long))
	}
	// Two tables per test are independent.
	s1, _, _ := dynamotest.New(t)
	s2, _, _ := dynamotest.New(t)
	if err := s1.CreateTenant(t.Context(), store.Tenant{ID: "acme"}, key("acme", "k")); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.GetTenant(t.Context(), "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tables share data: %v", err)
	}
}

// TestTouchAPIKey: last_used_at is written at most once per interval, only
// onto an existing key of the right tenant, and shows in the list.
func TestTouchAPIKey(t *testing.T) {
	t.Parallel()
	s := newTenant(t, "acme", "beta")
	ctx := t.Context()
	lastUsed := func(tenant string) *time.Time {
		t.Helper()
		keys, _, err := s.ListAPIKeys(ctx, tenant, store.Page{})
		if err != nil || len(keys) != 1 {
			t.Fatalf("ListAPIKeys(%s) = %+v, %v", tenant, keys, err)
		}
		return keys[0].LastUsedAt
	}
	if lu := lastUsed("acme"); lu != nil {
		t.Fatalf("a new key has last_used_at %v", lu)
	}
	at := t0.Add(time.Hour + 500*time.Millisecond)
	if wrote, err := s.TouchAPIKey(ctx, "acme", "first", at, 5*time.Minute); err != nil || !wrote {
		t.Fatalf("first touch: %v %v", wrote, err)
	}
	if lu := lastUsed("acme"); lu == nil || !lu.Equal(at.Truncate(time.Second)) {
		t.Fatalf("last_used_at = %v, want %v", lu, at.Truncate(time.Second))
	}
	// Within the interval: no write.
	if wrote, err := s.TouchAPIKey(ctx, "acme", "first", at.Add(4*time.Minute), 5*time.Minute); err != nil || wrote {
		t.Fatalf("touch within the interval: %v %v", wrote, err)
	}
	if lu := lastUsed("acme"); !lu.Equal(at.Truncate(time.Second)) {
		t.Fatalf("last_used_at moved to %v", lu)
	}
	// Past it: written.
	later := at.Add(6 * time.Minute)
	if wrote, err := s.TouchAPIKey(ctx, "acme", "first", later, 5*time.Minute); err != nil || !wrote {
		t.Fatalf("touch after the interval: %v %v", wrote, err)
	}
	if lu := lastUsed("acme"); !lu.Equal(later.Truncate(time.Second)) {
		t.Fatalf("last_used_at = %v, want %v", lu, later)
	}
	// A key that does not exist is not created; another tenant's key is untouched.
	if wrote, err := s.TouchAPIKey(ctx, "acme", "ghost", later, 0); err != nil || wrote {
		t.Fatalf("touch of a missing key: %v %v", wrote, err)
	}
	if keys, _, _ := s.ListAPIKeys(ctx, "acme", store.Page{}); len(keys) != 1 {
		t.Fatalf("touch created a key: %+v", keys)
	}
	if lu := lastUsed("beta"); lu != nil {
		t.Fatalf("beta's key was touched: %v", lu)
	}
	_, err := s.TouchAPIKey(ctx, "acme", "", later, 0)
	wantErr(t, err, store.ErrInvalidInput)
}
