package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// wantField asserts err is a *ValidationError naming field with a message
// that names the offending character.
func wantField(t *testing.T, err error, field string) {
	t.Helper()
	var ve *access.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError on %s, got %v", field, err)
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			if !strings.Contains(f.Message, "U+") {
				t.Errorf("%s: message %q does not name the character", field, f.Message)
			}
			return
		}
	}
	t.Fatalf("want field %s in %v", field, ve)
}

// TestFreeTextRefusesInvisibleCharacters: a justification, a review's
// reasoning, a message body and an extension's justification refuse bidi
// overrides and other invisible characters; ordinary line breaks and tabs
// stay allowed.
func TestFreeTextRefusesInvisibleCharacters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, bad := range []string{"approve\u202Egnp.exe", "a\u2066b\u2069", "zero\u200bwidth", "\ufeffbom", "bell\a", "lone\rcr", "private\ue000"} {
		in := psInput(acctProd)
		in.Reason = "JIRA-42 " + bad
		_, err := e.svc.Create(ctx, alice, in, "")
		wantField(t, err, "reason")
	}
	if len(e.wf.Starts()) != 0 {
		t.Fatal("a refused request started a workflow")
	}

	in := psInput(acctProd)
	in.Reason = "JIRA-42: deploy hotfix\r\n\tstep 1\nstep 2 — naïve 東京"
	r := mustCreate(t, e, alice, in).Request
	if r.Reason != in.Reason {
		t.Fatalf("multi-line reason stored as %q", r.Reason)
	}

	_, err := e.svc.PostMessage(ctx, alice, r.ID, "see \u202Etxt.exe")
	wantField(t, err, "body")
	if m, err := e.svc.PostMessage(ctx, alice, r.ID, "line one\nline two"); err != nil || m.Body != "line one\nline two" {
		t.Fatalf("multi-line message: %+v %v", m, err)
	}

	_, err = e.svc.Approve(ctx, bob, r.ID, "lgtm \u202E")
	wantField(t, err, "reasoning")
	_, err = e.svc.Deny(ctx, bob, r.ID, "\u2067no\u2069")
	wantField(t, err, "reasoning")
	if got, err := e.svc.Get(ctx, alice, r.ID); err != nil || got.Status != access.StatusPending || len(got.Reviews) != 0 {
		t.Fatalf("after refused reviews: %+v %v", got, err)
	}

	e = extendEnv(t)
	g := activeGrant(t, e, alice, acctDev)
	_, err = e.svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 1800, Justification: "still \u202Edeploying"})
	wantField(t, err, "justification")
	_, err = e.svc.RevokeGrant(ctx, alice, g.ID, "done\u200b")
	wantField(t, err, "reasoning")
}
