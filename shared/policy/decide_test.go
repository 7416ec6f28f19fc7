package policy

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecideSemantics(t *testing.T) {
	auto := func(id string, prio int) Rule {
		return Rule{ID: id, Priority: prio, Effect: EffectPermit, ApprovalMode: ModeAuto}
	}
	req := func(id string, prio int, timeout string, n int) Rule {
		return Rule{ID: id, Priority: prio, Effect: EffectPermit, ApprovalMode: ModeRequire, ApprovalTimeout: timeout, ApprovalsRequired: n}
	}
	bg := func(id string, prio int) Rule {
		return Rule{ID: id, Priority: prio, Effect: EffectPermit, ApprovalMode: ModeBreakGlass}
	}
	forbid := func(id string, prio int) Rule { return Rule{ID: id, Priority: prio, Effect: EffectForbid} }
	with := func(r Rule, f func(*Rule)) Rule { f(&r); return r }

	type want struct {
		allowed   bool
		mode      string
		timeout   time.Duration
		approvals int
		ids       []string
		tier      *int
		reason    string // substring
		errors    int
		notices   []string
	}
	tier := func(p int) *int { return &p }
	cases := []struct {
		name  string
		rules []Rule
		req   func(Request) Request
		want  want
	}{
		{"fail closed: no rules", nil, nil, want{ids: []string{}, reason: "no applicable policy"}},
		{"fail closed: only non-matching permit", []Rule{with(auto("other", 1), func(r *Rule) {
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeEq, EntityUser, "bob"
		})}, nil, want{ids: []string{}, reason: "no applicable policy"}},
		{"fail closed: forbid alone denies with forbid reason", []Rule{forbid("f", 5)}, nil, want{ids: []string{"f"}, tier: tier(5), reason: `denied by rule "f" (priority 5)`}},
		{"auto permit", []Rule{auto("dev-auto", 10)}, nil, want{allowed: true, mode: ModeAuto, ids: []string{"dev-auto"}, tier: tier(10), reason: `approved automatically by rule "dev-auto"`}},
		{"higher-priority permit beats lower forbid", []Rule{auto("p", 100), forbid("f", 50)}, nil,
			want{allowed: true, mode: ModeAuto, ids: []string{"p"}, tier: tier(100)}},
		{"higher-priority forbid beats lower permit", []Rule{auto("p", 50), forbid("prod-freeze", 200)}, nil,
			want{ids: []string{"prod-freeze"}, tier: tier(200), reason: `denied by rule "prod-freeze" (priority 200)`}},
		{"same tier: forbid beats permit", []Rule{auto("p", 50), forbid("f", 50)}, nil, want{ids: []string{"f"}, tier: tier(50)}},
		{"tier with only non-applying rules is skipped", []Rule{with(forbid("f", 100), func(r *Rule) { r.Conditions = "when { context.duration_seconds > 7200 }" }), auto("p", 10)}, nil,
			want{allowed: true, mode: ModeAuto, ids: []string{"p"}, tier: tier(10)}},
		{"disabled rules do not exist", []Rule{with(forbid("f", 100), func(r *Rule) { r.Enabled = false }), auto("p", 10)}, nil,
			want{allowed: true, mode: ModeAuto, ids: []string{"p"}, tier: tier(10)}},
		{"erroring forbid denies (no fail open)", []Rule{with(forbid("bad-forbid", 100), func(r *Rule) { r.Conditions = "when { context.metadata.ticket == \"x\" }" }), auto("p", 100)}, nil,
			want{ids: []string{"bad-forbid"}, tier: tier(100), reason: `evaluation error in rule "bad-forbid"`, errors: 1}},
		{"erroring permit in reached tier denies", []Rule{with(auto("bad", 100), func(r *Rule) { r.Conditions = "when { context.metadata.x > 1 }" }), auto("good", 100)}, nil,
			want{ids: []string{"bad"}, tier: tier(100), errors: 1}},
		{"error in an unreached tier is not evaluated", []Rule{auto("good", 100), with(forbid("bad", 10), func(r *Rule) { r.Conditions = "when { context.metadata.x > 1 }" })}, nil,
			want{allowed: true, mode: ModeAuto, ids: []string{"good"}, tier: tier(100)}},
		{"most restrictive mode wins: require > break_glass > auto", []Rule{auto("a", 10), req("r", 10, "", 0), bg("b", 10)},
			func(r Request) Request { r.BreakGlass = true; return r },
			want{allowed: true, mode: ModeRequire, timeout: DefaultApprovalTimeout, approvals: 1, ids: []string{"r"}, tier: tier(10), reason: "break-glass not permitted"}},
		{"require > auto; shortest timeout, largest approvals", []Rule{auto("a", 10), req("r1", 10, "2h", 1), req("r2", 10, "30m", 3), req("r3", 10, "1d", 2)}, nil,
			want{allowed: true, mode: ModeRequire, timeout: 30 * time.Minute, approvals: 3, ids: []string{"r1", "r2", "r3"}, tier: tier(10), reason: "requires approval by 3 reviewers within 30m"}},
		{"break_glass beats auto on a break-glass request", []Rule{auto("a", 10), bg("b", 10)},
			func(r Request) Request { r.BreakGlass = true; return r },
			want{allowed: true, mode: ModeBreakGlass, ids: []string{"b"}, tier: tier(10), reason: `break-glass access permitted by rule "b"`}},
		{"break_glass permit ignored on an ordinary request", []Rule{bg("b", 100), req("r", 10, "1h", 1)}, nil,
			want{allowed: true, mode: ModeRequire, timeout: time.Hour, approvals: 1, ids: []string{"r"}, tier: tier(10)}},
		{"break_glass alone on ordinary request: deny", []Rule{bg("b", 100)}, nil, want{ids: []string{}, reason: "no applicable policy"}},
		{"break-glass request without bg permit gets the ordinary decision (not auto)", []Rule{req("r", 10, "1h", 2)},
			func(r Request) Request { r.BreakGlass = true; return r },
			want{allowed: true, mode: ModeRequire, timeout: time.Hour, approvals: 2, ids: []string{"r"}, tier: tier(10), reason: "break-glass not permitted; ordinary decision: requires approval"}},
		{"break-glass request whose bg permit is below a forbid: ordinary decision (deny)", []Rule{forbid("f", 100), bg("b", 10)},
			func(r Request) Request { r.BreakGlass = true; return r },
			want{ids: []string{"f"}, tier: tier(100), reason: "break-glass not permitted"}},
		{"break-glass permit in higher tier wins over lower require", []Rule{bg("b", 100), req("r", 10, "", 0)},
			func(r Request) Request { r.BreakGlass = true; return r },
			want{allowed: true, mode: ModeBreakGlass, ids: []string{"b"}, tier: tier(100)}},
		{"notices of deciding rules", []Rule{with(forbid("f", 100), func(r *Rule) { r.Notice = "Prod is frozen until Monday" }), with(auto("a", 10), func(r *Rule) { r.Notice = "unused" })}, nil,
			want{ids: []string{"f"}, tier: tier(100), notices: []string{"Prod is frozen until Monday"}}},
		{"deciding ids sorted", []Rule{forbid("zeta", 1), forbid("alpha", 1), forbid("mid", 1)}, nil,
			want{ids: []string{"alpha", "mid", "zeta"}, tier: tier(1), reason: `denied by rules "alpha", "mid", "zeta"`}},
		{"conditions on context: duration", []Rule{with(auto("short", 10), func(r *Rule) { r.Conditions = "when { context.duration_seconds <= 1800 }" }), req("long", 5, "", 0)}, nil,
			want{allowed: true, mode: ModeRequire, ids: []string{"long"}, tier: tier(5), approvals: 1, timeout: DefaultApprovalTimeout}},
		{"conditions on context: total duration defaults to the duration asked for", []Rule{with(auto("short", 10), func(r *Rule) {
			r.Conditions = "when { context.total_duration_seconds == context.duration_seconds }"
		})}, nil, want{allowed: true, mode: ModeAuto, ids: []string{"short"}, tier: tier(10)}},
		{"conditions on context: total duration, apart from the increment", []Rule{with(auto("cap", 10), func(r *Rule) {
			r.Conditions = "when { context.duration_seconds <= 1800 && context.total_duration_seconds <= 14400 }"
		})}, func(r Request) Request { r.DurationSeconds, r.TotalDurationSeconds = 1800, 14401; return r },
			want{ids: []string{}, reason: "no applicable policy"}},
		{"conditions on context: total duration within the bound", []Rule{with(auto("cap", 10), func(r *Rule) {
			r.Conditions = "when { context.duration_seconds <= 1800 && context.total_duration_seconds <= 14400 }"
		})}, func(r Request) Request { r.DurationSeconds, r.TotalDurationSeconds = 1800, 14400; return r },
			want{allowed: true, mode: ModeAuto, ids: []string{"cap"}, tier: tier(10)}},
		{"conditions on context: now (datetime) and justification", []Rule{with(auto("a", 10), func(r *Rule) {
			r.Conditions = `when { context.now >= datetime("2026-03-10T00:00:00Z") && context.justification like "*JIRA-*" }`
		})}, nil, want{allowed: true, mode: ModeAuto, ids: []string{"a"}, tier: tier(10)}},
		{"conditions on requester and metadata", []Rule{with(auto("a", 10), func(r *Rule) {
			r.Conditions = `when { context.requester.groups.contains("oncall") && context.metadata.incident.severity <= 2 && context.metadata.tags.contains("p1") }`
		})}, func(r Request) Request {
			r.Metadata = map[string]any{"incident": map[string]any{"severity": float64(1)}, "tags": []any{"p1"}}
			return r
		}, want{allowed: true, mode: ModeAuto, ids: []string{"a"}, tier: tier(10)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rules []Rule
			for _, r := range tc.rules {
				en := r.Enabled
				r.Enabled = true
				n := mkRule(t, r)
				if strings.Contains(tc.name, "disabled") && r.Effect == EffectForbid {
					n.Enabled = en
				}
				rules = append(rules, n)
			}
			ps := mustCompile(t, rules...)
			rq := psReq(alice())
			if tc.req != nil {
				rq = tc.req(rq)
			}
			for name, d := range map[string]Decision{"indexed": ps.Decide(rq), "fullscan": ps.DecideFullScan(rq)} {
				w := tc.want
				if d.Allowed != w.allowed || d.Mode != w.mode || d.ApprovalTimeout != w.timeout || d.ApprovalsRequired != w.approvals {
					t.Errorf("%s: got allowed=%v mode=%q timeout=%v approvals=%d (%s), want %v %q %v %d", name, d.Allowed, d.Mode, d.ApprovalTimeout, d.ApprovalsRequired, d.Reason, w.allowed, w.mode, w.timeout, w.approvals)
				}
				if !slices.Equal(d.DecidingRuleIDs, w.ids) {
					t.Errorf("%s: deciding ids %v, want %v", name, d.DecidingRuleIDs, w.ids)
				}
				if (d.Tier == nil) != (w.tier == nil) || d.Tier != nil && *d.Tier != *w.tier {
					t.Errorf("%s: tier %v, want %v", name, d.Tier, w.tier)
				}
				if !strings.Contains(d.Reason, w.reason) {
					t.Errorf("%s: reason %q, want it to contain %q", name, d.Reason, w.reason)
				}
				if len(d.Errors) != w.errors {
					t.Errorf("%s: errors %v, want %d", name, d.Errors, w.errors)
				}
				if w.notices != nil && !reflect.DeepEqual(d.Notices, w.notices) {
					t.Errorf("%s: notices %v, want %v", name, d.Notices, w.notices)
				}
			}
		})
	}
}

