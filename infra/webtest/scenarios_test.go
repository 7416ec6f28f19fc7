package webtest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/web"
)

// api calls the stack directly (setting up what a scenario starts from).
func (s *stack) api(t *testing.T, method, path string, h map[string]string, body any) map[string]any {
	t.Helper()
	status, out, err := devstack.Call(t.Context(), s.st.URL, method, path, h, body)
	if err != nil || status >= 300 {
		t.Fatalf("%s %s: %d %s %v", method, path, status, out, err)
	}
	var m map[string]any
	_ = json.Unmarshal(out, &m)
	return m
}

func (s *stack) as(p devstack.Person) map[string]string {
	return devstack.BearerHeaders(s.demo.TenantID, p.Token)
}

// person is an acme person the demo does not have, e.g. an admin (the
// demo's admin is an API key).
func (s *stack) person(t *testing.T, id string, groups ...string) devstack.Person {
	t.Helper()
	tok, err := s.st.Issuer.Mint(map[string]any{"sub": id, "aud": s.st.Audience, "tenant_id": s.demo.TenantID, "groups": groups}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return devstack.Person{ID: id, Groups: groups, Token: tok}
}

// TestApprovalsPage runs the browser scenarios on one stack and
// one Chromium (a tab per person: the page's session is per tab).
func TestApprovalsPage(t *testing.T) {
	s := newStack(t)
	b := newBrowser(t)
	d := s.demo
	acme := "/ui/t/" + d.TenantID

	alice := b.tab(t, s)
	alice.signIn(d.TenantID, d.Requester)
	bob := b.tab(t, s)
	bob.signIn(d.TenantID, d.Reviewer)
	var reqID string

	t.Run("1 alice previews and submits a production request", func(t *testing.T) {
		alice.t = t
		alice.open(acme + "/new")
		alice.fill(`input[name="account"]`, devstack.ProdAccount)
		alice.fill(`textarea[name="justification"]`, "rotate the payments DB secret")
		alice.waitText("Require: 1 reviewer within 1h", 10*time.Second)
		if v := alice.evalString(`document.querySelector('select[name="duration"]').value`); v != "3600" {
			t.Fatalf("the default duration is %s s, want an hour", v)
		}
		alice.shot("new-request")
		alice.axe("new request")
		alice.click(`//button[normalize-space(.)="Submit request"]`)
		alice.waitText("Pending review: 0 of 1 approvals", 10*time.Second)
		reqID = requestIDFromPath(t, alice.currentPath())
		alice.shot("request-pending")
		alice.axe("request (requester)")
		alice.clean("new request")
	})

	t.Run("3 no approve button on her own request; forcing it is refused in words", func(t *testing.T) {
		alice.t = t
		alice.waitText("You cannot review your own request.", 5*time.Second)
		if alice.has(`//button[normalize-space(.)="Approve"]`) {
			t.Fatal("alice sees an Approve button on her own request")
		}
		// The page's own API client, forced to approve: its words.
		apiJS := web.Must(web.Config{}).Path("api.js")
		msg := alice.evalString(fmt.Sprintf(`(async () => { const m = await import(%q); try { await m.client(%q).approve(%q); return 'approved?!'; } catch (e) { return e.message; } })()`,
			apiJS, d.TenantID, reqID))
		if !strings.Contains(msg, "You cannot review your own request") {
			t.Fatalf("forced self-approval says %q", msg)
		}
	})

	t.Run("2 bob reviews from his inbox; alice sees the grant, extends and revokes it", func(t *testing.T) {
		alice.t, bob.t = t, t
		bob.open(acme + "/inbox")
		bob.waitText("rotate the payments DB secret", 10*time.Second)
		bob.shot("inbox")
		bob.axe("inbox")
		bob.click(fmt.Sprintf(`//a[contains(@aria-label, %q)]`, reqID))
		bob.waitText("Your review", 10*time.Second)
		bob.fill(`textarea[name="message"]`, "Which incident is this for?")
		bob.click(`//button[normalize-space(.)="Post message"]`)
		bob.waitText("Which incident is this for?", 10*time.Second)
		bob.fill(`textarea[name="reasoning"]`, "INC-1234 confirmed")
		bob.axe("request (reviewer)")
		bob.shot("request-review")
		bob.click(`//button[normalize-space(.)="Approve"]`)
		bob.waitText("You approved this request.", 10*time.Second)

		alice.waitText("Which incident is this for?", 10*time.Second) // the thread, polled
		alice.waitText("Approved", 10*time.Second)
		alice.waitText("access is active until", 30*time.Second)
		alice.shot("request-active")
		alice.fill(`input[name="extend_justification"]`, "the rotation takes longer")
		alice.click(`//button[normalize-space(.)="Extend"]`)
		alice.waitText("Extension asked: it waits for a reviewer.", 10*time.Second) // prod extensions need review
		alice.click(`//button[normalize-space(.)="Revoke now"]`)
		alice.waitText("the grant was revoked", 15*time.Second)
		alice.clean("grant")
		bob.clean("review")
	})

	t.Run("4 hostile text renders as text", func(t *testing.T) {
		bob.t = t
		img, script := `<img src=x onerror=alert(1)>`, `<script>alert(2)</script>`
		erin := s.as(s.person(t, "erin", "engineering"))
		r := s.api(t, "POST", "/v1/requests", erin, map[string]any{
			"resource": map[string]any{"type": "aws_account", "id": devstack.SandboxAccount}, "duration_seconds": 600, "justification": img + " " + script})
		id := r["id"].(string)
		s.api(t, "POST", "/v1/requests/"+id+"/messages", erin, map[string]any{"body": script + " " + img})
		bob.open(acme + "/requests/" + id)
		bob.waitText(img+" "+script, 10*time.Second)
		bob.waitText(script+" "+img, 10*time.Second)
		if n := bob.evalInt(`document.querySelectorAll('main img, main script').length`); n != 0 {
			t.Fatalf("%d img/script elements in the page's content", n)
		}
		bob.shot("request-hostile-text")
		bob.clean("hostile text")
	})

	t.Run("5 two of M", func(t *testing.T) {
		bob.t = t
		s.api(t, "POST", "/v1/policy-rules", devstack.AdminHeaders(d.TenantID, d.AdminKey), map[string]any{
			"id": "two-reviewers", "name": "two reviewers", "priority": 100, "effect": "permit",
			"principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
			"action_scope_type": "eq", "action_ids": []string{"request_access"},
			"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": "333333333333",
			"approval_mode": "require", "approval_timeout": "1h", "approvals_required": 2})
		r := s.api(t, "POST", "/v1/requests", s.as(d.Requester), map[string]any{
			"resource": map[string]any{"type": "aws_account", "id": "333333333333"}, "duration_seconds": 600, "justification": "needs two"})
		id := r["id"].(string)
		bob.open(acme + "/requests/" + id)
		bob.waitText("0 of 2", 10*time.Second)
		bob.click(`//button[normalize-space(.)="Approve"]`)
		bob.waitText("1 of 2", 10*time.Second)
		carol := b.tab(t, s)
		carol.signIn(d.TenantID, d.Reviewer2)
		carol.open(acme + "/requests/" + id)
		carol.waitText("1 of 2", 10*time.Second)
		carol.click(`//button[normalize-space(.)="Approve"]`)
		carol.waitText("You approved this request.", 10*time.Second)
		bob.waitText("Approved", 10*time.Second)
		carol.clean("2 of M")
	})

	t.Run("7 another tenant sees nothing of acme's", func(t *testing.T) {
		mallory := b.tab(t, s)
		mallory.signIn(d.OtherTenantID, d.OtherRequester)
		globex := "/ui/t/" + d.OtherTenantID
		mallory.open(globex + "/inbox")
		mallory.waitText("Nothing to review.", 10*time.Second)
		mallory.open(globex + "/mine")
		mallory.waitText("No requests yet.", 10*time.Second)
		mallory.open(globex + "/requests/" + reqID)
		mallory.waitText("Request not found", 10*time.Second)
		mallory.shot("not-found")
		mallory.axe("not found")
		mallory.open(acme + "/requests/" + reqID) // acme's link: she has no acme session
		mallory.waitText("Sign in", 10*time.Second)
		if strings.Contains(mallory.text(), "rotate the payments DB secret") {
			t.Fatal("mallory sees acme's request")
		}
		mallory.clean("other tenant")
	})

	t.Run("9 admin pages: a new rule shows in the dry run beside it", func(t *testing.T) {
		admin := b.tab(t, s)
		admin.signInWithToken(d.TenantID, s.person(t, "dana", "jitsudo-admins")) // acme's dev IdP has no admin
		admin.open(acme + "/admin/rules")
		admin.waitText("prod-require", 10*time.Second)
		admin.eval(`(() => { const t = document.querySelector('textarea[name="policy_text"]'); t.value = '@id("staging-auto")\n@name("Staging: auto")\n@priority("100")\n@approval_mode("auto")\npermit (\n    principal in Group::"engineering",\n    action in [Action::"request_access"],\n    resource in AwsAccount::"555555555555"\n);'; t.dispatchEvent(new Event('input')); })()`)
		admin.fill(`input[name="dry_account"]`, "555555555555")
		admin.click(`//button[normalize-space(.)="Evaluate"]`)
		admin.waitText("Deny: no applicable policy", 10*time.Second)
		admin.click(`//button[normalize-space(.)="Save rule"]`)
		admin.waitText("Saved rule staging-auto.", 10*time.Second)
		admin.waitText("Auto: approved at once (rule staging-auto)", 10*time.Second)
		admin.shot("admin-rules")
		admin.axe("admin rules")
		admin.open(acme + "/admin/audit")
		admin.waitText("Chain verified", 10*time.Second)
		admin.shot("admin-audit")
		admin.axe("admin audit")
		admin.open(acme + "/admin/channels")
		admin.waitText("Notification channels", 10*time.Second)
		admin.axe("admin channels")
		admin.open(acme + "/admin/keys")
		admin.waitText("API keys", 10*time.Second)
		admin.axe("admin keys")
		admin.open(acme + "/mine")
		admin.waitText("My requests and grants", 10*time.Second)
		admin.axe("mine")
		admin.clean("admin")
	})

	t.Run("an expired session leads back through sign-in, keeping what was typed", func(t *testing.T) {
		alice.t = t
		alice.open(acme + "/new")
		alice.fill(`textarea[name="justification"]`, "kept across sign-in")
		alice.eval(fmt.Sprintf(`(() => { const k = %q; const s = JSON.parse(sessionStorage.getItem(k)); s.expires_at = Date.now() - 1000; sessionStorage.setItem(k, JSON.stringify(s)); })()`, "jitsudo.session."+d.TenantID))
		alice.fill(`input[name="account"]`, devstack.DevAccount) // the dry run finds the session expired
		alice.waitText("Your session ended", 10*time.Second)
		alice.click(`//button[starts-with(normalize-space(.), "Sign in to")]`)
		user := chromedp.CSS(`button[name="user"][value="alice"]`)
		alice.run(chromedp.WaitVisible(user), chromedp.Click(user))
		alice.waitText("Auto: approved at once", 15*time.Second) // back on the form, dry run included
		if p := alice.currentPath(); p != acme+"/new" {
			t.Fatalf("back at %s", p)
		}
		if v := alice.evalString(`document.querySelector('textarea[name="justification"]').value`); v != "kept across sign-in" {
			t.Fatalf("the justification is %q after signing in again", v)
		}
		alice.clean("session expiry")
	})

	t.Run("8 keyboard: sign-in screen and a review by keyboard only", func(t *testing.T) {
		kb := b.tab(t, s)
		kb.open("/ui/")
		kb.axe("organisation form")
		kb.keys("\t")
		kb.keys("acme\r")
		kb.waitText("Sign in to acme", 10*time.Second)
		kb.axe("sign-in screen")
		kb.shot("sign-in")
	})

	t.Run("6 the ApprovalTimeoutWorker expires a request while the page is open", func(t *testing.T) {
		alice.t = t
		// As the person signed in on the page (her IdP's principal).
		asAlice := devstack.BearerHeaders(d.TenantID, alice.token(d.TenantID))
		r := s.api(t, "POST", "/v1/requests", asAlice, map[string]any{
			"resource": map[string]any{"type": "aws_account", "id": devstack.SandboxAccount}, "duration_seconds": 600, "justification": "watch it expire"})
		alice.open(acme + "/requests/" + r["id"].(string))
		alice.waitText("Pending review", 10*time.Second)
		alice.waitText("Expired by the ApprovalTimeoutWorker", 100*time.Second)
		alice.shot("request-expired")
		alice.clean("timeout")
	})
}
