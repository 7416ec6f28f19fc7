package policy

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestIndexedEqualsFullScan: the indexed path must give exactly the
// full-scan decision (allowed, mode, timeout, approvals, deciding ids, tier,
// reason, notices, errors) on >= 1,000 random requests over a random
// 1,000-rule set, including rules that error at run time.
func TestIndexedEqualsFullScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	u := newUniverse(rng, 300, 40, 100, 10, 400)
	var rules []Rule
	for _, r := range u.randomRules(rng, 1000) {
		n, err := Normalize(r)
		if err != nil {
			t.Fatalf("generated rule %s invalid: %v", r.ID, err)
		}
		rules = append(rules, n)
	}
	ps := mustCompile(t, rules...)
	stats := map[string]int{}
	for i := range 3000 {
		req := u.randomRequest(rng)
		got, want := ps.Decide(req), ps.DecideFullScan(req)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("request %d %+v:\nindexed  %+v\nfullscan %+v", i, req, got, want)
		}
		switch {
		case len(got.Errors) > 0:
			stats["error"]++
		case got.Allowed:
			stats["allowed-"+got.Mode]++
		case got.Tier != nil:
			stats["forbidden"]++
		default:
			stats["no-policy"]++
		}
	}
	t.Logf("outcomes: %v", stats)
	for _, k := range []string{"error", "allowed-auto", "allowed-require", "allowed-break_glass", "forbidden", "no-policy"} {
		if stats[k] < 10 {
			t.Errorf("outcome %q seen only %d times; the test does not exercise it", k, stats[k])
		}
	}
}
