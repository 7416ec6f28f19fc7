package policy

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func validRule() Rule {
	return Rule{ID: "prod-require", Name: "Prod needs review", Priority: 100, Enabled: true, Effect: EffectPermit,
		PrincipalScopeType: ScopeIn, PrincipalEntityType: EntityGroup, PrincipalEntityID: "engineering",
		ActionScopeType: ScopeEq, ActionIDs: []string{ActionRequestAccess},
		ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsAccount, ResourceEntityID: "111122223333",
		Conditions: "when { context.duration_seconds <= 14400 }", ApprovalMode: ModeRequire}
}

func TestValidationRejects(t *testing.T) {
	cases := []struct {
		name  string
		mod   func(*Rule)
		field string
	}{
		{"empty id", func(r *Rule) { r.ID = "" }, "id"},
		{"bad id", func(r *Rule) { r.ID = "a b" }, "id"},
		{"reserved id export", func(r *Rule) { r.ID = "export" }, "id"},
		{"reserved id import", func(r *Rule) { r.ID = "import" }, "id"},
		{"bad effect", func(r *Rule) { r.Effect = "allow" }, "effect"},
		{"unknown principal scope", func(r *Rule) { r.PrincipalScopeType = "like" }, "principal_scope_type"},
		{"unknown principal entity type", func(r *Rule) { r.PrincipalEntityType = "Role" }, "principal_entity_type"},
		{"eq without id", func(r *Rule) { r.PrincipalScopeType, r.PrincipalEntityID = ScopeEq, "" }, "principal_entity_id"},
		{"any with id", func(r *Rule) { r.PrincipalScopeType = ScopeAny }, "principal_entity_id"},
		{"is with id", func(r *Rule) { r.PrincipalScopeType = ScopeIs }, "principal_entity_id"},
		{"is_in without container type", func(r *Rule) { r.PrincipalScopeType, r.PrincipalEntityType = ScopeIsIn, EntityUser }, "principal_entity_id"},
		{"control char in id", func(r *Rule) { r.PrincipalEntityID = "eng\x00" }, "principal_entity_id"},
		{"id too long", func(r *Rule) { r.PrincipalEntityID = strings.Repeat("a", 300) }, "principal_entity_id"},
		{"unknown resource type", func(r *Rule) { r.ResourceEntityType = "AwsLambda" }, "resource_entity_type"},
		{"malformed account id", func(r *Rule) { r.ResourceEntityID = "1234" }, "resource_entity_id"},
		{"resource is_in container not allowed", func(r *Rule) {
			r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIsIn, EntityAwsPermissionSet, "User::x"
		}, "resource_entity_id"},
		{"unknown action", func(r *Rule) { r.ActionIDs = []string{"delete_everything"} }, "action_ids"},
		{"eq with two actions", func(r *Rule) { r.ActionIDs = []string{ActionRequestAccess, ActionExtendGrant} }, "action_ids"},
		{"action any with ids", func(r *Rule) { r.ActionScopeType = ScopeAny }, "action_ids"},
		{"bad action scope", func(r *Rule) { r.ActionScopeType = ScopeIs }, "action_scope_type"},
		{"permit without mode", func(r *Rule) { r.ApprovalMode = "" }, "approval_mode"},
		{"bad mode", func(r *Rule) { r.ApprovalMode = "yolo" }, "approval_mode"},
		{"forbid with mode", func(r *Rule) { r.Effect = EffectForbid }, "approval_mode"},
		{"bad timeout", func(r *Rule) { r.ApprovalTimeout = "4 hours" }, "approval_timeout"},
		{"timeout too long", func(r *Rule) { r.ApprovalTimeout = "90d" }, "approval_timeout"},
		{"timeout on auto", func(r *Rule) { r.ApprovalMode, r.ApprovalTimeout = ModeAuto, "1h" }, "approval_timeout"},
		{"approvals out of range", func(r *Rule) { r.ApprovalsRequired = 99 }, "approvals_required"},
		{"name with newline", func(r *Rule) { r.Name = "x\ny" }, "name"},
		{"notice with bidi override", func(r *Rule) { r.Notice = "ok\u202Egnp.exe" }, "notice"},
		{"name with bidi override", func(r *Rule) { r.Name = "prod\u202E" }, "name"},
		{"name with bidi isolate", func(r *Rule) { r.Name = "\u2067prod\u2069" }, "name"},
		{"description with zero-width space", func(r *Rule) { r.Description = "a\u200bb" }, "description"},
		{"description with a lone carriage return", func(r *Rule) { r.Description = "a\rb" }, "description"},
		{"notification channel with BOM", func(r *Rule) { r.NotificationChannel = "\ufeffops" }, "notification_channel"},
		{"description too long", func(r *Rule) { r.Description = strings.Repeat("d", MaxDescriptionLen+1) }, "description"},
		{"priority out of range", func(r *Rule) { r.Priority = 2_000_000_000 }, "priority"},
		{"bare expression conditions", func(r *Rule) { r.Conditions = "context.duration_seconds <= 14400" }, "conditions"},
		{"conditions do not parse", func(r *Rule) { r.Conditions = "when { context.duration_seconds <= }" }, "conditions"},
		{"conditions smuggle a second policy", func(r *Rule) { r.Conditions = "when { true }; permit(principal, action, resource) when { true }" }, "conditions"},
		{"conditions close and reopen", func(r *Rule) {
			r.Conditions = "when { true };\n@id(\"x\") forbid(principal, action, resource) when { false }"
		}, "conditions"},
		{"conditions with annotation", func(r *Rule) { r.Conditions = `@id("evil") when { true }` }, "conditions"},
		{"conditions with a trailing semicolon", func(r *Rule) { r.Conditions = "when { true };" }, "conditions"},
		{"conditions comment out the terminator", func(r *Rule) { r.Conditions = "when { true } //" }, ""}, // accepted: harmless, canonicalized
		{"conditions too long", func(r *Rule) { r.Conditions = "when { " + strings.Repeat("true && ", 600) + "true }" }, "conditions"},
		{"policy_text with two policies", func(r *Rule) {
			*r = Rule{PolicyText: `@id("a") permit(principal, action, resource); @id("b") permit(principal, action, resource);`}
		}, "policy_text"},
		{"policy_text unknown annotation", func(r *Rule) {
			*r = Rule{PolicyText: `@id("a") @approval_mode("auto") @admin("yes") permit(principal, action, resource);`}
		}, "policy_text"},
		{"policy_text conflicts with decomposed effect", func(r *Rule) {
			*r = Rule{Effect: EffectPermit, PolicyText: `@id("a") forbid(principal, action, resource);`}
		}, "effect"},
		{"policy_text principal of type Action", func(r *Rule) {
			*r = Rule{PolicyText: `@id("a") forbid(principal == Action::"x", action, resource);`}
		}, "principal_entity_type"},
		{"policy_text template slot", func(r *Rule) {
			*r = Rule{PolicyText: `@id("a") forbid(principal == ?principal, action, resource);`}
		}, "policy_text"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRule()
			tc.mod(&r)
			_, err := Normalize(r)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			found := false
			for _, f := range ve.Fields {
				if f.Field == tc.field {
					found = true
				}
			}
			if !found {
				t.Fatalf("want an error on %q, got %v", tc.field, ve.Fields)
			}
		})
	}
}

