package devstack_test

import (
	"time"

	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
)

// env is one running, seeded local stack: every test gets its own, so tests
// can run in parallel and count rule_set_version bumps exactly.
type env struct {
	t    testing.TB
	st   *devstack.Stack
	demo devstack.Demo
}

// timeScale runs the tests' stacks' business time (devstack.Clock) ten
// times as fast as the wall clock: a one-minute approval timeout or grant
// passes in six real seconds, through the same API, workers and state
// machine timers as on AWS.
const timeScale = 10

// until is the real time until the stack's business time reaches t.
func (e *env) until(t time.Time) time.Duration { return e.st.Workflow.Clock.Until(t) }

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvConfig(t, devstack.Config{})
}

// newEnvConfig is newEnv with cfg (its address, logger and time scale
// are set here).
func newEnvConfig(t *testing.T, cfg devstack.Config) *env {
	t.Helper()
	cfg.Addr, cfg.Logger, cfg.TimeScale = "127.0.0.1:0", slog.New(slog.DiscardHandler), timeScale
	return newEnvWith(t, cfg)
}

// newEnvWith is newEnv with the stack's configuration cfg, as it is.
func newEnvWith(t *testing.T, cfg devstack.Config) *env {
	t.Helper()
	if cfg.SigningKeys == nil {
		keys, err := devstack.TestKeys()
		if err != nil {
			t.Fatal(err)
		}
		cfg.SigningKeys = keys
	}
	st, err := devstack.Start(t.Context(), cfg)
	if err != nil {
		t.Fatalf("devstack.Start: %v", err)
	}
	t.Cleanup(st.Close)
	demo, err := devstack.Seed(t.Context(), st)
	if err != nil {
		t.Fatalf("devstack.Seed: %v", err)
	}
	return &env{t: t, st: st, demo: demo}
}

// Credentials of the seeded demo.
func (e *env) admin() map[string]string {
	return devstack.AdminHeaders(e.demo.TenantID, e.demo.AdminKey)
}
func (e *env) otherAdmin() map[string]string {
	return devstack.AdminHeaders(e.demo.OtherTenantID, e.demo.OtherAdminKey)
}
func (e *env) alice() map[string]string {
	return devstack.BearerHeaders(e.demo.TenantID, e.demo.Requester.Token)
}
func (e *env) platform() map[string]string { return map[string]string{"X-API-Key": e.demo.PlatformKey} }

// rawBody is a request body sent as is, with its content type ("" sends none).
type rawBody struct {
	contentType string
	data        []byte
}

// resp is one HTTP response.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// json decodes the body into a generic map.
func (r resp) obj(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// apiErr is the error body every non-2xx response must carry.
type apiErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details struct {
		Fields []struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		} `json:"fields"`
	} `json:"details"`
}

func (a apiErr) fields() []string {
	var out []string
	for _, f := range a.Details.Fields {
		out = append(out, f.Field)
	}
	return out
}

// do makes one call and checks the invariants of every response: never a
// 5xx, and every error is a JSON {code, message} with a non-empty code.
// body is nil, rawBody, a string (text/plain) or anything JSON-marshalled.
func (e *env) do(method, path string, headers map[string]string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, ct = bytes.NewReader(b.data), b.contentType
	case string:
		rd, ct = strings.NewReader(b), "text/plain"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.st.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer hr.Body.Close()
	out, err := io.ReadAll(hr.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := resp{Status: hr.StatusCode, Header: hr.Header, Body: out}
	if r.Status >= 500 {
		e.t.Errorf("%s %s: server error %s", method, path, r)
	}
	if r.Status >= 400 {
		var ae apiErr
		if err := json.Unmarshal(out, &ae); err != nil || ae.Code == "" || ae.Message == "" {
			e.t.Errorf("%s %s: error body is not {code, message}: %s", method, path, r)
		}
		if got := hr.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
			e.t.Errorf("%s %s: error content type %q", method, path, got)
		}
	}
	return r
}

// want asserts the status and returns the response.
func (e *env) want(status int, method, path string, headers map[string]string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, headers, body)
	if r.Status != status {
		e.t.Fatalf("%s %s: want %d, got %s", method, path, status, r)
	}
	return r
}