func TestEntityHierarchy(t *testing.T) {
	ps := mustCompile(t,
		mkRule(t, Rule{ID: "acct", Priority: 30, Effect: EffectPermit, ApprovalMode: ModeAuto, ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsAccount, ResourceEntityID: "111122223333"}),
		mkRule(t, Rule{ID: "ou", Priority: 20, Effect: EffectPermit, ApprovalMode: ModeRequire, ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsOrganizationalUnit, ResourceEntityID: "ou-ab12-prod0001"}),
		mkRule(t, Rule{ID: "grp", Priority: 10, Effect: EffectPermit, ApprovalMode: ModeBreakGlass, PrincipalScopeType: ScopeIn, PrincipalEntityType: EntityGroup, PrincipalEntityID: "engineering"}),
		mkRule(t, Rule{ID: "isin", Priority: 5, Effect: EffectPermit, ApprovalMode: ModeAuto, PrincipalScopeType: ScopeIsIn, PrincipalEntityType: EntityUser, PrincipalEntityID: "Group::sre",
			ResourceScopeType: ScopeIsIn, ResourceEntityType: EntityAwsPermissionSet, ResourceEntityID: "AwsAccount::999988887777"}),
	)
	base := psReq(alice())
	cases := []struct {
		name string
		mod  func(*Request)
		ids  []string
	}{
		{"permission set in account", func(r *Request) {}, []string{"acct"}},
		{"account in OU (transitively)", func(r *Request) { r.Resource.AccountID = "444455556666" }, []string{"ou"}},
		{"account resource in OU", func(r *Request) {
			r.Resource = Resource{Type: EntityAwsAccount, ID: "444455556666", OUID: "ou-ab12-prod0001"}
		}, []string{"ou"}},
		{"account resource is in itself", func(r *Request) { r.Resource = Resource{Type: EntityAwsAccount, ID: "111122223333"} }, []string{"acct"}},
		{"user in group (break-glass)", func(r *Request) { r.Resource.AccountID, r.Resource.OUID, r.BreakGlass = "", "", true }, []string{"grp"}},
		{"not in group", func(r *Request) {
			r.Resource.AccountID, r.Resource.OUID, r.BreakGlass = "", "", true
			r.Principal.Groups = []string{"finance"}
		}, []string{}},
		{"is User in Group, is PermissionSet in account", func(r *Request) {
			r.Resource.AccountID, r.Resource.OUID = "999988887777", ""
			r.Principal.Groups = []string{"sre"}
		}, []string{"isin"}},
		{"is_in: wrong resource type", func(r *Request) {
			r.Resource = Resource{Type: EntityAwsS3Bucket, ID: "logs", AccountID: "999988887777"}
			r.Principal.Groups = []string{"sre"}
		}, []string{}},
	}
	for _, tc := range cases {
		r := base
		r.Principal.Groups = slices.Clone(base.Principal.Groups)
		tc.mod(&r)
		for _, d := range []Decision{ps.Decide(r), ps.DecideFullScan(r)} {
			if !slices.Equal(d.DecidingRuleIDs, tc.ids) {
				t.Errorf("%s: got %v (%s), want %v", tc.name, d.DecidingRuleIDs, d.Reason, tc.ids)
			}
		}
	}
}