func TestNormalizeDefaultsAndLegacyForms(t *testing.T) {
	r := validRule()
	r.ActionIDs = []string{ActionRequestAccess, ActionRequestAccess}
	r.ActionScopeType = ScopeIn
	r.PrincipalEntityType, r.PrincipalEntityID = "", "group:engineering"
	n, err := Normalize(r)
	if err != nil {
		t.Fatal(err)
	}
	if n.ApprovalTimeout != "4h" || n.ApprovalsRequired != 1 || n.PrincipalEntityType != EntityGroup || n.PrincipalEntityID != "engineering" ||
		len(n.ActionIDs) != 1 || n.Conditions != "when { context.duration_seconds <= 14400 }" {
		t.Fatalf("normalized: %+v", n)
	}
	r.ApprovalTimeout = "90m"
	n, _ = Normalize(r)
	if n.ApprovalTimeout != "1h30m" {
		t.Fatalf("timeout %q", n.ApprovalTimeout)
	}
}

func TestRoundTrip(t *testing.T) {
	rules := []Rule{
		validRule(),
		{ID: "freeze", Name: `Quote " back\slash`, Description: "line1\nline2\t\"x\"", Priority: 200, Enabled: false, Effect: EffectForbid,
			PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsOrganizationalUnit,
			ResourceEntityID: "ou-ab12-prod0001", Conditions: `unless { context.now < datetime("2026-12-24T00:00:00Z") }`, Notice: "Frozen 🎄 \"until\" Jan;\n}; permit(principal,action,resource);"},
		{ID: "bg", Priority: -5, Enabled: true, Effect: EffectPermit, PrincipalScopeType: ScopeIsIn, PrincipalEntityType: EntityUser, PrincipalEntityID: "Group::sre",
			ActionScopeType: ScopeIn, ActionIDs: []string{ActionRequestAccess, ActionExtendGrant}, ResourceScopeType: ScopeIs, ResourceEntityType: EntityAwsEc2Instance,
			ApprovalMode: ModeBreakGlass, NotificationChannel: "#security"},
		{ID: "approvers", Enabled: true, Effect: EffectPermit, PrincipalScopeType: ScopeEq, PrincipalEntityType: EntityUser, PrincipalEntityID: "alice@example.com",
			ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest}, ResourceScopeType: ScopeEq, ResourceEntityType: EntityAwsS3Bucket, ResourceEntityID: "logs.example"},
		{ID: "r2", Enabled: true, Effect: EffectPermit, PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny, ApprovalMode: ModeRequire,
			ApprovalTimeout: "1d12h", ApprovalsRequired: 2},
	}
	var norm []Rule
	for _, r := range rules {
		n, err := Normalize(r)
		if err != nil {
			t.Fatalf("%s: %v", r.ID, err)
		}
		text, err := CedarText(n)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRule(text)
		if err != nil {
			t.Fatalf("%s: ParseRule(%s): %v", r.ID, text, err)
		}
		if !reflect.DeepEqual(n, back) {
			t.Fatalf("round trip of %s:\n%+v\n%s\n%+v", r.ID, n, text, back)
		}
		again, _ := Normalize(n)
		if !reflect.DeepEqual(n, again) {
			t.Fatalf("Normalize not idempotent for %s", r.ID)
		}
		// PolicyText form with agreeing decomposed fields.
		both := n
		both.PolicyText = text
		if got, err := Normalize(both); err != nil || !reflect.DeepEqual(got, n) {
			t.Fatalf("policy_text + agreeing fields: %v %+v", err, got)
		}
		norm = append(norm, n)
	}
	doc := Export(norm)
	if !strings.HasPrefix(doc, `@id("freeze")`) {
		t.Fatalf("export not ordered by priority:\n%s", doc)
	}
	imported, err := Import(doc)
	if err != nil {
		t.Fatal(err)
	}
	if Export(imported) != doc {
		t.Fatalf("Export(Import(doc)) != doc")
	}
	byID := map[string]Rule{}
	for _, r := range imported {
		byID[r.ID] = r
	}
	for _, r := range norm {
		if !reflect.DeepEqual(byID[r.ID], r) {
			t.Fatalf("import of %s:\n%+v\n%+v", r.ID, byID[r.ID], r)
		}
	}
}

