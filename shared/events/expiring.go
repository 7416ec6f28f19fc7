package events

import (
	"fmt"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// GrantSummary is the Grant summary of g as it is now.
func GrantSummary(g access.Grant) *Grant {
	return &Grant{
		ID: g.ID, RequestID: g.RequestID, Status: g.Status, GranteeID: g.GranteeID, GranteeEmail: g.GranteeEmail,
		Resource:         Resource{Type: g.Resource.Type, ID: g.Resource.ID, AccountID: g.Resource.AccountID},
		PermissionSetARN: g.PermissionSetARN, BreakGlass: g.BreakGlass,
		GrantedAt: utcPtr(g.GrantedAt), ExpiresAt: utcPtr(g.ExpiresAt),
		FailureReason: g.FailureReason, RevokedBy: g.RevokedBy,
	}
}

// ExpiringSoon is the grant.expiring_soon event of an active grant g,
// published by the workflow (not from the audit log: it is no state
// change). Its id is derived from the grant and its end, so a retried
// publish is the same event for consumers, and an extended grant's new
// end gets a notice of its own.
func ExpiringSoon(g access.Grant, links LinkBuilder, now time.Time) Event {
	var end int64
	if g.ExpiresAt != nil {
		end = g.ExpiresAt.Unix()
	}
	sev := SeverityInfo
	if g.BreakGlass {
		sev = SeverityCritical
	}
	ev := Event{
		Version: Version, ID: fmt.Sprintf("evt_%s_expiring_%d", g.ID, end), Type: GrantExpiringSoon,
		TenantID: g.TenantID, Severity: sev, OccurredAt: now.UTC(),
		Actor: Actor{ID: access.ActorTypeSystem, Type: access.ActorTypeSystem},
		Grant: GrantSummary(g),
	}
	if links != nil {
		ev.Links = links.Links(g.TenantID, g.RequestID, g.ID)
	}
	return ev
}
