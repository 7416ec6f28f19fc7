package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Overdue lists what the sweeper index holds (*store.Store).
type Overdue interface {
	ListOverdue(ctx context.Context, kind string, before time.Time, limit int) ([]store.Overdue, error)
}

// SweepService is what the sweeper needs of *access.Service: the same
// conditional, idempotent transitions the workflow uses.
type SweepService interface {
	ExpireRequest(ctx context.Context, tenantID, requestID string) (access.Request, error)
	FailGrant(ctx context.Context, tenantID, grantID, reason string) (access.Grant, error)
	ExpireGrant(ctx context.Context, tenantID, grantID string) (access.Grant, error)
	RecordRevokeFailure(ctx context.Context, tenantID, grantID, reason string) (access.Grant, error)
}

// Defaults of the sweeper (env SWEEP_GRACE, PROVISIONING_BUDGET).
const (
	// DefaultSweepGrace is how long after its end (or approval deadline)
	// an item is left to its workflow before the sweeper acts. With the
	// default schedule (every minute) no grant stays active more than
	// about 2 minutes past its end.
	DefaultSweepGrace = time.Minute
	// DefaultProvisioningBudget is how long a grant may stay provisioning:
	// well above the Provision state's retries (5 attempts, ≤ 60 s apart,
	// each bounded by the worker's 120 s Lambda timeout).
	DefaultProvisioningBudget = 15 * time.Minute
	// sweepLimit bounds what one run handles per kind; the rest waits for
	// the next run (oldest first).
	sweepLimit = 200
)

// Sweeper finishes what is overdue (the sweep-overdue function, on an
// EventBridge schedule): grants past their end (+ Grace) are revoked and
// expired, revoke_failed grants are retried when their back-off is over,
// pending requests past their approval deadline (+ Grace) are expired,
// and grants provisioning for longer than ProvisioningBudget are failed
// (any partial assignment revoked). It finds them by the sparse index of
// overdue items (store.ListOverdue), never by a scan: a run's cost
// follows the overdue items, not the table. Every action is a conditional
// transition of access.Service, so a sweep racing its workflow (or
// another sweep) changes nothing twice. Whatever it finds is work the
// workflow should have done: counted in the SweeperFindings metric.
type Sweeper struct {
	Index   Overdue
	Service SweepService
	Logger  *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Grace (0: DefaultSweepGrace) and ProvisioningBudget (0:
	// DefaultProvisioningBudget).
	Grace, ProvisioningBudget time.Duration
}

// SweepResult is what one run did.
type SweepResult struct {
	Found        map[string]int `json:"found"`         // by kind
	Expired      int            `json:"expired"`       // grants revoked and expired
	RevokeFailed int            `json:"revoke_failed"` // revokes that failed (retried later)
	Requests     int            `json:"requests"`      // requests expired
	Failed       int            `json:"failed"`        // stalled provisioning failed
	Errors       []string       `json:"errors,omitempty"`
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Sweeper) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Run sweeps once. One item's failure does not stop the others; they are
// reported in SweepResult.Errors. Only a failure to read the index is
// returned as an error.
func (s *Sweeper) Run(ctx context.Context) (SweepResult, error) {
	grace, budget := s.Grace, s.ProvisioningBudget
	if grace <= 0 {
		grace = DefaultSweepGrace
	}
	if budget <= 0 {
		budget = DefaultProvisioningBudget
	}
	now := s.now()
	res := SweepResult{Found: map[string]int{}}
	var readErrs []error
	kinds := []struct {
		kind   string
		before time.Time
	}{
		{access.SweepEnd, now.Add(-grace)},
		{access.SweepRevokeRetry, now},
		{access.SweepApproval, now.Add(-grace)},
		{access.SweepProvisioning, now.Add(-budget)},
	}
	for _, k := range kinds {
		items, err := s.Index.ListOverdue(ctx, k.kind, k.before, sweepLimit)
		if err != nil {
			readErrs = append(readErrs, err)
			continue
		}
		res.Found[k.kind] = len(items)
		for _, it := range items {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			s.handle(ctx, it, budget, &res)
		}
	}
	findings := 0
	for _, n := range res.Found {
		findings += n
	}
	// revoke_retry items are the sweeper's own work, not a finding.
	findings -= res.Found[access.SweepRevokeRetry]
	EmitMetrics(ctx, s.Logger, map[string]float64{MetricSweeperFindings: float64(findings), MetricRevokeFailures: float64(res.RevokeFailed)})
	if findings > 0 || res.RevokeFailed > 0 || len(res.Errors) > 0 {
		s.log().WarnContext(ctx, "sweep found overdue work", "found", res.Found, "expired", res.Expired,
			"revoke_failed", res.RevokeFailed, "requests", res.Requests, "failed", res.Failed, "errors", len(res.Errors))
	}
	return res, errors.Join(readErrs...)
}

func (s *Sweeper) handle(ctx context.Context, it store.Overdue, budget time.Duration, res *SweepResult) {
	log := s.log().With("tenant_id", it.TenantID, "kind", it.Kind, "due_at", it.DueAt)
	fail := func(err error) {
		res.Errors = append(res.Errors, fmt.Sprintf("%s %s/%s: %v", it.Kind, it.TenantID, it.ID, err))
		log.ErrorContext(ctx, "sweep of an overdue item failed", "id", it.ID, "error", err.Error())
	}
	switch it.Kind {
	case access.SweepEnd, access.SweepRevokeRetry:
		log = log.With("grant_id", it.ID)
		g, err := s.Service.ExpireGrant(ctx, it.TenantID, it.ID)
		if err == nil {
			if g.Status == access.GrantExpired || g.Status == access.GrantRevoked {
				res.Expired++
				log.WarnContext(ctx, "swept a grant past its end", "status", g.Status)
			}
			return
		}
		if errors.Is(err, access.ErrNotFound) {
			fail(err)
			return
		}
		res.RevokeFailed++
		log.ErrorContext(ctx, "revoke of a grant past its end failed", "error", err.Error())
		if _, rerr := s.Service.RecordRevokeFailure(ctx, it.TenantID, it.ID, "revoke failed: "+err.Error()); rerr != nil {
			fail(rerr)
		}
	case access.SweepApproval:
		r, err := s.Service.ExpireRequest(ctx, it.TenantID, it.ID)
		if err != nil {
			fail(err)
			return
		}
		if r.Status == access.StatusExpired {
			res.Requests++
			log.WarnContext(ctx, "swept a request past its approval deadline", "request_id", it.ID)
		}
	case access.SweepProvisioning:
		g, err := s.Service.FailGrant(ctx, it.TenantID, it.ID,
			fmt.Sprintf("provisioning did not complete within %s (its workflow stopped or stalled); ended by the sweeper", budget))
		if err != nil {
			fail(err)
			return
		}
		if g.Status == access.GrantFailed {
			res.Failed++
			log.WarnContext(ctx, "swept a grant stuck provisioning", "grant_id", it.ID)
		}
	default:
		fail(fmt.Errorf("unknown kind"))
	}
}

// Handle is the scheduled Lambda handler. Failures of single items are
// in the result (the next run retries them); a failed index read fails
// the invocation.
func (s *Sweeper) Handle(ctx context.Context) (SweepResult, error) {
	return s.Run(ctx)
}
