package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

const (
	testPS   = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890"
	testPS2  = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-0000000000000002"
	prodAcct = "222222222222"
	prodOU   = "ou-ab12-prod0001"
)

func bareAccount(p Principal) Request {
	return Request{Principal: p, Action: ActionRequestAccess, DurationSeconds: 3600, Justification: "rotate a secret", Now: testNow,
		Resource: Resource{Type: EntityAwsAccount, ID: prodAcct, OUID: prodOU}}
}

func withPermissionSet(r Request, arn string) Request {
	r.Resource = Resource{Type: EntityAwsPermissionSet, ID: arn, AccountID: r.Resource.ID, OUID: r.Resource.OUID}
	return r
}

// TestAccountRuleGovernsPermissionSetRequests: a rule written against an
// account decides a request for a permission set on that account exactly as
// it decides the bare account (issue: an `eq` forbid was sidestepped by
// naming a permission set).
func TestAccountRuleGovernsPermissionSetRequests(t *testing.T) {
	permitAll := Rule{ID: "eng-require", Priority: 100, Effect: EffectPermit, ApprovalMode: ModeRequire,
		PrincipalScopeType: ScopeIn, PrincipalEntityType: EntityGroup, PrincipalEntityID: "engineering"}
	forbids := map[string]Rule{
		"eq":    {ResourceScopeType: ScopeEq, ResourceEntityType: EntityAwsAccount, ResourceEntityID: prodAcct},
		"in":    {ResourceScopeType: ScopeIn, ResourceEntityType: EntityAwsAccount, ResourceEntityID: prodAcct},
		"is":    {ResourceScopeType: ScopeIs, ResourceEntityType: EntityAwsAccount},
		"is_in": {ResourceScopeType: ScopeIsIn, ResourceEntityType: EntityAwsAccount, ResourceEntityID: "AwsOrganizationalUnit::" + prodOU},
	}
	for name, f := range forbids {
		t.Run("forbid "+name, func(t *testing.T) {
			f.ID, f.Priority, f.Effect = "prod-forbid", 500, EffectForbid
			ps := mustCompile(t, mkRule(t, permitAll), mkRule(t, f))
			for _, req := range []Request{bareAccount(alice()), withPermissionSet(bareAccount(alice()), testPS)} {
				d := ps.Decide(req)
				if d.Allowed || !slices.Equal(d.DecidingRuleIDs, []string{"prod-forbid"}) {
					t.Errorf("%s %s: got %+v, want denied by prod-forbid", req.Resource.Type, req.Resource.ID, d)
				}
				if full := ps.DecideFullScan(req); !reflect.DeepEqual(full, d) {
					t.Errorf("full scan %+v differs from indexed %+v", full, d)
				}
			}
			// Another account is not governed by it (except "is", which names every account).
			other := bareAccount(alice())
			other.Resource = Resource{Type: EntityAwsPermissionSet, ID: testPS, AccountID: "333333333333", OUID: "ou-ab12-dev00001"}
			if d := ps.Decide(other); (name == "is") == d.Allowed {
				t.Errorf("other account: got %+v", d)
			}
		})
	}

	t.Run("permit eq account", func(t *testing.T) {
		ps := mustCompile(t, mkRule(t, Rule{ID: "prod-auto", Priority: 100, Effect: EffectPermit, ApprovalMode: ModeAuto,
			ResourceScopeType: ScopeEq, ResourceEntityType: EntityAwsAccount, ResourceEntityID: prodAcct}))
		for _, req := range []Request{bareAccount(alice()), withPermissionSet(bareAccount(alice()), testPS)} {
			if d := ps.Decide(req); !d.Allowed || d.Mode != ModeAuto {
				t.Errorf("%s: got %+v, want auto", req.Resource.Type, d)
			}
		}
	})

	t.Run("rule on a permission set", func(t *testing.T) {
		ps := mustCompile(t, mkRule(t, Rule{ID: "ps-auto", Priority: 100, Effect: EffectPermit, ApprovalMode: ModeAuto,
			ResourceScopeType: ScopeEq, ResourceEntityType: EntityAwsPermissionSet, ResourceEntityID: testPS}))
		if d := ps.Decide(withPermissionSet(bareAccount(alice()), testPS)); !d.Allowed {
			t.Errorf("its permission set: got %+v, want allowed", d)
		}
		if d := ps.Decide(withPermissionSet(bareAccount(alice()), testPS2)); d.Allowed {
			t.Errorf("another permission set: got %+v, want denied", d)
		}
		if d := ps.Decide(bareAccount(alice())); d.Allowed {
			t.Errorf("the bare account: got %+v, want denied", d)
		}
	})
}

func TestAccountScopeNote(t *testing.T) {
	for _, c := range []struct {
		scope, typ string
		noted      bool
	}{
		{ScopeEq, EntityAwsAccount, true}, {ScopeIs, EntityAwsAccount, true}, {ScopeIsIn, EntityAwsAccount, true},
		{ScopeIn, EntityAwsAccount, false}, {ScopeEq, EntityAwsPermissionSet, false}, {ScopeAny, "", false},
	} {
		got := AccountScopeNote(Rule{ResourceScopeType: c.scope, ResourceEntityType: c.typ, ResourceEntityID: prodAcct})
		if (got != "") != c.noted {
			t.Errorf("%s %s: note %q", c.scope, c.typ, got)
		}
	}
}

// accountLevel: the rule's resource scope is about accounts (not a
// permission set, bucket, OU or anything else).
func accountLevel(r Rule) bool { return r.ResourceEntityType == EntityAwsAccount }

// namesPermissionSet: the rule's resource scope can only match a
// permission set request.
func namesPermissionSet(r Rule) bool { return r.ResourceEntityType == EntityAwsPermissionSet }

