package devstack_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

type extendOut struct {
	Grant   access.Grant   `json:"grant"`
	Request access.Request `json:"extension_request"`
}

// TestLifecycleExtension: a dev grant extended at once (auto, within the
// seeded rule's 1h bound) outlives its first end — the workflow wakes at
// the old end, finds the new one and waits again — and expires at the new
// end; beyond the bound is policy_denied; a production extension waits for
// a reviewer, whose approval moves the end.
func TestLifecycleExtension(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()

	r := e.create(alice, accessRequest(devstack.DevAccount, 60, "a short debugging session"))
	g := e.waitGrant(alice, r.GrantID, access.GrantActive, quick)
	firstEnd := *g.ExpiresAt

	e.wantErr(http.StatusBadRequest, "validation_failed", "POST", "/v1/grants/"+g.ID+"/extend", alice, map[string]any{"duration_seconds": 60})
	e.wantErr(http.StatusForbidden, "policy_denied", "POST", "/v1/grants/"+g.ID+"/extend", alice,
		map[string]any{"duration_seconds": 7200, "justification": "over the bound"})
	e.wantErr(http.StatusForbidden, "forbidden", "POST", "/v1/grants/"+g.ID+"/extend", bob,
		map[string]any{"duration_seconds": 60, "justification": "not my grant"})
	x := decodeAs[extendOut](t, e.want(http.StatusOK, "POST", "/v1/grants/"+g.ID+"/extend", alice,
		map[string]any{"duration_seconds": 60, "justification": "still debugging"}))
	newEnd := firstEnd.Add(time.Minute)
	if !x.Grant.ExpiresAt.Equal(newEnd) || x.Request.Status != access.StatusApproved || x.Request.ExtendsGrantID != g.ID {
		t.Fatalf("extension: %+v", x)
	}

	// Past the first end the grant is still active, the assignment kept.
	time.Sleep(e.until(firstEnd.Add(5 * time.Second)))
	if cur := e.grant(alice, g.ID); cur.Status != access.GrantActive {
		t.Fatalf("grant at its first end: %+v", cur)
	}
	if h := e.holders(g); !slices.Equal(h, []string{g.ID}) {
		t.Fatalf("assignment holders after the first end: %v", h)
	}
	done := e.waitGrant(alice, g.ID, access.GrantExpired, e.until(newEnd)+quick)
	if done.UpdatedAt.Before(newEnd.Add(-time.Second)) {
		t.Errorf("expired at %s, before the extended end %s", done.UpdatedAt, newEnd)
	}
	ex := e.waitExecution(r.ID, quick)
	// The grant is shorter than the notice lead, so the notice worker
	// (at the first end) found no notice due and set the expiry wait to
	// the new end. (The loop through StillActive, when an extension comes
	// after the notice, is shared/workflow's TestExtendedGrantWaitsForNewEnd.)
	if ex.Status != "SUCCEEDED" || !slices.Equal(ex.States, autoStates) {
		t.Errorf("execution: %+v", ex)
	}
	findEvent(t, e.audit(admin, url.Values{"resource_id": {g.ID}}), access.AuditGrantExtended)

	// Production: the extension waits for a reviewer.
	p := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "rotate a prod secret"))
	e.waitToken(p.ID)
	pa := e.review(bob, p.ID, "approve", nil)
	pg := e.waitGrant(alice, pa.GrantID, access.GrantActive, quick)
	px := decodeAs[extendOut](t, e.want(http.StatusAccepted, "POST", "/v1/grants/"+pg.ID+"/extend", alice,
		map[string]any{"duration_seconds": 1800, "justification": "the rotation needs another half hour"}))
	if px.Request.Status != access.StatusPending || !px.Grant.ExpiresAt.Equal(*pg.ExpiresAt) {
		t.Fatalf("pending extension: %+v", px)
	}
	e.wantErr(http.StatusConflict, "duplicate_request", "POST", "/v1/grants/"+pg.ID+"/extend", alice,
		map[string]any{"duration_seconds": 600, "justification": "again"})
	e.waitToken(px.Request.ID)
	e.wantErr(http.StatusForbidden, "self_approval", "POST", "/v1/requests/"+px.Request.ID+"/approve", alice, nil)
	e.review(bob, px.Request.ID, "approve", map[string]any{"reasoning": "ok"})
	if cur := e.grant(alice, pg.ID); !cur.ExpiresAt.Equal(pg.ExpiresAt.Add(30 * time.Minute)) {
		t.Fatalf("production grant after the approved extension: %+v", cur)
	}
	// The extension request's own execution ends without a grant.
	if xx := e.waitExecution(px.Request.ID, quick); xx.Status != "SUCCEEDED" ||
		!slices.Equal(xx.States, []string{"ChooseMode", "WaitForApproval", "ApprovedMeanwhile", "Closed"}) {
		t.Errorf("extension request's execution: %+v", xx)
	}
}