func TestMayApprove(t *testing.T) {
	ps := mustCompile(t,
		mkRule(t, Rule{ID: "no-self", Priority: 100, Effect: EffectForbid, ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest},
			Conditions: "when { principal == context.requester.entity }"}),
		mkRule(t, Rule{ID: "bg-needs-security", Priority: 90, Effect: EffectForbid, ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest},
			Conditions: `when { context.mode == "break_glass" } unless { principal in Group::"security" }`}),
		mkRule(t, Rule{ID: "leads-approve", Priority: 10, Effect: EffectPermit, ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest},
			PrincipalScopeType: ScopeIn, PrincipalEntityType: EntityGroup, PrincipalEntityID: "leads"}),
		mkRule(t, Rule{ID: "security-approve", Priority: 10, Effect: EffectPermit, ActionScopeType: ScopeEq, ActionIDs: []string{ActionApproveRequest},
			PrincipalScopeType: ScopeIn, PrincipalEntityType: EntityGroup, PrincipalEntityID: "security"}),
		mkRule(t, Rule{ID: "anyone-request", Priority: 10, Effect: EffectPermit, ApprovalMode: ModeRequire}),
	)
	res := psReq(alice()).Resource
	lead := Principal{ID: "lena", Groups: []string{"leads"}}
	sec := Principal{ID: "sam", Groups: []string{"security"}}
	cases := []struct {
		name     string
		reviewer Principal
		mode     string
		ok       bool
		ids      []string
	}{
		{"lead approves", lead, ModeRequire, true, []string{"leads-approve"}},
		{"requester cannot approve own request", Principal{ID: "alice", Groups: []string{"leads"}}, ModeRequire, false, []string{"no-self"}},
		{"non-lead cannot", Principal{ID: "bob", Groups: []string{"engineering"}}, ModeRequire, false, []string{}},
		{"break-glass review needs security", lead, ModeBreakGlass, false, []string{"bg-needs-security"}},
		{"security reviews break-glass", sec, ModeBreakGlass, true, []string{"security-approve"}},
	}
	for _, tc := range cases {
		d := ps.MayApprove(tc.reviewer, alice(), res, tc.mode, testNow)
		if d.Allowed != tc.ok || !slices.Equal(d.DecidingRuleIDs, tc.ids) {
			t.Errorf("%s: got %v %v (%s)", tc.name, d.Allowed, d.DecidingRuleIDs, d.Reason)
		}
	}
}

func TestCompileRejectsDuplicatesAndDropsDisabled(t *testing.T) {
	a := mkRule(t, Rule{ID: "a", Effect: EffectPermit, ApprovalMode: ModeAuto})
	if _, err := Compile([]Rule{a, a}); err == nil {
		t.Fatal("duplicate ids accepted")
	}
	b := a
	b.ID, b.Enabled = "b", false
	ps := mustCompile(t, b)
	if ps.Len() != 0 {
		t.Fatalf("disabled rule compiled")
	}
	bad := a
	bad.ID = "bad"
	bad.Conditions = "when { true }; permit(principal, action, resource);"
	if _, err := Compile([]Rule{bad}); err == nil {
		t.Fatal("Compile accepted a smuggling rule")
	}
}
