package providers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Reconcile runs the Identity Center drift reconciler for every tenant
// with AWS settings (the reconcile-assignments function, on an EventBridge
// schedule). What it repaired or removed is audited (drift.detected) every
// time; unexpected assignments — made outside jitsudo, left alone — are
// audited when the set of them changes, not on every run. Safe to run
// twice at once: the reconciler is idempotent.
type Reconcile struct {
	Store    *store.Store
	Provider *identitycenter.Provider
	Audit    interface {
		RecordDrift(ctx context.Context, tenantID string, meta map[string]any) error
	}
	Logger *slog.Logger
}

// maxListed bounds the assignments an audit event lists.
const maxListed = 50

// Run reconciles every configured tenant; one tenant's failure does not
// stop the others (it is logged and returned joined with the rest).
func (r Reconcile) Run(ctx context.Context) (map[string]identitycenter.Report, error) {
	tenants, err := r.Store.TenantsWithAWSSettings(ctx)
	if err != nil {
		return nil, err
	}
	rec := &identitycenter.Reconciler{Provider: r.Provider, Records: r.Store, Grants: identitycenter.RepoGrants{Repo: r.Store}, Logger: r.Logger}
	out := map[string]identitycenter.Report{}
	var failed []string
	for _, t := range tenants {
		log := r.Logger.With("tenant_id", t)
		rep, err := rec.Reconcile(ctx, t)
		if err != nil {
			log.ErrorContext(ctx, "reconcile failed", "error", err.Error())
			failed = append(failed, t+": "+err.Error())
			continue
		}
		out[t] = rep
		if err := r.audit(ctx, t, rep); err != nil {
			log.ErrorContext(ctx, "audit of drift failed", "error", err.Error())
			failed = append(failed, t+": "+err.Error())
		}
		log.InfoContext(ctx, "reconciled", "repaired", len(rep.Repaired), "removed", len(rep.Removed),
			"unexpected", len(rep.Unexpected), "errors", len(rep.Errors))
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("providers: reconcile failed for %d tenant(s): %s", len(failed), strings.Join(failed, "; "))
	}
	return out, nil
}

func (r Reconcile) audit(ctx context.Context, tenant string, rep identitycenter.Report) error {
	unexpected := slices.Sorted(slices.Values(rep.Unexpected))
	errs := slices.Sorted(slices.Values(rep.Errors))
	// What keeps coming back run after run (assignments made outside
	// jitsudo, a tenant role that is broken) is reported once, and again
	// when it changes; repairs and removals every time.
	h := sha256.Sum256([]byte(strings.Join(unexpected, "\n") + "\x00" + strings.Join(errs, "\n")))
	changed, err := r.Store.SwapDriftDigest(ctx, tenant, hex.EncodeToString(h[:]))
	if err != nil {
		return err
	}
	if len(rep.Repaired) == 0 && len(rep.Removed) == 0 && (!changed || len(unexpected)+len(errs) == 0) {
		return nil
	}
	meta := map[string]any{
		"repaired_count": len(rep.Repaired), "removed_count": len(rep.Removed), "unexpected_count": len(unexpected),
		"error_count": len(errs),
	}
	// Lists only when non-empty: the audit hash is over the stored
	// metadata, and an empty list is not stored alike by every
	// DynamoDB-API server.
	for k, v := range map[string][]string{"repaired": rep.Repaired, "removed": rep.Removed, "unexpected": unexpected, "errors": errs} {
		if len(v) > 0 {
			meta[k] = v[:min(len(v), maxListed)]
		}
	}
	return r.Audit.RecordDrift(ctx, tenant, meta)
}

var _ interface {
	RecordDrift(ctx context.Context, tenantID string, meta map[string]any) error
} = (*access.Service)(nil)

// ReconcileResult is what one scheduled run did, per tenant.
type ReconcileResult struct {
	Tenants map[string]identitycenter.Report `json:"tenants"`
	Failed  string                           `json:"failed,omitempty"`
}

// Handle is the scheduled Lambda handler (the EventBridge event carries
// nothing it needs). A tenant that failed is logged and audited, not
// returned as the invocation's error: Lambda would retry the scheduled
// event, i.e. reconcile every tenant again, and the next run comes anyway.
// Only a failure to list the tenants fails the invocation.
func (r Reconcile) Handle(ctx context.Context) (ReconcileResult, error) {
	reports, err := r.Run(ctx)
	if reports == nil && err != nil {
		return ReconcileResult{}, err
	}
	res := ReconcileResult{Tenants: reports}
	if err != nil {
		res.Failed = err.Error()
	}
	return res, nil
}

// NewReconcile is the reconciler over the table s and the Identity Center
// provider p, recording drift in the audit log through audit (the
// reconcile-assignments function: wiring.Reconciler).
func NewReconcile(s *store.Store, p *identitycenter.Provider, audit *access.Service, logger *slog.Logger) Reconcile {
	return Reconcile{Store: s, Provider: p, Audit: audit, Logger: logger}
}
