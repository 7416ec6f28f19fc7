package webtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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
		// Disable: the dry run beside it follows; export has it; delete through the dialog.
		admin.click(`//button[@aria-label="Disable rule staging-auto"]`)
		admin.waitText("Rule staging-auto disabled.", 10*time.Second)
		admin.waitText("Deny: no applicable policy", 10*time.Second)
		admin.click(`//button[normalize-space(.)="Export"]`)
		if got := admin.waitValue(`textarea[name="export"]`, `@id("staging-auto")`, 10*time.Second); !strings.Contains(got, "principal in Group::\"engineering\"") {
			t.Fatalf("the export: %s", got)
		}
		admin.click(`//button[@aria-label="Delete rule staging-auto"]`)
		admin.axe("admin rules (delete dialog)")
		admin.click(`//dialog[@open]//button[normalize-space(.)="Delete rule"]`)
		admin.waitText("Rule staging-auto deleted.", 10*time.Second)
		admin.waitTrue("the deleted rule is no longer listed", `![...document.querySelectorAll('main table code')].some((c) => c.textContent === 'staging-auto')`, 10*time.Second)
		admin.open(acme + "/admin/audit")
		admin.waitText("Chain verified", 10*time.Second)
		admin.fill(`input[name="action"]`, "rule.deleted")
		admin.click(`//button[normalize-space(.)="Filter"]`)
		admin.waitTrue("the audit log filtered on rule.deleted: the one deletion", `(() => { const rows = [...document.querySelectorAll('main tbody tr')];
			return rows.length === 1 && rows[0].innerText.includes('rule.deleted') && rows[0].innerText.includes('staging-auto'); })()`, 10*time.Second)
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

	t.Run("8 keyboard only: bob signs in, opens his inbox item, posts a message, approves with a reasoning", func(t *testing.T) {
		erin := s.as(s.person(t, "erin", "engineering"))
		r := s.api(t, "POST", "/v1/requests", erin, map[string]any{
			"resource": map[string]any{"type": "aws_account", "id": devstack.ProdAccount}, "duration_seconds": 1800, "justification": "reviewed by keyboard"})
		id := r["id"].(string)

		kb := b.tab(t, s) // a fresh tab: no session
		kb.open("/ui/")
		kb.tabTo("the organisation field", `e.id === 'org'`, false)
		kb.keys(d.TenantID)
		kb.press(keyEnter, false)
		kb.waitText("Sign in to "+d.TenantID, 10*time.Second)
		kb.wantFocus("the sign-in screen's heading", `e.tagName === 'H1' && e.textContent === 'Sign in'`)
		kb.tabTo("the sign-in button", `e.tagName === 'BUTTON' && e.textContent.startsWith('Sign in to')`, false)
		kb.press(keyEnter, false)
		kb.waitText("Sign in as "+d.Reviewer.ID, 10*time.Second) // the dev identity provider's page
		kb.axe("the dev identity provider's sign-in page")
		kb.tabTo("Sign in as bob", fmt.Sprintf(`e.name === 'user' && e.value === %q`, d.Reviewer.ID), false)
		kb.press(keyEnter, false)
		kb.waitText(d.Reviewer.ID+" @ "+d.TenantID, 15*time.Second)
		kb.waitText("reviewed by keyboard", 10*time.Second)
		kb.wantFocus("the inbox heading (after sign-in)", `e.tagName === 'H1' && e.textContent === 'Inbox'`)
		// "Skip to content" (the page's first Tab stop) leads past the navigation.
		kb.tabTo("the skip link", `e.classList.contains('skip')`, false)
		kb.press(keyEnter, false)
		kb.wantFocus("the page's content", `e.id === 'main'`)
		kb.tabTo("the request's Open link", fmt.Sprintf(`e.tagName === 'A' && (e.getAttribute('aria-label') || '').includes(%q)`, id), false)
		kb.press(keyEnter, false)
		kb.waitText("Your review", 10*time.Second)
		kb.wantFocus("the request's heading (after navigation)", `e.tagName === 'H1' && e.textContent.startsWith('Request')`)
		kb.axe("request (keyboard reviewer)")

		kb.tabTo("the message field", `e.name === 'message'`, false)
		kb.keys("Is INC-77 the incident?")
		kb.tabToButton("Post message")
		kb.press(keyEnter, false)
		kb.waitText("Message posted.", 10*time.Second)
		kb.waitText("Is INC-77 the incident?", 10*time.Second)
		kb.wantFocus("the message field, ready for the next one", `e.name === 'message'`)

		kb.tabTo("the reasoning field", `e.name === 'reasoning'`, true) // Shift+Tab: back up the page
		kb.keys("INC-77 confirmed on the call")
		kb.tabToButton("Approve")
		kb.press(keySpace, false)
		kb.waitText("You approved this request.", 10*time.Second)
		kb.wantFocus("what happened (the review form is gone)", `e.querySelector && e.querySelector('.notice.ok')`)
		kb.waitText("INC-77 confirmed on the call", 10*time.Second)
		kb.shot("request-approved-by-keyboard")
		kb.axe("request (approved)")
		kb.clean("keyboard review")
		got := s.api(t, "GET", "/v1/requests/"+id, erin, nil)
		if got["status"] != "approved" {
			t.Fatalf("after the keyboard review the request is %v", got["status"])
		}
	})

	t.Run("10 admin: API keys by keyboard (secret once, copy, revoke) and notification channels (errors in words, send test)", func(t *testing.T) {
		admin := b.tab(t, s)
		admin.signInWithToken(d.TenantID, s.person(t, "dana", "jitsudo-admins"))
		admin.open(acme + "/admin/keys")
		admin.waitText("New API key", 10*time.Second)
		admin.axe("admin keys")

		// No scope ticked: the API's refusal, in its words, next to the scopes.
		admin.tabTo("the key's name", `e.name === 'key_name'`, false)
		admin.keys("ci deploy")
		admin.tabToButton("Create key")
		admin.press(keyEnter, false)
		admin.waitText("scopes at least one of admin", 10*time.Second)
		admin.wantFocus("the first scope (the field to fix)", `e.name === 'scopes'`)
		if got := admin.evalString(`(() => { const f = document.querySelector('fieldset[aria-describedby]'); const p = f && document.getElementById(f.getAttribute('aria-describedby')); return p && f.contains(p) ? p.textContent : ''; })()`); !strings.HasPrefix(got, "At least one of admin") {
			t.Fatalf("the scopes' error says %q", got)
		}
		admin.axe("admin keys (field error)")
		admin.shot("admin-keys-error")
		admin.press(keySpace, false) // tick admin
		admin.tabToButton("Create key")
		admin.press(keyEnter, false)
		admin.waitText("Copy it now: it is shown only this once.", 10*time.Second)
		admin.wantFocus("the new secret", `e.name === 'secret'`)
		secret := admin.evalString(`document.querySelector('input[name="secret"]').value`)
		if !strings.HasPrefix(secret, "jit_") {
			t.Fatalf("the shown secret is %q", secret)
		}
		if st, _, _ := devstack.Call(t.Context(), s.st.URL, "GET", "/v1/api-keys", devstack.AdminHeaders(d.TenantID, secret), nil); st != 200 {
			t.Fatalf("the shown key does not work: %d", st)
		}
		admin.axe("admin keys (secret shown)")
		admin.shot("admin-keys-secret")
		admin.tabToButton("Copy")
		admin.press(keyEnter, false)
		admin.waitText("to the clipboard", 5*time.Second) // "Copied to the clipboard." or "Selected: press Ctrl+C … to copy it."
		if !strings.Contains(admin.text(), "Copied to the clipboard.") {
			sel := admin.evalString(`(() => { const i = document.querySelector('input[name="secret"]'); return i.value.slice(i.selectionStart, i.selectionEnd); })()`)
			if sel != secret {
				t.Fatalf("Copy neither copied nor selected the secret (selected %q)", sel)
			}
		}
		admin.tabTo("Done", `e.tagName === 'BUTTON' && e.textContent.startsWith('Done')`, false)
		admin.press(keyEnter, false)
		admin.wantFocus("the list of keys", `e.tagName === 'H2' && e.textContent === 'Keys'`)
		if strings.Contains(admin.text(), secret) || admin.has(`//input[@name="secret"]`) {
			t.Fatal("the secret is still on the page after Done")
		}
		admin.open(acme + "/admin/keys")
		admin.waitText("ci deploy", 10*time.Second)
		if strings.Contains(admin.text(), secret) {
			t.Fatal("the secret is shown again")
		}

		// Revoke, through the confirmation dialog, by keyboard.
		admin.tabTo("Revoke ci deploy", `(e.getAttribute('aria-label') || '').startsWith('Revoke ci deploy')`, false)
		admin.press(keyEnter, false)
		admin.wantFocus("the dialog's safe choice", `e.closest('dialog[open]') && e.textContent === 'Keep'`)
		admin.axe("admin keys (revoke dialog)")
		admin.shot("admin-keys-revoke")
		admin.tabTo("Revoke key", `e.closest('dialog[open]') && e.textContent === 'Revoke key'`, false)
		admin.press(keyEnter, false)
		admin.waitText("API key ci deploy revoked.", 10*time.Second)
		admin.wantFocus("what happened", `e.querySelector && e.querySelector('.notice.ok')`)
		if st, _, _ := devstack.Call(t.Context(), s.st.URL, "GET", "/v1/api-keys", devstack.AdminHeaders(d.TenantID, secret), nil); st != 401 {
			t.Fatalf("the revoked key answers %d, want 401", st)
		}
		admin.shot("admin-keys")

		// Notification channels: a webhook at a local receiver.
		var hits atomic.Int32
		receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Jitsudo-Event") == "channel.test" {
				hits.Add(1)
			}
		}))
		t.Cleanup(receiver.Close)
		admin.open(acme + "/admin/channels")
		admin.waitText("New channel", 10*time.Second)
		admin.axe("admin channels")
		admin.fill(`input[name="channel_name"]`, "ops hook")
		admin.eval(`(() => { const s = document.querySelector('select[name="channel_type"]'); s.value = 'generic_webhook'; s.dispatchEvent(new Event('change')); })()`)
		admin.click(`//button[normalize-space(.)="Create channel"]`) // no URL: the API says what is wrong, next to the field
		admin.waitText("config.url", 10*time.Second)
		// Under the field: the API's message for config.url (the summary names the field).
		inline := admin.evalString(`(() => { const i = document.querySelector('input[name="channel_url"]'); const p = document.getElementById(i.getAttribute('aria-describedby'));
			return i.getAttribute('aria-invalid') === 'true' && p && p.previousElementSibling === i ? p.textContent : ''; })()`)
		if inline == "" || !strings.Contains(strings.ToLower(admin.text()), "config.url "+strings.ToLower(inline)) {
			t.Fatalf("the URL field's error %q is not the API's words for config.url; the page says:\n%s", inline, admin.text())
		}
		admin.wantFocus("the URL field", `e.name === 'channel_url'`)
		admin.axe("admin channels (field error)")
		admin.shot("admin-channels-error")
		admin.fill(`input[name="channel_url"]`, receiver.URL+"/hook")
		admin.click(`//button[normalize-space(.)="Create channel"]`)
		admin.waitText("Signing secret of ops hook", 10*time.Second)
		whsec := admin.evalString(`document.querySelector('input[name="secret"]').value`)
		if !strings.HasPrefix(whsec, "whsec_") {
			t.Fatalf("signing secret %q", whsec)
		}
		admin.axe("admin channels (signing secret shown)")
		admin.shot("admin-channels-secret")
		admin.click(`//button[starts-with(normalize-space(.), "Done")]`)
		admin.click(`//button[@aria-label="Send a test to ops hook"]`)
		admin.waitText("Test delivered to ops hook (HTTP 200).", 15*time.Second)
		if hits.Load() != 1 {
			t.Fatalf("the receiver got %d test events", hits.Load())
		}
		admin.click(`//button[@aria-label="Turn off ops hook"]`)
		admin.waitText("ops hook is off", 10*time.Second)
		admin.wantFocus("the channel's Turn on button", `e.getAttribute('aria-label') === 'Turn on ops hook'`)
		admin.shot("admin-channels")
		admin.open(acme + "/admin/channels")
		admin.waitText("ops hook", 10*time.Second)
		if strings.Contains(admin.text(), whsec) || strings.Contains(admin.text(), "/hook") {
			t.Fatal("the channel's secret or URL path is shown after creation")
		}
		admin.click(`//button[@aria-label="Delete ops hook"]`)
		admin.click(`//dialog[@open]//button[normalize-space(.)="Delete channel"]`)
		admin.waitText("Channel ops hook deleted.", 10*time.Second)
		admin.clean("admin keys and channels")
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
