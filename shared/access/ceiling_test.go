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

// A reviewed extension is checked again when its final approval commits:
// the grant may have grown meanwhile (here by automatic short extensions)
// so far that it no longer fits the tenant's maximum or the policy's
// bound on the total. It is then denied by policy, with the reason, the
// grant untouched and the extension guard released.
func TestExtendReviewedAfterGrantGrew(t *testing.T) {
	// On prod, extensions up to 30 minutes are automatic (tier 30); longer
	// ones need a reviewer (tier 20), within total.
	rules := func(t *testing.T, requireWhen string) []policy.Rule {
		return []policy.Rule{
			extendRule(t, "ext-prod-short", 30, acctProd, policy.ModeAuto, "when { context.duration_seconds <= 1800 }"),
			extendRule(t, "ext-prod-review", 20, acctProd, policy.ModeRequire, requireWhen),
		}
	}
	// grow: a pending 1h extension of a 1h grant, then two automatic 30m
	// extensions: the grant lasts 2h, the pending one would make it 3h.
	grow := func(t *testing.T, e *env) (access.Grant, access.Request) {
		t.Helper()
		ctx := context.Background()
		g := activeGrant(t, e, alice, acctProd)
		res, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 3600, Justification: "incident still open"})
		if err != nil || res.Request.Status != access.StatusPending {
			t.Fatalf("pending extension: %+v %v", res.Request, err)
		}
		for range 2 {
			if r, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 1800, Justification: "a bit longer"}); err != nil || r.Request.Status != access.StatusApproved {
				t.Fatalf("automatic extension meanwhile: %+v %v", r.Request, err)
			}
		}
		if got := totalOf(t, e, g.ID); got != 2*time.Hour {
			t.Fatalf("grant lasts %v", got)
		}
		return g, res.Request
	}
	// denied: the approval was refused; the request is denied by policy
	// with reason, the grant still lasts 2h, a new extension may be asked.
	denied := func(t *testing.T, e *env, g access.Grant, r access.Request, reason string) {
		t.Helper()
		ctx := context.Background()
		got, err := e.store.GetRequest(ctx, tenantA, r.ID)
		if err != nil || got.Status != access.StatusDenied || got.DecidedBy != access.DecidedByPolicy || !strings.Contains(got.DecisionReasoning, reason) ||
			len(got.Reviews) != 1 || got.Reviews[0].ReviewerID != "bob" {
			t.Fatalf("refused extension request: %+v %v", got, err)
		}
		if total := totalOf(t, e, g.ID); total != 2*time.Hour {
			t.Fatalf("refused extension moved the grant: it lasts %v", total)
		}
		if _, err := e.svc.Approve(ctx, carol, r.ID, ""); !errors.Is(err, access.ErrConflict) {
			t.Fatalf("approve the denied extension again: %v", err)
		}
		res, err := e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 600, Justification: "ten more minutes"})
		if err != nil || res.Request.Status != access.StatusApproved {
			t.Fatalf("the guard of the refused extension must be released: %+v %v", res.Request, err)
		}
		msgs, _, err := e.svc.ListMessages(ctx, alice, r.ID, access.Page{})
		if err != nil || len(msgs) == 0 || !strings.Contains(msgs[len(msgs)-1].Body, reason) {
			t.Fatalf("messages of the refused extension: %+v %v", msgs, err)
		}
		if v := verify(t, e, tenantA); !v.Valid {
			t.Fatalf("audit chain: %+v", v)
		}
	}

	t.Run("tenant maximum", func(t *testing.T) {
		e := newEnv(t)
		withRules(t, e, rules(t, "")...)
		setMaxGrantDuration(t, e, 150*60) // 2h30m: the pending extension fitted when asked
		g, r := grow(t, e)
		_, err := e.svc.Approve(context.Background(), bob, r.ID, "ok")
		var lim *access.DurationLimitError
		if !errors.As(err, &lim) || lim.RequestID != r.ID || lim.TotalSeconds != 3*3600 || lim.MaxSeconds != 9000 {
			t.Fatalf("approval beyond the tenant's maximum: %v", err)
		}
		denied(t, e, g, r, "maximum grant duration of 2h30m0s")
	})
	t.Run("policy total", func(t *testing.T) {
		e := newEnv(t)
		withRules(t, e, rules(t, "when { context.total_duration_seconds <= 9000 }")...)
		g, r := grow(t, e)
		_, err := e.svc.Approve(context.Background(), bob, r.ID, "ok")
		var pd *access.PolicyDeniedError
		if !errors.As(err, &pd) || pd.Request.ID != r.ID || pd.Request.Status != access.StatusDenied {
			t.Fatalf("approval beyond the policy's total: %v", err)
		}
		denied(t, e, g, r, "policy no longer permits this extension")
	})
	t.Run("still fits", func(t *testing.T) {
		e := newEnv(t)
		withRules(t, e, rules(t, "when { context.total_duration_seconds <= 10800 }")...)
		setMaxGrantDuration(t, e, 3*3600)
		g, r := grow(t, e)
		if ap, err := e.svc.Approve(context.Background(), bob, r.ID, "ok"); err != nil || ap.Status != access.StatusApproved {
			t.Fatalf("approval within both bounds: %+v %v", ap, err)
		}
		if total := totalOf(t, e, g.ID); total != 3*time.Hour {
			t.Fatalf("grant lasts %v, want 3h", total)
		}
	})
}
