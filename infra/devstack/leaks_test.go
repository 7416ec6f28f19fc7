package devstack_test

// Lists and errors leak nothing (issue 9, item 5): cursors are opaque and
// bound to tenant and caller, an id the caller may not see is answered
// like an unknown one, error messages carry no package prefixes, no
// unbounded caller input and no evaluation error text for requesters, and
// a 409 says what the state is now.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// cursorShows reports which of secrets a cursor shows, as sent or
// base64url-decoded.
func cursorShows(cursor string, secrets ...string) []string {
	views := [][]byte{[]byte(cursor)}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if raw, err := enc.DecodeString(cursor); err == nil {
			views = append(views, raw)
		}
	}
	var shown []string
	for _, s := range secrets {
		for _, v := range views {
			if bytes.Contains(v, []byte(s)) {
				shown = append(shown, s)
				break
			}
		}
	}
	return shown
}

// TestAPILeaksFilteredListCursor: alice's list of requests is filtered
// after the query (she sees her own and the ones she may review). Its
// pages are filled rather than empty, and its cursors show no id of the
// requests she may not see; a cursor altered, used by someone else or on
// another tenant is a 400.
func TestAPILeaksFilteredListCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, admin := e.alice(), e.bob(), e.admin()

	mine := e.create(alice, accessRequest(devstack.DevAccount, 3600, "alice's own request"))
	// Ten newer requests of others (auto-approved: alice may not see them).
	var others []string
	for i := range 10 {
		r := e.create(e.user(fmt.Sprintf("dave%d", i), "engineering"), accessRequest(devstack.DevAccount, 3600, "someone else's request"))
		others = append(others, r.ID)
	}
	secrets := append([]string{"REQ#", "dave"}, others...)

	// A page of two, the ten others newest: the list reads on and fills it.
	p := decodeAs[page[access.Request]](t, e.want(http.StatusOK, "GET", "/v1/requests?limit=2", alice, nil))
	if got := ids(p.Data, func(r access.Request) string { return r.ID }); !slices.Equal(got, []string{mine.ID}) || p.HasMore {
		t.Fatalf("alice's page of 2: %v has_more=%v, want only %s and no more", got, p.HasMore, mine.ID)
	}

	// Pages of one: the read budget may run out on others' requests, but
	// no cursor shows whose.
	var seen []string
	var cursors []string
	cursor := ""
	for n := 0; ; n++ {
		if n > 20 {
			t.Fatal("alice's list never ends")
		}
		q := url.Values{"limit": {"1"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		p := decodeAs[page[access.Request]](t, e.want(http.StatusOK, "GET", "/v1/requests?"+q.Encode(), alice, nil))
		for _, r := range p.Data {
			seen = append(seen, r.ID)
		}
		if leak := cursorShows(p.NextCursor, secrets...); len(leak) > 0 {
			t.Fatalf("alice's cursor %q shows %v", p.NextCursor, leak)
		}
		if !p.HasMore {
			break
		}
		cursor = p.NextCursor
		cursors = append(cursors, cursor)
	}
	if !slices.Equal(seen, []string{mine.ID}) {
		t.Fatalf("alice saw %v, want only %s", seen, mine.ID)
	}
	if len(cursors) == 0 {
		t.Fatal("ten hidden requests within the read budget: no cursor to check (the test needs one)")
	}

	// An admin's cursor (unfiltered) is opaque too.
	ap := decodeAs[page[access.Request]](t, e.want(http.StatusOK, "GET", "/v1/requests?limit=1", admin, nil))
	if leak := cursorShows(ap.NextCursor, secrets...); !ap.HasMore || len(leak) > 0 {
		t.Fatalf("admin's cursor %q (has_more %v) shows %v", ap.NextCursor, ap.HasMore, leak)
	}

	c := cursors[0]
	list := func(cur string) string { return "/v1/requests?limit=1&cursor=" + url.QueryEscape(cur) }
	// Altered: any byte of it.
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatalf("cursor %q is not base64url: %v", c, err)
	}
	for _, i := range []int{0, 1, len(raw) / 2, len(raw) - 1} {
		bad := slices.Clone(raw)
		bad[i] ^= 0x20
		e.wantErr(http.StatusBadRequest, "validation_failed", "GET", list(base64.RawURLEncoding.EncodeToString(bad)), alice, nil, "cursor")
	}
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", list(c[:len(c)-4]), alice, nil, "cursor")
	// Someone else in the tenant, or another tenant.
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", list(c), bob, nil, "cursor")
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", list(ap.NextCursor), e.otherAdmin(), nil, "cursor")
	e.wantErr(http.StatusBadRequest, "validation_failed", "GET", list(c), e.mallory(), nil, "cursor")
	// The cursor still works for alice.
	e.want(http.StatusOK, "GET", list(c), alice, nil)
}

