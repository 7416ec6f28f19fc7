package policy

import (
	"maps"
	"slices"
	"testing"
)

func TestMayOverlap(t *testing.T) {
	acct := func(scope, id string) Rule {
		return Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: scope, ResourceEntityType: EntityAwsAccount, ResourceEntityID: id}
	}
	group := func(scope, id string) Rule {
		return Rule{PrincipalScopeType: scope, PrincipalEntityType: EntityGroup, PrincipalEntityID: id, ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny}
	}
	actions := func(scope string, ids ...string) Rule {
		return Rule{PrincipalScopeType: ScopeAny, ActionScopeType: scope, ActionIDs: ids, ResourceScopeType: ScopeAny}
	}
	isType := func(typ string) Rule {
		return Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeIs, ResourceEntityType: typ}
	}
	isIn := func(typ, in string) Rule {
		return Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeIsIn, ResourceEntityType: typ, ResourceEntityID: in}
	}
	any := Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny}
	cases := []struct {
		name string
		a, b Rule
		want bool
	}{
		{"any/any", any, any, true},
		{"any/eq", any, acct(ScopeEq, "111111111111"), true},
		{"eq/eq same", acct(ScopeEq, "111111111111"), acct(ScopeEq, "111111111111"), true},
		{"eq/eq different", acct(ScopeEq, "111111111111"), acct(ScopeEq, "222222222222"), false},
		{"eq/in other account (accounts hold no accounts)", acct(ScopeEq, "111111111111"), acct(ScopeIn, "222222222222"), false},
		{"eq/in same account", acct(ScopeEq, "111111111111"), acct(ScopeIn, "111111111111"), true},
		{"in/in two accounts (a resource is in one account)", acct(ScopeIn, "111111111111"), acct(ScopeIn, "222222222222"), false},
		{"in/in same account", acct(ScopeIn, "111111111111"), acct(ScopeIn, "111111111111"), true},
		{"in account/in OU (the account may be in the OU)", acct(ScopeIn, "111111111111"), Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsOrganizationalUnit, ResourceEntityID: "ou-ab12-cdef5678"}, true},
		{"in account/is bucket", acct(ScopeIn, "111111111111"), isType(EntityAwsS3Bucket), true},
		{"in account/is account", acct(ScopeIn, "111111111111"), isType(EntityAwsAccount), false},
		{"in OU/eq account (containment is the request's fact)", Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsOrganizationalUnit, ResourceEntityID: "ou-ab12-cdef5678"}, acct(ScopeEq, "111111111111"), true},
		{"in bucket is eq bucket", isIn(EntityAwsS3Bucket, "AwsAccount::1"), Rule{PrincipalScopeType: ScopeAny, ActionScopeType: ScopeAny, ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsS3Bucket, ResourceEntityID: "b"}, true},
		{"eq/is same type", acct(ScopeEq, "111111111111"), isType(EntityAwsAccount), true},
		{"eq/is other type", acct(ScopeEq, "111111111111"), isType(EntityAwsS3Bucket), false},
		{"is/is other type", isType(EntityAwsEc2Instance), isType(EntityAwsS3Bucket), false},
		{"is/is_in same type", isType(EntityAwsS3Bucket), isIn(EntityAwsS3Bucket, "AwsAccount::111111111111"), true},
		{"is_in/eq other type", isIn(EntityAwsS3Bucket, "AwsAccount::111111111111"), acct(ScopeEq, "111111111111"), false},
		{"in/is", acct(ScopeIn, "111111111111"), isType(EntityAwsS3Bucket), true},
		{"group eq/eq different", group(ScopeEq, "a"), group(ScopeEq, "b"), false},
		{"group in/in different (a user may be in both)", group(ScopeIn, "a"), group(ScopeIn, "b"), true},
		{"group in/user eq", group(ScopeIn, "a"), Rule{PrincipalScopeType: ScopeEq, PrincipalEntityType: EntityUser, PrincipalEntityID: "alice", ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny}, true},
		{"user in/user eq other", Rule{PrincipalScopeType: ScopeIn, PrincipalEntityType: EntityUser, PrincipalEntityID: "bob", ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny}, Rule{PrincipalScopeType: ScopeEq, PrincipalEntityType: EntityUser, PrincipalEntityID: "alice", ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny}, false},
		{"actions any/eq", actions(ScopeAny), actions(ScopeEq, ActionApproveRequest), true},
		{"actions disjoint", actions(ScopeEq, ActionRequestAccess), actions(ScopeIn, ActionApproveRequest, ActionExtendGrant), false},
		{"actions share one", actions(ScopeIn, ActionRequestAccess, ActionExtendGrant), actions(ScopeIn, ActionApproveRequest, ActionExtendGrant), true},
	}
	for _, c := range cases {
		if got := MayOverlap(c.a, c.b); got != c.want {
			t.Errorf("%s: MayOverlap = %v, want %v", c.name, got, c.want)
		}
		if got := MayOverlap(c.b, c.a); got != c.want {
			t.Errorf("%s (swapped): MayOverlap = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestShadowed(t *testing.T) {
	prod := func(r Rule) Rule {
		r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIn, EntityAwsAccount, "111122223333"
		return r
	}
	dev := func(r Rule) Rule {
		r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeEq, EntityAwsAccount, "444455556666"
		return r
	}
	rules := []Rule{
		mkRule(t, Rule{ID: "p-any-100", Priority: 100, Effect: EffectPermit, ApprovalMode: ModeAuto}),
		mkRule(t, prod(Rule{ID: "p-prod-500", Priority: 500, Effect: EffectPermit, ApprovalMode: ModeRequire})),
		mkRule(t, dev(Rule{ID: "p-dev-2000", Priority: 2000, Effect: EffectPermit, ApprovalMode: ModeAuto})),
		mkRule(t, Rule{ID: "p-approve-900", Priority: 900, Effect: EffectPermit, ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest}}),
		mkRule(t, prod(Rule{ID: "f-prod-0", Priority: 0, Effect: EffectForbid})),       // below p-any-100 and p-prod-500
		mkRule(t, prod(Rule{ID: "f-prod-100", Priority: 100, Effect: EffectForbid})),   // same tier as p-any-100: decides
		mkRule(t, dev(Rule{ID: "f-dev-1000", Priority: 1000, Effect: EffectForbid})),   // below p-dev-2000 only
		mkRule(t, prod(Rule{ID: "f-prod-1000", Priority: 1000, Effect: EffectForbid})), // above every permit that overlaps
		mkRule(t, Rule{ID: "f-approve-0", Priority: 0, Effect: EffectForbid, ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest}}),
	}
	disabledPermit := mkRule(t, Rule{ID: "p-off-5000", Priority: 5000, Effect: EffectPermit, ApprovalMode: ModeAuto})
	disabledPermit.Enabled = false
	disabledForbid := mkRule(t, Rule{ID: "f-off-0", Effect: EffectForbid})
	disabledForbid.Enabled = false
	rules = append(rules, disabledPermit, disabledForbid)

	got := Shadowed(rules)
	want := map[string][]string{
		"f-prod-0":    {"p-prod-500", "p-any-100"},
		"f-prod-100":  {"p-prod-500"},
		"f-dev-1000":  {"p-dev-2000"},
		"f-approve-0": {"p-approve-900"},
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Shadowed = %v\nwant %v", got, want)
	}

	// What Shadowed reports is what Decide does: the shadowed forbid on
	// prod never denies, the one above every permit does.
	req := Request{Principal: alice(), Action: ActionRequestAccess, Resource: Resource{Type: EntityAwsAccount, ID: "111122223333"}, DurationSeconds: 3600, Now: testNow}
	d := mustCompile(t, rules[0], rules[1], rules[4]).Decide(req)
	if !d.Allowed || !slices.Equal(d.DecidingRuleIDs, []string{"p-prod-500"}) {
		t.Fatalf("shadowed forbid: %+v", d)
	}
	if d := mustCompile(t, rules[0], rules[1], rules[7]).Decide(req); d.Allowed || !slices.Equal(d.DecidingRuleIDs, []string{"f-prod-1000"}) {
		t.Fatalf("forbid above the permits: %+v", d)
	}
	if len(Shadowed(nil)) != 0 {
		t.Fatal("no rules, no shadows")
	}
}