// wantErr asserts an error status and code, and that every field in fields
// is named in details.fields.
func (e *env) wantErr(status int, code, method, path string, headers map[string]string, body any, fields ...string) apiErr {
	e.t.Helper()
	r := e.do(method, path, headers, body)
	var ae apiErr
	_ = json.Unmarshal(r.Body, &ae)
	if r.Status != status || (code != "" && ae.Code != code) {
		e.t.Errorf("%s %s: want %d %s, got %s", method, path, status, code, r)
		return ae
	}
	for _, f := range fields {
		if !slices.Contains(ae.fields(), f) {
			e.t.Errorf("%s %s: details.fields %v does not name %q (%s)", method, path, ae.fields(), f, r.Body)
		}
	}
	return ae
}

// evalOut is the dry-run answer.
type evalOut struct {
	Permitted         bool     `json:"permitted"`
	ApprovalMode      string   `json:"approval_mode"`
	ApprovalTimeout   string   `json:"approval_timeout"`
	ApprovalsRequired int      `json:"approvals_required"`
	MatchingPolicyIDs []string `json:"matching_policy_ids"`
	Reason            string   `json:"reason"`
	Notices           []string `json:"notices"`
	RuleSetVersion    int64    `json:"rule_set_version"`
}

func account(id string) map[string]any { return map[string]any{"type": "aws_account", "id": id} }

// eval dry-runs a request on account for duration seconds.
func (e *env) eval(headers map[string]string, acct string, duration int, breakGlass bool) evalOut {
	e.t.Helper()
	r := e.want(http.StatusOK, "POST", "/v1/policies/evaluate", headers, map[string]any{
		"resource": account(acct), "duration_seconds": duration, "break_glass": breakGlass, "justification": "devstack test: a dry run",
	})
	var out evalOut
	if err := json.Unmarshal(r.Body, &out); err != nil {
		e.t.Fatalf("evaluate: %v: %s", err, r.Body)
	}
	return out
}

// version is the tenant's rule_set_version as evaluate reports it.
func (e *env) version(headers map[string]string) int64 {
	e.t.Helper()
	return e.eval(headers, devstack.DevAccount, 3600, false).RuleSetVersion
}

// ruleView is the part of a returned rule the tests look at.
type ruleView struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Priority          int      `json:"priority"`
	Enabled           bool     `json:"enabled"`
	Conditions        string   `json:"conditions"`
	ApprovalMode      string   `json:"approval_mode"`
	Revision          int64    `json:"revision"`
	CedarText         string   `json:"cedar_text"`
	ShadowedBy        []string `json:"shadowed_by"`
	CreatedAt         string   `json:"created_at"`
	ResourceEntityID  string   `json:"resource_entity_id"`
	PrincipalEntityID string   `json:"principal_entity_id"`
}

func decodeRule(t testing.TB, r resp) ruleView {
	t.Helper()
	var v ruleView
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("rule: %v: %s", err, r.Body)
	}
	return v
}

type ruleList struct {
	Data       []ruleView `json:"data"`
	NextCursor string     `json:"next_cursor"`
	HasMore    bool       `json:"has_more"`
}

func (e *env) list(headers map[string]string, query string) ruleList {
	e.t.Helper()
	r := e.want(http.StatusOK, "GET", "/v1/policy-rules"+query, headers, nil)
	var l ruleList
	if err := json.Unmarshal(r.Body, &l); err != nil {
		e.t.Fatalf("list: %v: %s", err, r.Body)
	}
	if l.Data == nil {
		e.t.Fatalf("list: data is not an array: %s", r.Body)
	}
	if l.HasMore != (l.NextCursor != "") {
		e.t.Fatalf("list: has_more %v with next_cursor %q", l.HasMore, l.NextCursor)
	}
	return l
}

// allRules pages through the whole list with the given page size.
func (e *env) allRules(headers map[string]string, limit int) map[string]ruleView {
	e.t.Helper()
	out := map[string]ruleView{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 100 {
			e.t.Fatal("list never ends")
		}
		q := "?limit=" + strconv.Itoa(limit)
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		l := e.list(headers, q)
		if len(l.Data) > limit {
			e.t.Fatalf("page of %d rules with limit %d", len(l.Data), limit)
		}
		for _, r := range l.Data {
			if _, dup := out[r.ID]; dup {
				e.t.Fatalf("rule %s listed twice", r.ID)
			}
			out[r.ID] = r
		}
		if !l.HasMore {
			return out
		}
		cursor = l.NextCursor
	}
}

// stagingRule is a rule the seed does not have: engineers get the staging
// account automatically for up to maxSeconds.
func stagingRule(id string, maxSeconds int) map[string]any {
	return map[string]any{
		"id": id, "name": "Staging: auto for engineers", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": stagingAccount,
		"conditions": fmt.Sprintf("when { context.duration_seconds <= %d }", maxSeconds), "approval_mode": "auto",
	}
}