// TestAPILeaksHiddenIsNotFound: a request or grant alice may not see is
// answered exactly like an id that does not exist.
func TestAPILeaksHiddenIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.alice()
	dave := e.user("dave", "engineering")

	pending := e.create(dave, accessRequest(devstack.ProdAccount, 3600, "dave's prod request"))
	approved := e.create(dave, accessRequest(devstack.DevAccount, 3600, "dave's dev request"))
	if pending.Status != access.StatusPending || approved.GrantID == "" {
		t.Fatalf("setup: %+v / %+v", pending.Request, approved.Request)
	}
	const noReq, noGrant = "req_00000000000000000000000000", "grt_00000000000000000000000000"
	cases := []struct {
		method, path, unknown string
		body                  any
	}{
		{"GET", "/v1/requests/%s", noReq, nil},
		{"GET", "/v1/requests/%s/messages", noReq, nil},
		{"POST", "/v1/requests/%s/messages", noReq, map[string]any{"body": "hello?"}},
		{"POST", "/v1/requests/%s/approve", noReq, nil},
		{"POST", "/v1/requests/%s/deny", noReq, nil},
		{"POST", "/v1/requests/%s/cancel", noReq, nil},
		{"GET", "/v1/grants/%s", noGrant, nil},
		{"DELETE", "/v1/grants/%s", noGrant, nil},
		{"POST", "/v1/grants/%s/extend", noGrant, map[string]any{"duration_seconds": 600, "justification": "more"}},
	}
	for _, c := range cases {
		id := pending.ID
		if c.unknown == noGrant {
			id = approved.GrantID
		}
		hidden := e.do(c.method, fmt.Sprintf(c.path, id), alice, c.body)
		unknown := e.do(c.method, fmt.Sprintf(c.path, c.unknown), alice, c.body)
		if hidden.Status != http.StatusNotFound || unknown.Status != http.StatusNotFound || !bytes.Equal(hidden.Body, unknown.Body) {
			t.Errorf("%s %s: hidden %s, unknown %s: want the same 404", c.method, c.path, hidden, unknown)
		}
		if e := hidden.obj(t); e["code"] != "not_found" {
			t.Errorf("%s %s: %v", c.method, c.path, e)
		}
	}
	// Nothing changed, and dave still sees his own.
	if got := e.request(dave, pending.ID); got.Status != access.StatusPending || len(got.Reviews) != 0 {
		t.Fatalf("dave's request after alice's attempts: %+v", got.Request)
	}
	if msgs := e.messages(dave, pending.ID); len(msgs) != 0 {
		t.Fatalf("messages after alice's attempts: %+v", msgs)
	}
}