// TestForbidDefaultPriority: a new forbid without a priority gets
// DefaultForbidPriority and decides against a priority-100 permit; one
// given explicitly (0 included) keeps it; permits keep 0.
func TestForbidDefaultPriority(t *testing.T) {
	forbid := Rule{ID: "no-prod", Enabled: true, Effect: EffectForbid, PrincipalScopeType: ScopeAny,
		ActionScopeType: ScopeAny, ResourceScopeType: ScopeEq, ResourceEntityType: EntityAwsAccount, ResourceEntityID: "111122223333"}
	f, err := NormalizeInput(forbid, false)
	if err != nil || f.Priority != DefaultForbidPriority {
		t.Fatalf("forbid without priority: %d %v", f.Priority, err)
	}
	if f0, err := NormalizeInput(forbid, true); err != nil || f0.Priority != 0 {
		t.Fatalf("forbid with priority 0 given: %d %v", f0.Priority, err)
	}
	given := forbid
	given.Priority = 7
	if f7, err := NormalizeInput(given, true); err != nil || f7.Priority != 7 {
		t.Fatalf("forbid with priority 7: %d %v", f7.Priority, err)
	}
	if n, err := Normalize(forbid); err != nil || n.Priority != 0 {
		t.Fatalf("Normalize (stored rules) keeps 0: %d %v", n.Priority, err)
	}
	permit := Rule{ID: "all-auto", Enabled: true, Effect: EffectPermit, PrincipalScopeType: ScopeAny,
		ActionScopeType: ScopeAny, ResourceScopeType: ScopeAny, ApprovalMode: ModeAuto}
	p, err := NormalizeInput(permit, false)
	if err != nil || p.Priority != 0 {
		t.Fatalf("permit without priority: %d %v", p.Priority, err)
	}
	p.Priority = 100

	req := Request{Principal: alice(), Action: ActionRequestAccess, Resource: Resource{Type: EntityAwsAccount, ID: "111122223333"}, DurationSeconds: 3600, Now: testNow}
	if d := mustCompile(t, f, p).Decide(req); d.Allowed || !slices.Equal(d.DecidingRuleIDs, []string{"no-prod"}) {
		t.Fatalf("default-priority forbid vs priority-100 permit: %+v", d)
	}
	if s := Shadowed([]Rule{f, p}); len(s) != 0 {
		t.Fatalf("default-priority forbid reported shadowed: %v", s)
	}

	// The Cedar text forms: no @priority is "not given".
	text := `@id("no-prod-text") forbid(principal, action, resource == AwsAccount::"111122223333");`
	ft, err := NormalizeInput(Rule{PolicyText: text}, false)
	if err != nil || ft.Priority != DefaultForbidPriority {
		t.Fatalf("policy_text forbid without @priority: %d %v", ft.Priority, err)
	}
	if ft, err := NormalizeInput(Rule{PolicyText: `@priority("0") ` + text}, false); err != nil || ft.Priority != 0 {
		t.Fatalf("policy_text forbid with @priority(0): %d %v", ft.Priority, err)
	}
	doc := text + "\n" + `@id("p") @priority("0") forbid(principal, action, resource);` + "\n" +
		`@id("q") @approval_mode("auto") permit(principal, action, resource);`
	rules, err := Import(doc)
	if err != nil || len(rules) != 3 || rules[0].Priority != DefaultForbidPriority || rules[1].Priority != 0 || rules[2].Priority != 0 {
		t.Fatalf("Import: %+v %v", rules, err)
	}
	// Export writes @priority, so a round trip keeps every priority.
	again, err := Import(Export(rules))
	if err != nil || len(again) != 3 {
		t.Fatalf("round trip: %v", err)
	}
	for _, r := range again {
		for _, o := range rules {
			if r.ID == o.ID && r.Priority != o.Priority {
				t.Errorf("%s: priority %d after round trip, was %d", r.ID, r.Priority, o.Priority)
			}
		}
	}
}
