package policy

import (
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// permit builds a normalized permit rule: principal/resource given as
// (scope, type, id).
func mkRule(t testing.TB, r Rule) Rule {
	t.Helper()
	if r.ActionScopeType == "" {
		r.ActionScopeType = ScopeEq
		r.ActionIDs = []string{ActionRequestAccess}
	}
	if r.PrincipalScopeType == "" {
		r.PrincipalScopeType = ScopeAny
	}
	if r.ResourceScopeType == "" {
		r.ResourceScopeType = ScopeAny
	}
	r.Enabled = true
	n, err := Normalize(r)
	if err != nil {
		t.Fatalf("Normalize(%s): %v", r.ID, err)
	}
	return n
}

func mustCompile(t testing.TB, rules ...Rule) *PolicySet {
	t.Helper()
	ps, err := Compile(rules)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return ps
}

func alice() Principal { return Principal{ID: "alice", Groups: []string{"engineering", "oncall"}} }

func psReq(p Principal) Request {
	return Request{
		Principal:       p,
		Action:          ActionRequestAccess,
		Resource:        Resource{Type: EntityAwsPermissionSet, ID: "arn:aws:sso:::permissionSet/ssoins-1/ps-admin", AccountID: "111122223333", OUID: "ou-ab12-prod0001"},
		DurationSeconds: 3600,
		Justification:   "JIRA-42 deploy",
		Now:             testNow,
	}
}