// TestAPILeaksErrorMessages: error messages carry no Go package prefix
// and echo no unbounded caller input.
func TestAPILeaksErrorMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()
	long := strings.Repeat("x", 2000)
	rule := func(id string) map[string]any {
		r := stagingRule("x", 600)
		r["id"] = id
		return r
	}
	cases := []struct {
		name, method, path string
		h                  map[string]string
		body               any
		status             int
	}{
		{"revoke a 2000-byte key id", "DELETE", "/v1/api-keys/" + long, admin, nil, 400},
		{"revoke an unknown key", "DELETE", "/v1/api-keys/key-" + long[:100], admin, nil, 404},
		{"create a rule with a 1500-byte id", "POST", "/v1/policy-rules", admin, rule(long[:1500]), 400},
		{"get a rule with a 2000-byte id", "GET", "/v1/policy-rules/" + long, admin, nil, 0},
		{"update a rule with a 1500-byte id", "PUT", "/v1/policy-rules/" + long[:1500], admin, rule(long[:1500]), 0},
		{"update a rule, ids differ", "PUT", "/v1/policy-rules/" + long[:1500], admin, rule("other"), 400},
		{"delete a rule with a 2000-byte id", "DELETE", "/v1/policy-rules/" + long, admin, nil, 0},
		{"a 2000-byte unknown field", "POST", "/v1/requests", alice, map[string]any{long: 1}, 400},
		{"a 2000-byte request id", "GET", "/v1/requests/" + long, alice, nil, 404},
		{"approve a 2000-byte request id", "POST", "/v1/requests/" + long + "/approve", e.bob(), nil, 404},
		{"a 2000-byte grant id", "DELETE", "/v1/grants/" + long, alice, nil, 404},
		{"a 2000-byte channel id", "GET", "/v1/notification-channels/" + long, admin, nil, 0},
		{"a 2000-byte cursor", "GET", "/v1/requests?cursor=" + long, alice, nil, 400},
		{"a tenant with a 2000-byte id", "POST", "/v1/tenants", e.platform(), map[string]string{"id": long, "name": "x"}, 400},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, c.h, c.body)
		if r.Status < 400 || (c.status != 0 && r.Status != c.status) {
			t.Errorf("%s: %d, want %d", c.name, r.Status, c.status)
			continue
		}
		for _, prefix := range []string{"store:", "access:", "policy:", "notify:", "httpapi:", "api:"} {
			if bytes.Contains(r.Body, []byte(prefix)) {
				t.Errorf("%s: the error shows %q: %s", c.name, prefix, r.Body)
			}
		}
		if bytes.Contains(r.Body, []byte(strings.Repeat("x", 100))) || len(r.Body) > 1000 {
			t.Errorf("%s: the error echoes the input (%d bytes): %.300s…", c.name, len(r.Body), r.Body)
		}
	}
}

// TestAPILeaksPolicyDeniedErrors: a rule that fails to evaluate denies;
// the requester learns which rule, not the evaluation error's text, which
// admins see (here and in the dry run).
func TestAPILeaksPolicyDeniedErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, admin := e.alice(), e.admin()
	bad := map[string]any{
		"id": "bad-forbid", "name": "a forbid whose condition errors", "priority": 1000,
		"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "any",
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": devstack.DevAccount,
		"conditions": `when { context.metadata.ticket == "x" }`,
	}
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, bad)

	// The error text cedar gives (it names the missing attribute).
	errText := "ticket"
	r := e.do("POST", "/v1/requests", alice, accessRequest(devstack.DevAccount, 3600, "needs dev"))
	body := r.obj(t)
	d := errDetails(t, r)
	if r.Status != http.StatusForbidden || body["code"] != "policy_denied" {
		t.Fatalf("alice's request: %s", r)
	}
	if _, ok := d["errors"]; ok || strings.Contains(string(r.Body), errText) {
		t.Errorf("the requester sees the evaluation error: %s", r.Body)
	}
	if ids, _ := d["deciding_rule_ids"].([]any); !slices.Contains(ids, any("bad-forbid")) {
		t.Errorf("the requester does not see the deciding rule: %s", r.Body)
	}
	if reason, _ := d["reason"].(string); !strings.Contains(reason, "bad-forbid") {
		t.Errorf("reason %q does not name the rule", reason)
	}
	// The stored request (which alice reads) has no error text either.
	id, _ := d["request_id"].(string)
	if got := e.request(alice, id); got.Status != access.StatusDenied || strings.Contains(got.DecisionReasoning, errText) {
		t.Errorf("alice reads %q", got.DecisionReasoning)
	}

	// An admin's request gets the errors.
	r = e.do("POST", "/v1/requests", admin, accessRequest(devstack.DevAccount, 3600, "needs dev"))
	d = errDetails(t, r)
	if errs, _ := d["errors"].([]any); r.Status != http.StatusForbidden || len(errs) == 0 || !strings.Contains(fmt.Sprint(errs...), errText) {
		t.Errorf("the admin's denial has no evaluation errors: %s", r)
	}
}

