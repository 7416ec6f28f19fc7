package access_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Extensions have a ceiling: policy sees the grant's total duration after
// the extension (context.total_duration_seconds), the tenant's maximum
// grant duration bounds every grant, and neither can be outrun by
// parallel extensions or by a review that approves an extension after the
// grant grew meanwhile.

// withRules replaces e's policies by testRules plus extra.
func withRules(t *testing.T, e *env, extra ...policy.Rule) {
	t.Helper()
	ps, err := policy.Compile(append(testRules(t), extra...))
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Policies = func(context.Context, string) (*policy.PolicySet, error) { return ps, nil }
}

func extendRule(t *testing.T, id string, prio int, account, mode, conditions string) policy.Rule {
	r := policy.Rule{ID: id, Priority: prio, Effect: policy.EffectPermit,
		ActionScopeType: policy.ScopeEq, ActionIDs: []string{policy.ActionExtendGrant},
		ResourceScopeType: policy.ScopeIn, ResourceEntityType: policy.EntityAwsAccount, ResourceEntityID: account,
		Conditions: conditions, ApprovalMode: mode}
	if mode == policy.ModeRequire {
		r.ApprovalTimeout = "30m"
	}
	return mustRule(t, r)
}

// setMaxGrantDuration saves the tenant's settings with that maximum.
func setMaxGrantDuration(t *testing.T, e *env, seconds int64) {
	t.Helper()
	ctx := context.Background()
	v := store.AWSSettings{TenantID: tenantA, InstanceARN: "arn:aws:sso:::instance/ssoins-1111111111111111",
		IdentityStoreID: "d-1234567890", Region: "eu-west-1", RoleARN: "arn:aws:iam::111111111111:role/jitsudo",
		ExternalID: "ext-1", UserAttribute: "user_name", MaxGrantDurationSeconds: seconds, UpdatedAt: time.Now().UTC(), UpdatedBy: "root"}
	cur, err := e.store.GetAWSSettings(ctx, tenantA)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := e.store.PutAWSSettings(ctx, v, cur.Version); err != nil {
		t.Fatal(err)
	}
}

func totalOf(t *testing.T, e *env, grantID string) time.Duration {
	t.Helper()
	g, err := e.store.GetGrant(context.Background(), tenantA, grantID)
	if err != nil {
		t.Fatal(err)
	}
	return g.ExpiresAt.Sub(*g.GrantedAt)
}

// parallelExtend runs n extensions of seconds each at once and sorts the
// outcomes: extended, denied by policy, refused by the tenant's maximum,
// lost the race (ErrConflict); anything else fails the test.
func parallelExtend(t *testing.T, e *env, c access.Caller, grantID string, n int, seconds int64) (ok, denied, limited, conflict int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = e.svc.ExtendGrant(context.Background(), c, grantID, access.ExtendInput{DurationSeconds: seconds, Justification: "the migration is still running"})
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		var pd *access.PolicyDeniedError
		var lim *access.DurationLimitError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &pd):
			denied++
		case errors.As(err, &lim):
			limited++
		case errors.Is(err, access.ErrConflict):
			conflict++
		default:
			t.Fatalf("extension failed: %v", err)
		}
	}
	return ok, denied, limited, conflict
}