const stagingAccount = "333333333333"

// TestAcceptanceFlow is the acceptance flow through real HTTP: rule
// CRUD with the admin key, dry runs as the requester, optimistic locking,
// export/import, and rule_set_version moving by exactly one per change with
// the dry run reflecting each change at once.
func TestAcceptanceFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, alice := e.admin(), e.alice()

	// The seeded decisions.
	t.Run("seeded decisions", func(t *testing.T) {
		deny := e.eval(alice, devstack.DevAccount, 28800, false)
		if deny.Permitted || deny.Reason != "no applicable policy" || len(deny.MatchingPolicyIDs) != 0 {
			t.Errorf("dev 8h: want deny with no applicable policy, got %+v", deny)
		}
		auto := e.eval(alice, devstack.DevAccount, 3600, false)
		if !auto.Permitted || auto.ApprovalMode != "auto" || !slices.Equal(auto.MatchingPolicyIDs, []string{"dev-auto"}) {
			t.Errorf("dev 1h: want auto by dev-auto, got %+v", auto)
		}
		req := e.eval(alice, devstack.ProdAccount, 3600, false)
		if !req.Permitted || req.ApprovalMode != "require" || req.ApprovalTimeout != "1h" || req.ApprovalsRequired != 1 ||
			!slices.Equal(req.MatchingPolicyIDs, []string{"prod-require"}) {
			t.Errorf("prod 1h: want require 1h x1 by prod-require, got %+v", req)
		}
		forbid := e.eval(alice, devstack.ProdAccount, 36000, false)
		if forbid.Permitted || !slices.Equal(forbid.MatchingPolicyIDs, []string{"prod-max-8h"}) ||
			!strings.Contains(forbid.Reason, "prod-max-8h") {
			t.Errorf("prod 10h: want denied by prod-max-8h, got %+v", forbid)
		}
		bg := e.eval(alice, devstack.ProdAccount, 3600, true)
		if !bg.Permitted || bg.ApprovalMode != "break_glass" || !slices.Equal(bg.MatchingPolicyIDs, []string{"oncall-break-glass"}) {
			t.Errorf("prod break-glass as on-call alice: want break_glass by oncall-break-glass, got %+v", bg)
		}
		// bob is not on call: asking for break-glass gets the ordinary decision.
		bob := devstack.BearerHeaders(e.demo.TenantID, e.demo.Reviewer.Token)
		if d := e.eval(bob, devstack.ProdAccount, 3600, true); d.ApprovalMode != "require" {
			t.Errorf("prod break-glass as bob (not on call): want require, got %+v", d)
		}
	})

	v0 := e.version(alice)
	if v0 < int64(len(devstack.DemoRules)) {
		t.Fatalf("rule_set_version %d after seeding %d rules", v0, len(devstack.DemoRules))
	}
	if d := e.eval(alice, stagingAccount, 3600, false); d.Permitted {
		t.Fatalf("staging before the rule exists: %+v", d)
	}

	// Create.
	cr := e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, stagingRule("staging-auto", 7200))
	created := decodeRule(t, cr)
	if created.ID != "staging-auto" || created.Revision != 1 || !created.Enabled || created.CedarText == "" ||
		!strings.Contains(created.CedarText, `@id("staging-auto")`) || !strings.Contains(created.CedarText, stagingAccount) {
		t.Fatalf("created rule: %s", cr.Body)
	}
	if loc := cr.Header.Get("Location"); loc != "/v1/policy-rules/staging-auto" {
		t.Errorf("Location %q", loc)
	}
	got := decodeRule(t, e.want(http.StatusOK, "GET", "/v1/policy-rules/staging-auto", admin, nil))
	if !reflect.DeepEqual(got, created) {
		t.Errorf("GET after create:\n got %+v\nwant %+v", got, created)
	}
	if _, ok := e.allRules(admin, 50)["staging-auto"]; !ok {
		t.Error("created rule not in the list")
	}
	d := e.eval(alice, stagingAccount, 3600, false)
	if d.RuleSetVersion != v0+1 || !d.Permitted || d.ApprovalMode != "auto" || !slices.Equal(d.MatchingPolicyIDs, []string{"staging-auto"}) {
		t.Fatalf("after create: want auto by staging-auto at version %d, got %+v", v0+1, d)
	}

	// Update with If-Match: the dry run sees the tighter cap at once.
	put := func(rev string, maxSeconds int) resp {
		h := map[string]string{"If-Match": rev}
		for k, v := range admin {
			h[k] = v
		}
		return e.do("PUT", "/v1/policy-rules/staging-auto", h, stagingRule("staging-auto", maxSeconds))
	}
	ur := put("1", 1800)
	if ur.Status != http.StatusOK {
		t.Fatalf("PUT If-Match 1: %s", ur)
	}
	updated := decodeRule(t, ur)
	if updated.Revision != 2 || updated.CreatedAt != created.CreatedAt || !strings.Contains(updated.Conditions, "1800") {
		t.Errorf("updated rule: %s", ur.Body)
	}
	d = e.eval(alice, stagingAccount, 3600, false)
	if d.RuleSetVersion != v0+2 || d.Permitted || d.Reason != "no applicable policy" {
		t.Fatalf("after update: want deny at version %d, got %+v", v0+2, d)
	}
	if d := e.eval(alice, stagingAccount, 1800, false); !d.Permitted {
		t.Errorf("after update, 30 min: want permitted, got %+v", d)
	}
	if r := put("1", 900); r.Status != http.StatusConflict {
		t.Fatalf("PUT with stale If-Match: want 409, got %s", r)
	}
	if r := put(`"2"`, 1800); r.Status != http.StatusOK || decodeRule(t, r).Revision != 3 {
		t.Fatalf("PUT with quoted current If-Match: %s", r)
	}
	if v := e.version(alice); v != v0+3 {
		t.Fatalf("a refused update moved the version or an update did not: %d, want %d", v, v0+3)
	}
	// No If-Match: unconditional replacement.
	if r := e.do("PUT", "/v1/policy-rules/staging-auto", admin, stagingRule("staging-auto", 7200)); r.Status != http.StatusOK || decodeRule(t, r).Revision != 4 {
		t.Fatalf("PUT without If-Match: %s", r)
	}
	if d := e.eval(alice, stagingAccount, 3600, false); !d.Permitted || d.RuleSetVersion != v0+4 {
		t.Fatalf("after unconditional update: %+v", d)
	}
	e.wantErr(http.StatusNotFound, "not_found", "PUT", "/v1/policy-rules/nope", admin, stagingRule("nope", 60))

	// Delete.
	e.want(http.StatusNoContent, "DELETE", "/v1/policy-rules/staging-auto", admin, nil)
	e.wantErr(http.StatusNotFound, "not_found", "GET", "/v1/policy-rules/staging-auto", admin, nil)
	e.wantErr(http.StatusNotFound, "not_found", "DELETE", "/v1/policy-rules/staging-auto", admin, nil)
	if _, ok := e.allRules(admin, 50)["staging-auto"]; ok {
		t.Error("deleted rule still listed")
	}
	d = e.eval(alice, stagingAccount, 3600, false)
	if d.RuleSetVersion != v0+5 || d.Permitted {
		t.Fatalf("after delete: want deny at version %d, got %+v", v0+5, d)
	}

	// Export → change things → import?replace=true → the exported rules again.
	before := e.allRules(admin, 2)
	ex := e.want(http.StatusOK, "GET", "/v1/policy-rules/export", admin, nil)
	if ct := ex.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("export content type %q", ct)
	}
	if xv := ex.Header.Get("X-Rule-Set-Version"); xv != strconv.FormatInt(v0+5, 10) {
		t.Errorf("X-Rule-Set-Version %q, want %d", xv, v0+5)
	}
	doc := string(ex.Body)
	for id := range before {
		if !strings.Contains(doc, `@id("`+id+`")`) {
			t.Errorf("export lacks rule %s", id)
		}
	}
	e.want(http.StatusNoContent, "DELETE", "/v1/policy-rules/dev-auto", admin, nil)
	e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, stagingRule("extra", 600))
	if v := e.version(alice); v != v0+7 {
		t.Fatalf("version %d after delete + create, want %d", v, v0+7)
	}
	if d := e.eval(alice, devstack.DevAccount, 3600, false); d.Permitted {
		t.Fatalf("dev-auto deleted but still deciding: %+v", d)
	}
	ir := e.want(http.StatusOK, "POST", "/v1/policy-rules/import?replace=true", admin, doc)
	var imp struct {
		Imported       int   `json:"imported"`
		Replace        bool  `json:"replace"`
		RuleSetVersion int64 `json:"rule_set_version"`
	}
	if err := json.Unmarshal(ir.Body, &imp); err != nil {
		t.Fatal(err)
	}
	if imp.Imported != len(before) || !imp.Replace || imp.RuleSetVersion != v0+8 {
		t.Errorf("import: %s, want %d rules at version %d", ir.Body, len(before), v0+8)
	}
	after := e.allRules(admin, 50)
	if len(after) != len(before) {
		t.Errorf("after import: %d rules, want %d", len(after), len(before))
	}
	for id, b := range before {
		a, ok := after[id]
		if !ok {
			t.Errorf("rule %s missing after import", id)
			continue
		}
		if a.CedarText != b.CedarText {
			t.Errorf("rule %s changed by the round trip:\n%s\nvs\n%s", id, a.CedarText, b.CedarText)
		}
		if id != "dev-auto" && a.Revision != b.Revision {
			t.Errorf("unchanged rule %s: revision %d → %d", id, b.Revision, a.Revision)
		}
	}
	d = e.eval(alice, devstack.DevAccount, 3600, false)
	if d.RuleSetVersion != v0+8 || !d.Permitted || !slices.Equal(d.MatchingPolicyIDs, []string{"dev-auto"}) {
		t.Errorf("after import: want dev-auto back at version %d, got %+v", v0+8, d)
	}
	// Exporting again gives the same document.
	if ex2 := e.want(http.StatusOK, "GET", "/v1/policy-rules/export", admin, nil); string(ex2.Body) != doc {
		t.Errorf("export after round trip differs:\n%s\nvs\n%s", ex2.Body, doc)
	}
}