// TestAPILeaksConflictsNameTheState: a 409 says what the state is now.
func TestAPILeaksConflictsNameTheState(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice, bob, carol, admin := e.alice(), e.bob(), e.carol(), e.admin()
	dave := e.user("dave", "engineering")

	conflict := func(method, path string, h map[string]string, want, status string) {
		t.Helper()
		r := e.do(method, path, h, nil)
		m := r.obj(t)
		msg, _ := m["message"].(string)
		if r.Status != http.StatusConflict || m["code"] != "conflict" || !strings.Contains(msg, want) {
			t.Errorf("%s %s: %s; want 409 saying %q", method, path, r, want)
		}
		if status != "" {
			if d := errDetails(t, r); d["status"] != status {
				t.Errorf("%s %s: details %v, want status %s", method, path, d, status)
			}
		}
	}

	a := e.create(alice, accessRequest(devstack.ProdAccount, 3600, "prod"))
	e.waitToken(a.ID)
	e.review(bob, a.ID, "approve", nil)
	// What happened, by whom and when: the decider and the decision's time
	// are in the message and the details.
	approved := "request " + a.ID + " was approved by "
	conflict("POST", "/v1/requests/"+a.ID+"/approve", carol, approved, access.StatusApproved)
	conflict("POST", "/v1/requests/"+a.ID+"/deny", carol, approved, access.StatusApproved)
	conflict("POST", "/v1/requests/"+a.ID+"/cancel", alice, "; it is no longer pending", access.StatusApproved)
	if d := errDetails(t, e.do("POST", "/v1/requests/"+a.ID+"/approve", carol, nil)); d["by"] == nil || d["at"] == nil || d["request_id"] != a.ID {
		t.Errorf("details of the 409 name no decider/time: %v", d)
	}

	d := e.create(dave, accessRequest(devstack.ProdAccount, 3600, "prod"))
	e.waitToken(d.ID)
	e.review(bob, d.ID, "deny", nil)
	conflict("POST", "/v1/requests/"+d.ID+"/cancel", dave, "request "+d.ID+" was denied by ", access.StatusDenied)
	conflict("POST", "/v1/requests/"+d.ID+"/approve", carol, "request "+d.ID+" was denied by ", access.StatusDenied)

	g := e.create(dave, accessRequest(devstack.DevAccount, 3600, "dev"))
	e.want(http.StatusOK, "DELETE", "/v1/grants/"+g.GrantID, dave, nil)
	conflict("DELETE", "/v1/grants/"+g.GrantID, dave, "grant "+g.GrantID+" was revoked by ", access.GrantRevoked)

	k := decodeAs[struct {
		ID string `json:"id"`
	}](t, e.want(http.StatusCreated, "POST", "/v1/api-keys", admin, map[string]any{"name": "ci", "scopes": []string{"policies:read"}}))
	e.want(http.StatusOK, "DELETE", "/v1/api-keys/"+k.ID, admin, nil)
	conflict("DELETE", "/v1/api-keys/"+k.ID, admin, "the API key is already revoked", "")

	// A rule updated from an old revision names the current one.
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, stagingRule("rev", 600))
	e.want(http.StatusOK, "PUT", "/v1/policy-rules/rev", merge(admin, map[string]string{"If-Match": "1"}), stagingRule("rev", 900))
	r := e.do("PUT", "/v1/policy-rules/rev", merge(admin, map[string]string{"If-Match": "1"}), stagingRule("rev", 1200))
	if m := r.obj(t); r.Status != http.StatusConflict || !strings.Contains(fmt.Sprint(m["message"]), "revision 2") {
		t.Errorf("stale rule update: %s", r)
	}
}