// The incident: a rule bounds the grant's life at 4h; twenty automatic
// extensions at once must not take it past that. The increment stays in
// context.duration_seconds, the grant's total after the extension is
// context.total_duration_seconds, both from the read the write is
// conditioned on.
func TestExtendParallelNeverPassesPolicyTotal(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	withRules(t, e, extendRule(t, "ext-dev-4h", 20, acctDev, policy.ModeAuto,
		"when { context.duration_seconds <= 3600 && context.total_duration_seconds <= 14400 }"))
	g := activeGrant(t, e, alice, acctDev) // 1h
	if got := totalOf(t, e, g.ID); got != time.Hour {
		t.Fatalf("grant lasts %v", got)
	}

	ok, denied, limited, conflict := parallelExtend(t, e, alice, g.ID, 20, 1800)
	t.Logf("20 parallel 30m extensions: %d extended, %d denied, %d over the tenant maximum, %d conflicts", ok, denied, limited, conflict)
	if ok != 6 || denied+conflict != 14 || limited != 0 {
		t.Fatalf("%d extended, %d denied, %d conflicts: exactly the 6 that fit in 4h must succeed", ok, denied, conflict)
	}
	if got := totalOf(t, e, g.ID); got != 4*time.Hour {
		t.Fatalf("grant lasts %v after parallel extensions, want exactly 4h", got)
	}
	evs, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditGrantExtended}, access.Page{Limit: 100})
	if err != nil || len(evs) != ok {
		t.Fatalf("%d grant.extended events for %d extensions (%v)", len(evs), ok, err)
	}

	// The increment is still context.duration_seconds: on a fresh grant
	// (1h) a 90-minute extension fits the total but not the increment.
	g2 := activeGrant(t, e, carol, acctDev)
	var pd *access.PolicyDeniedError
	if _, err := e.svc.ExtendGrant(ctx, carol, g2.ID, access.ExtendInput{DurationSeconds: 5400, Justification: "more"}); !errors.As(err, &pd) || pd.Request.Status != access.StatusDenied {
		t.Fatalf("increment beyond the rule's bound: %v", err)
	}
	// Nothing more fits: even a minute past 4h is denied.
	if _, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 60, Justification: "one more minute"}); !errors.As(err, &pd) {
		t.Fatalf("a minute past 4h: %v", err)
	}
	if v := verify(t, e, tenantA); !v.Valid {
		t.Fatalf("audit chain: %+v", v)
	}
}

// The tenant's maximum grant duration bounds extensions (whatever policy
// permits) and new requests; under twenty parallel extensions too.
func TestTenantMaxGrantDuration(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	withRules(t, e, extendRule(t, "ext-dev-auto", 20, acctDev, policy.ModeAuto, "when { context.duration_seconds <= 7200 }"))
	setMaxGrantDuration(t, e, 2*3600)

	g := activeGrant(t, e, alice, acctDev) // 1h
	if _, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 1800, Justification: "a bit longer"}); err != nil {
		t.Fatal(err)
	}
	var lim *access.DurationLimitError
	_, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 3600, Justification: "much longer"})
	if !errors.As(err, &lim) || lim.MaxSeconds != 7200 || lim.TotalSeconds != 9000 || !strings.Contains(err.Error(), "maximum grant duration of 2h0m0s (7200 seconds)") {
		t.Fatalf("extension beyond the tenant's maximum: %v", err)
	}
	if got := totalOf(t, e, g.ID); got != 90*time.Minute {
		t.Fatalf("refused extension changed the grant: %v", got)
	}
	// Up to the maximum exactly is fine.
	if _, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 1800, Justification: "last bit"}); err != nil {
		t.Fatal(err)
	}
	// A new request beyond the maximum is refused before policy.
	in := psInput(acctDev)
	in.DurationSeconds = 3 * 3600
	if _, err := e.svc.Create(ctx, carol, in, ""); !errors.As(err, &lim) || lim.TotalSeconds != 3*3600 {
		t.Fatalf("request beyond the tenant's maximum: %v", err)
	}

	// Twenty at once on a fresh 1h grant, 10 minutes each: exactly six fit.
	g2 := activeGrant(t, e, carol, acctDev)
	ok, denied, limited, conflict := parallelExtend(t, e, carol, g2.ID, 20, 600)
	t.Logf("20 parallel 10m extensions: %d extended, %d over the maximum, %d conflicts", ok, limited, conflict)
	if ok != 6 || denied != 0 || limited+conflict != 14 {
		t.Fatalf("%d extended, %d denied, %d over the maximum, %d conflicts: exactly the 6 that fit in 2h must succeed", ok, denied, limited, conflict)
	}
	if total := totalOf(t, e, g2.ID); total != 2*time.Hour {
		t.Fatalf("grant lasts %v after parallel extensions, want exactly the tenant's maximum of 2h", total)
	}
}
