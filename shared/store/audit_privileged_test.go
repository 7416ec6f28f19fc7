package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// TestPrivilegedChangesFailWithTheirAudit: every privileged change writes
// its audit event in its own transaction; when the audit write fails (here:
// an event with an id that exists already), the change fails and nothing
// of it is stored.
func TestPrivilegedChangesFailWithTheirAudit(t *testing.T) {
	ctx := t.Context()
	s := newTenant(t, "acme")
	taken := access.AuditEvent{ID: "evt_taken", TenantID: "acme", ActorID: "root", ActorType: "user", Action: "test", CreatedAt: time.Now()}
	if _, err := s.Commit(ctx, "acme", access.Change{Audit: []access.AuditEvent{taken}}); err != nil {
		t.Fatal(err)
	}
	ok := func(id string) access.AuditEvent {
		return access.AuditEvent{ID: id, TenantID: "acme", ActorID: "root", ActorType: "user", Action: "test", CreatedAt: time.Now()}
	}
	mustFail := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s succeeded although its audit event could not be written", what)
		}
	}
	// API keys.
	mustFail("create API key", s.CreateAPIKey(ctx, key("acme", "k2"), taken))
	if keys, _, _ := s.ListAPIKeys(ctx, "acme", store.Page{}); len(keys) != 1 {
		t.Fatalf("key stored without its audit: %+v", keys)
	}
	if err := s.CreateAPIKey(ctx, key("acme", "k3"), ok("evt_k3")); err != nil {
		t.Fatal(err)
	}
	_, err := s.RevokeAPIKey(ctx, "acme", "k3", time.Now(), taken)
	mustFail("revoke API key", err)
	if k, err := s.GetAPIKeyByHash(ctx, "acme", key("acme", "k3").Hash); err != nil || k.RevokedAt != nil {
		t.Fatalf("key revoked without its audit: %+v %v", k, err)
	}
	// Tenants.
	takenG := taken
	takenG.TenantID = "globex"
	if _, err := s.Commit(ctx, "globex", access.Change{Audit: []access.AuditEvent{takenG}}); err != nil {
		t.Fatal(err)
	}
	mustFail("create tenant", s.CreateTenant(ctx, store.Tenant{ID: "globex", Name: "g", CreatedAt: t0}, key("globex", "first"), takenG))
	if _, err := s.GetTenant(ctx, "globex"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tenant created without its audit: %v", err)
	}
	// Rules.
	v0 := version(t, s, "acme")
	_, err = s.CreateRule(ctx, "acme", rule("r1"), t0, taken)
	mustFail("create rule", err)
	if _, err := s.GetRule(ctx, "acme", "r1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rule stored without its audit: %v", err)
	}
	if _, err := s.CreateRule(ctx, "acme", rule("r1"), t0, ok("evt_r1")); err != nil {
		t.Fatal(err)
	}
	changed := rule("r1")
	changed.Priority = 99
	_, err = s.UpdateRule(ctx, "acme", changed, 0, t0, taken)
	mustFail("update rule", err)
	mustFail("delete rule", s.DeleteRule(ctx, "acme", "r1", taken))
	_, err = s.ImportRules(ctx, "acme", []policy.Rule{changed, rule("r2")}, true, t0, taken)
	mustFail("import rules", err)
	if r, err := s.GetRule(ctx, "acme", "r1"); err != nil || r.Priority != 10 {
		t.Fatalf("rule changed without its audit: %+v %v", r, err)
	}
	if v := version(t, s, "acme"); v != v0+1 {
		t.Fatalf("rule set version %d, want %d (only the audited create)", v, v0+1)
	}
	// Settings.
	set := store.AWSSettings{TenantID: "acme", InstanceARN: "arn:aws:sso:::instance/ssoins-1111111111111111",
		IdentityStoreID: "d-1234567890", Region: "eu-west-1", RoleARN: "arn:aws:iam::111111111111:role/jitsudo",
		ExternalID: "ext-1", UserAttribute: "email", UpdatedAt: time.Now().UTC(), UpdatedBy: "root"}
	_, err = s.PutAWSSettings(ctx, set, 0, taken)
	mustFail("put settings", err)
	if _, err := s.GetAWSSettings(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("settings stored without their audit: %v", err)
	}
	idset := store.IdentitySettings{TenantID: "acme", IssuerURL: "https://idp.example.com", Audience: "jitsudo",
		ExtraAudiences: []string{}, ClientID: "ui", UpdatedAt: time.Now().UTC(), UpdatedBy: "root"}
	_, err = s.PutIdentitySettings(ctx, idset, 0, taken)
	mustFail("put identity settings", err)
	if _, err := s.GetIdentitySettings(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("identity settings stored without their audit: %v", err)
	}
	// Channels.
	ch := newWebhook(t, "acme", "ch1")
	mustFail("create channel", s.PutChannel(ctx, ch, true, 0, taken))
	if _, err := s.GetChannel(ctx, "acme", "ch1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("channel stored without its audit: %v", err)
	}
	if err := s.PutChannel(ctx, ch, true, 0, ok("evt_ch1")); err != nil {
		t.Fatal(err)
	}
	upd := ch
	upd.Name, upd.Version = "renamed", 2
	mustFail("update channel", s.PutChannel(ctx, upd, false, 1, taken))
	mustFail("delete channel", s.DeleteChannel(ctx, "acme", "ch1", taken))
	if got, err := s.GetChannel(ctx, "acme", "ch1"); err != nil || got.Name != ch.Name {
		t.Fatalf("channel changed without its audit: %+v %v", got, err)
	}
	// And the audited ones are in the log.
	evs, _, err := s.ListAudit(ctx, "acme", access.AuditQuery{}, access.Page{})
	if err != nil || len(evs) != 4 {
		t.Fatalf("audit log: %d events, %v", len(evs), err)
	}
}
