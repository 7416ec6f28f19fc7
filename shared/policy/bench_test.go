package policy

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	cedar "github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"
)

// benchFixture: 1,000 rules (10% forbids; == user / in group / in account
// scopes; duration, time and justification conditions) over a directory of
// 10,000 entities (5,000 users, 200 groups, 1,000 accounts, 20 OUs, 3,780
// permission sets), and 1,024 requests drawn from it.
type benchFixture struct {
	u        *universe
	rules    []Rule
	ps       *PolicySet
	entities types.EntityMap
	reqs     []Request
	creqs    []cedar.Request
}

var (
	benchOnce sync.Once
	benchFix  *benchFixture
)

func getBenchFixture(tb testing.TB) *benchFixture {
	benchOnce.Do(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		f := &benchFixture{u: newUniverse(rng, 5000, 200, 1000, 20, 3780)}
		for _, r := range f.u.benchRules(rng, 1000) {
			n, err := Normalize(r)
			if err != nil {
				panic(err)
			}
			f.rules = append(f.rules, n)
		}
		ps, err := Compile(f.rules)
		if err != nil {
			panic(err)
		}
		f.ps = ps
		f.entities = f.u.entityMap()
		for range 1024 {
			r := f.u.request(rng)
			f.reqs = append(f.reqs, r)
			p := prepare(r)
			f.creqs = append(f.creqs, p.creq)
		}
		benchFix = f
	})
	return benchFix
}

func TestBenchFixtureShape(t *testing.T) {
	f := getBenchFixture(t)
	if len(f.rules) != 1000 || f.ps.Len() != 1000 {
		t.Fatalf("rules: %d compiled %d", len(f.rules), f.ps.Len())
	}
	forbids, eq, in, acct, conds := 0, 0, 0, 0, 0
	for _, r := range f.rules {
		if r.Effect == EffectForbid {
			forbids++
		}
		switch r.PrincipalScopeType {
		case ScopeEq:
			eq++
		case ScopeIn:
			in++
		}
		if r.ResourceScopeType == ScopeIn && r.ResourceEntityType == EntityAwsAccount {
			acct++
		}
		if r.Conditions != "" {
			conds++
		}
	}
	if forbids != 100 {
		t.Errorf("forbids = %d, want 100 (10%%)", forbids)
	}
	if eq < 300 || in < 300 || acct < 300 || conds < 700 {
		t.Errorf("scope mix eq=%d in=%d acct=%d conds=%d", eq, in, acct, conds)
	}
	if len(f.entities) != 10000 {
		t.Errorf("entities = %d, want 10000", len(f.entities))
	}
	// The indexed path and the full scan agree on the benchmark requests too.
	allowed := 0
	for _, r := range f.reqs {
		a, b := f.ps.Decide(r), f.ps.DecideFullScan(r)
		if a.Allowed != b.Allowed || !slices.Equal(a.DecidingRuleIDs, b.DecidingRuleIDs) || a.Reason != b.Reason {
			t.Fatalf("mismatch: %+v vs %+v", a, b)
		}
		if a.Allowed {
			allowed++
		}
	}
	t.Logf("bench requests allowed: %d/%d", allowed, len(f.reqs))
}

// BenchmarkDecide: the indexed fast path; reports the per-decision median
// as p50-ns (and p99-ns).
func BenchmarkDecide(b *testing.B) {
	f := getBenchFixture(b)
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r := f.reqs[i%len(f.reqs)]
		i++
		start := time.Now()
		d := f.ps.Decide(r)
		durs = append(durs, time.Since(start))
		_ = d
	}
	b.StopTimer()
	reportPercentiles(b, durs)
}

// BenchmarkFullScanAuthorize: the baseline, cedar.Authorize over all 1,000
// rules with the 10,000-entity map, same requests.
func BenchmarkFullScanAuthorize(b *testing.B) {
	f := getBenchFixture(b)
	set := f.ps.CedarPolicySet()
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		r := f.creqs[i%len(f.creqs)]
		i++
		start := time.Now()
		_, _ = cedar.Authorize(set, f.entities, r)
		durs = append(durs, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, durs)
}

// BenchmarkDecideFullScan: the tier-by-tier reference path (for context).
func BenchmarkDecideFullScan(b *testing.B) {
	f := getBenchFixture(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = f.ps.DecideFullScan(f.reqs[i%len(f.reqs)])
		i++
	}
}

func BenchmarkCompile1000(b *testing.B) {
	f := getBenchFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(f.rules); err != nil {
			b.Fatal(err)
		}
	}
}

func reportPercentiles(b *testing.B, durs []time.Duration) {
	if len(durs) == 0 {
		return
	}
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(durs[len(durs)*99/100].Nanoseconds()), "p99-ns")
}
