package identitycenter

import (
	"context"
	"fmt"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// Grants is what the reconciler asks about grants.
type Grants interface {
	// LiveGrants returns the tenant's active and provisioning grants.
	LiveGrants(ctx context.Context, tenantID string) ([]access.Grant, error)
	// GrantStatus returns a grant's status (consistent); a missing grant is
	// an error wrapping access.ErrNotFound.
	GrantStatus(ctx context.Context, tenantID, grantID string) (string, error)
}

// GrantRepo is the part of access.Repo RepoGrants needs (*store.Store).
type GrantRepo interface {
	ListGrants(ctx context.Context, tenantID string, q access.GrantQuery, p access.Page) ([]access.Grant, string, error)
	GetGrant(ctx context.Context, tenantID, id string) (access.Grant, error)
}

// RepoGrants answers Grants from the table. An active grant whose end has
// come (its execution failed or stopped before revoking it) is not live:
// it is reported with the status PastEnd, so the reconciler removes its
// assignment and never re-creates it. A revoke_failed grant is not live
// either. Now is the clock (nil: time.Now).
type RepoGrants struct {
	Repo GrantRepo
	Now  func() time.Time
}

// PastEnd is the status RepoGrants reports for an active grant whose end
// has come: not live.
const PastEnd = "past_end"

func (g RepoGrants) status(gr access.Grant) string {
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	if gr.Status == access.GrantActive && gr.ExpiresAt != nil && !now.Before(*gr.ExpiresAt) {
		return PastEnd
	}
	return gr.Status
}

var _ Grants = RepoGrants{}

// LiveGrants lists the active grants before their end, then the
// provisioning grants (all pages).
// The status index may lag a moment; the reconciler double-checks every
// holder it would drop with GrantStatus.
func (g RepoGrants) LiveGrants(ctx context.Context, tenantID string) ([]access.Grant, error) {
	var out []access.Grant
	for _, status := range []string{access.GrantActive, access.GrantProvisioning} {
		cursor := ""
		for {
			page, next, err := g.Repo.ListGrants(ctx, tenantID, access.GrantQuery{Status: status}, access.Page{Limit: 250, Cursor: cursor})
			if err != nil {
				return nil, fmt.Errorf("identitycenter: list %s grants: %w", status, err)
			}
			for _, gr := range page {
				if g.status(gr) == status {
					out = append(out, gr)
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return out, nil
}

// GrantStatus reads the grant.
func (g RepoGrants) GrantStatus(ctx context.Context, tenantID, grantID string) (string, error) {
	gr, err := g.Repo.GetGrant(ctx, tenantID, grantID)
	if err != nil {
		return "", err
	}
	return g.status(gr), nil
}

func live(status string) bool {
	return status == access.GrantActive || status == access.GrantProvisioning
}