// TestPermissionSetNeverSidestepsAccountForbid is the property: over
// random (rule set, request) pairs, adding a permission set to a request
// for an account never turns a denial by an account-level forbid into a
// permit. The only thing allowed to decide the permission-set request
// instead is a higher-priority rule that names permission sets.
func TestPermissionSetNeverSidestepsAccountForbid(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 17))
	pairs, denials := 0, 0
	for range 40 {
		p, d := checkNoSidestep(t, rng, 60, 40)
		pairs, denials = pairs+p, denials+d
	}
	if pairs < 1000 || denials < 100 {
		t.Fatalf("%d pairs, %d account-level denials: the property is not exercised", pairs, denials)
	}
	t.Logf("%d pairs, %d denied by an account-level forbid", pairs, denials)
}

// FuzzPermissionSetNeverSidesteps: the same property from fuzzed seeds.
func FuzzPermissionSetNeverSidesteps(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(9), uint64(17))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		checkNoSidestep(t, rand.New(rand.NewPCG(a, b)), 30, 20)
	})
}

// checkNoSidestep compiles one random rule set and checks n request pairs;
// it returns the pairs checked and how many were denied by an account-level
// forbid.
func checkNoSidestep(t *testing.T, rng *rand.Rand, nRules, n int) (pairs, denials int) {
	t.Helper()
	u := newUniverse(rng, 40, 8, 12, 4, 30)
	rules := accountHeavyRules(t, rng, u, nRules)
	ps := mustCompile(t, rules...)
	byID := map[string]Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}
	for range n {
		pairs++
		bare := u.randomRequest(rng)
		acct := u.accounts[rng.IntN(len(u.accounts))]
		bare.Resource = Resource{Type: EntityAwsAccount, ID: acct, OUID: u.acctOU[acct]}
		withPS := withPermissionSet(bare, u.permSets[rng.IntN(len(u.permSets))])
		d1, d2 := ps.Decide(bare), ps.Decide(withPS)
		if d1.Allowed || d1.Tier == nil || len(d1.Errors) > 0 {
			continue
		}
		accountForbid := false
		for _, id := range d1.DecidingRuleIDs {
			accountForbid = accountForbid || (byID[id].Effect == EffectForbid && accountLevel(byID[id]))
		}
		if !accountForbid {
			continue
		}
		denials++
		if !d2.Allowed {
			continue
		}
		if *d2.Tier <= *d1.Tier {
			t.Fatalf("%+v denied by %v (tier %d) but with permission set %s allowed by %v at tier %d",
				bare.Resource, d1.DecidingRuleIDs, *d1.Tier, withPS.Resource.ID, d2.DecidingRuleIDs, *d2.Tier)
		}
		for _, id := range d2.DecidingRuleIDs {
			if !namesPermissionSet(byID[id]) {
				t.Fatalf("the permission set turned a denial by %v into a permit by %v, which does not name permission sets",
					d1.DecidingRuleIDs, d2.DecidingRuleIDs)
			}
		}
	}
	return pairs, denials
}

// TestPermissionSetIsInvisibleToAccountRules: with rules that do not name
// permission sets, a request for a permission set on an account gets
// exactly the decision of the bare account.
func TestPermissionSetIsInvisibleToAccountRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	u := newUniverse(rng, 40, 8, 12, 4, 30)
	pairs := 0
	for range 25 {
		var rules []Rule
		for _, r := range accountHeavyRules(t, rng, u, 60) {
			if !namesPermissionSet(r) {
				rules = append(rules, r)
			}
		}
		ps := mustCompile(t, rules...)
		for range 50 {
			pairs++
			bare := u.randomRequest(rng)
			acct := u.accounts[rng.IntN(len(u.accounts))]
			bare.Resource = Resource{Type: EntityAwsAccount, ID: acct, OUID: u.acctOU[acct]}
			withPS := withPermissionSet(bare, u.permSets[rng.IntN(len(u.permSets))])
			d1, d2 := ps.Decide(bare), ps.Decide(withPS)
			if !reflect.DeepEqual(d1, d2) {
				t.Fatalf("bare account %+v:\n%+v\nwith permission set %s:\n%+v", bare.Resource, d1, withPS.Resource.ID, d2)
			}
		}
	}
	if pairs < 1000 {
		t.Fatalf("only %d pairs", pairs)
	}
}

// accountHeavyRules: random rules, a third of them account-level (every
// scope kind naming accounts), the rest from randomRules (permission sets,
// OUs, buckets, any).
func accountHeavyRules(t *testing.T, rng *rand.Rand, u *universe, n int) []Rule {
	t.Helper()
	base := u.randomRules(rng, n)
	out := make([]Rule, 0, n)
	for i, r := range base {
		r.ID = fmt.Sprintf("r%03d", i)
		if i%3 == 0 {
			acct := u.accounts[rng.IntN(len(u.accounts))]
			switch rng.IntN(4) {
			case 0:
				r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeEq, EntityAwsAccount, acct
			case 1:
				r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIn, EntityAwsAccount, acct
			case 2:
				r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIs, EntityAwsAccount, ""
			default:
				r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIsIn, EntityAwsAccount, "AwsOrganizationalUnit::"+u.acctOU[acct]
			}
			if rng.IntN(2) == 0 {
				r.Effect, r.ApprovalMode, r.ApprovalTimeout, r.ApprovalsRequired = EffectForbid, "", "", 0
			}
		}
		n, err := Normalize(r)
		if err != nil {
			t.Fatalf("rule %s: %v", r.ID, err)
		}
		out = append(out, n)
	}
	return out
}