func TestImportErrors(t *testing.T) {
	doc := `@id("a") @approval_mode("auto") permit(principal, action, resource);
@id("a") forbid(principal, action, resource);
@id("c") permit(principal, action, resource);
@id("d") forbid(principal == User::"x", action, resource is AwsAccount in AwsAccount::"12");`
	_, err := Import(doc)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatal(err)
	}
	want := map[string]bool{"rules[1].id": false, "rules[2].approval_mode": false, "rules[3].resource_entity_id": false}
	for _, f := range ve.Fields {
		if _, ok := want[f.Field]; ok {
			want[f.Field] = true
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("missing error on %s: %v", k, ve.Fields)
		}
	}
	if _, err := Import("permit(principal"); err == nil || !strings.Contains(err.Error(), "document") {
		t.Errorf("unparseable doc: %v", err)
	}
}

func TestTimeouts(t *testing.T) {
	good := map[string]time.Duration{"30m": 30 * time.Minute, "4h": 4 * time.Hour, "1d": 24 * time.Hour, "1h30m": 90 * time.Minute, "1d12h": 36 * time.Hour, "90s": 90 * time.Second}
	for s, d := range good {
		got, err := ParseTimeout(s)
		if err != nil || got != d {
			t.Errorf("ParseTimeout(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "4", "h", "-1h", "1.5h", "30m1h", "1h1h", "1w", " 1h", "0m"} {
		if _, err := ParseTimeout(s); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", s)
		}
	}
	for _, s := range []string{"30m", "4h", "1d", "1h30m", "1d12h", "1m30s", "2d3h4m5s"} {
		d, _ := ParseTimeout(s)
		if FormatTimeout(d) != s {
			t.Errorf("FormatTimeout(%v) = %q, want %q", d, FormatTimeout(d), s)
		}
	}
	if FormatTimeout(90*time.Minute) != "1h30m" || FormatTimeout(48*time.Hour) != "2d" {
		t.Error("canonical spelling")
	}
}

func TestResourceTypeMapping(t *testing.T) {
	for api, ent := range map[string]string{"aws_account": "AwsAccount", "aws_permission_set": "AwsPermissionSet", "aws_organizational_unit": "AwsOrganizationalUnit",
		"aws_s3_bucket": "AwsS3Bucket", "aws_rds_instance": "AwsRdsInstance", "aws_ec2_instance": "AwsEc2Instance"} {
		if e, ok := EntityTypeForResourceType(api); !ok || e != ent {
			t.Errorf("%s -> %s", api, e)
		}
		if a, ok := ResourceTypeForEntityType(ent); !ok || a != api {
			t.Errorf("%s -> %s", ent, a)
		}
	}
	if _, ok := EntityTypeForResourceType("aws_lambda"); ok {
		t.Error("unknown type mapped")
	}
}

func TestCache(t *testing.T) {
	c := NewCache()
	var loads atomic.Int32
	rules := []Rule{mkRule(t, Rule{ID: "a", Effect: EffectPermit, ApprovalMode: ModeAuto})}
	load := func() ([]Rule, error) {
		loads.Add(1)
		time.Sleep(20 * time.Millisecond)
		return rules, nil
	}
	var wg sync.WaitGroup
	sets := make([]*PolicySet, 16)
	for i := range sets {
		wg.Go(func() {
			ps, err := c.Get("t1", 1, load)
			if err != nil {
				t.Error(err)
			}
			sets[i] = ps
		})
	}
	wg.Wait()
	if loads.Load() != 1 {
		t.Fatalf("concurrent misses loaded %d times", loads.Load())
	}
	for _, ps := range sets {
		if ps != sets[0] {
			t.Fatal("different sets returned")
		}
	}
	if ps, _ := c.Get("t1", 1, load); ps != sets[0] || loads.Load() != 1 {
		t.Fatal("hit reloaded")
	}
	if ps, _ := c.Get("t1", 2, load); ps == sets[0] || loads.Load() != 2 {
		t.Fatal("new version not reloaded")
	}
	if _, err := c.Get("t2", 1, func() ([]Rule, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("load error swallowed")
	}
	if ps, err := c.Get("t2", 1, func() ([]Rule, error) { return nil, nil }); err != nil || ps.Len() != 0 {
		t.Fatal("errors must not be cached")
	}
}