// TestDryRunSeesEveryChange flips one rule back and forth and dry-runs right
// after each change: the policy cache never serves a stale rule set.
func TestDryRunSeesEveryChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, alice := e.admin(), e.alice()
	v := e.version(alice)
	rule := stagingRule("flip", 7200)
	for i := range 6 {
		enabled := i%2 == 1
		rule["enabled"] = enabled
		var r resp
		if i == 0 {
			r = e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, rule)
		} else {
			r = e.want(http.StatusOK, "PUT", "/v1/policy-rules/flip", admin, rule)
		}
		if decodeRule(t, r).Enabled != enabled {
			t.Fatalf("step %d: enabled not stored: %s", i, r.Body)
		}
		d := e.eval(alice, stagingAccount, 3600, false)
		v++
		if d.RuleSetVersion != v || d.Permitted != enabled {
			t.Fatalf("step %d (enabled=%v): got %+v, want version %d", i, enabled, d, v)
		}
	}
}

// TestAccountForbidCoversPermissionSets is the reproduction from the policy
// correctness issue: a priority-500 forbid written as `resource ==
// AwsAccount::"222222222222"` used to deny the bare account but permit the
// same request once it named a permission set (201 pending, decided by the
// lower-priority prod-require). The rule's view says how it is evaluated.
func TestAccountForbidCoversPermissionSets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, alice := e.admin(), e.alice()
	r := e.want(http.StatusCreated, "POST", "/v1/policy-rules", admin, map[string]any{
		"id": "prod-freeze", "name": "Production freeze", "priority": 500, "effect": "forbid",
		"principal_scope_type": "any", "action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "eq", "resource_entity_type": "AwsAccount", "resource_entity_id": devstack.ProdAccount,
	})
	if !strings.Contains(string(r.Body), `"scope_note":"governs every request for account 222222222222`) {
		t.Errorf("the rule's view does not say it covers the account's permission sets: %s", r.Body)
	}
	const ps = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890"
	for _, body := range []map[string]any{
		{"resource": account(devstack.ProdAccount), "duration_seconds": 3600, "justification": "rotate the payments DB secret"},
		{"resource": account(devstack.ProdAccount), "permission_set_arn": ps, "duration_seconds": 3600, "justification": "rotate the payments DB secret"},
		{"resource_type": "aws_account", "resource_id": devstack.ProdAccount, "permission_set_arn": ps, "duration_seconds": 3600, "justification": "rotate the payments DB secret"},
	} {
		e.wantErr(http.StatusForbidden, "policy_denied", "POST", "/v1/requests", alice, body)
	}
}

// TestSigningKeysTooFew: a stack given fewer signing keys than it has
// issuers refuses to start rather than sharing one key between two of them.
func TestSigningKeysTooFew(t *testing.T) {
	t.Parallel()
	keys, err := devstack.TestKeys()
	if err != nil {
		t.Fatal(err)
	}
	_, err = devstack.Start(t.Context(), devstack.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), SigningKeys: keys[:1]})
	if err == nil || !strings.Contains(err.Error(), "signing keys") {
		t.Fatalf("Start with one key: %v, want refused", err)
	}
}
