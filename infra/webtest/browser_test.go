package webtest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/openapicheck"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// stack is one seeded local system shared by the package's tests.
type stack struct {
	st   *devstack.Stack
	demo devstack.Demo
}

func newStack(t *testing.T) *stack {
	t.Helper()
	keys, err := devstack.TestKeys()
	if err != nil {
		t.Fatal(err)
	}
	cfg := devstack.Config{Addr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), SigningKeys: keys}
	if openapicheck.Installed != nil { // TestMain: what the browser sends and gets is checked against the OpenAPI document too
		cfg.Wrap = openapicheck.Installed.Middleware
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
	return &stack{st: st, demo: demo}
}

// chromium finds Debian's Chromium (never a downloaded browser).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("JITSUDO_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed: apt-get install chromium (.ci/run installs it)")
	return ""
}

// browser is one headless Chromium with a fresh profile; each tab records
// JavaScript dialogs, exceptions and Content-Security-Policy violations.
type browser struct {
	t     *testing.T
	alloc context.Context
	mu    sync.Mutex
	// What every tab saw.
	dialogs, exceptions []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// The first tab starts the browser; tabs made from it share it.
	first, cancelFirst := chromedp.NewContext(alloc)
	t.Cleanup(cancelFirst)
	if err := chromedp.Do(first, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, alloc: first}
}

// tab is one page of the browser, with the stack it talks to.
type tab struct {
	b   *browser
	s   *stack
	ctx context.Context
	t   *testing.T
}

// cspProbe runs before the page's own scripts (CDP, not subject to the
// page's CSP) and records every securitypolicyviolation the page reports.
const cspProbe = `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`

func (b *browser) tab(t *testing.T, s *stack) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.alloc)
	t.Cleanup(cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.mu.Lock()
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
			b.mu.Unlock()
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		case *runtime.EventExceptionThrown:
			b.mu.Lock()
			b.exceptions = append(b.exceptions, exceptionText(e.ExceptionDetails))
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspProbe}); err != nil {
		t.Fatal(err)
	}
	return &tab{b: b, s: s, ctx: ctx, t: t}
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}

func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.shot("failure-" + strings.ReplaceAll(tb.t.Name(), "/", "-"))
		tb.t.Fatalf("browser: %v\npage text:\n%s", err, tb.text())
	}
}

func (tb *tab) text() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	return s
}

// open loads a page of the app.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(tb.s.st.URL + path))
}

// waitText waits until the page shows want.
func (tb *tab) waitText(want string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		txt := tb.text()
		if strings.Contains(txt, want) {
			return
		}
		if time.Now().After(deadline) {
			tb.shot("failure-" + strings.ReplaceAll(tb.t.Name(), "/", "-"))
			tb.t.Fatalf("the page does not show %q within %s; it shows:\n%s", want, timeout, txt)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// signIn makes the tab signed in as person (one of the demo's) to tenant
// the real way: the page's "Sign in" button, OIDC code + PKCE against the
// tenant's dev identity provider (infra/devidp), whose page has one "Sign
// in as <user>" button per demo user, back to /ui/callback.
func (tb *tab) signIn(tenant string, person devstack.Person) {
	tb.t.Helper()
	if !signInRoute() {
		tb.t.Fatal("no tenant sign-in route (GET /v1/tenants/{tenant_id}/sign-in) in the route table")
	}
	tb.open("/ui/t/" + tenant + "/inbox")
	tb.click(`//button[starts-with(normalize-space(.), "Sign in to")]`)
	user := chromedp.CSS(fmt.Sprintf(`button[name="user"][value=%q]`, person.ID))
	tb.run(chromedp.WaitVisible(user), chromedp.Click(user))
	tb.waitText(person.ID+" @ "+tenant, 15*time.Second)
	if got := tb.currentPath(); got != "/ui/t/"+tenant+"/inbox" {
		tb.t.Fatalf("after sign-in the page is at %s, want back at the inbox", got)
	}
}

// signInWithToken gives the tab a session with token, a JWT of the
// deployment's default issuer (which the demo tenants also accept): for
// people the tenant's dev IdP does not have, such as an admin.
func (tb *tab) signInWithToken(tenant string, person devstack.Person) {
	tb.t.Helper()
	tb.open("/ui/")
	session, _ := json.Marshal(map[string]any{"token": person.Token, "expires_at": time.Now().Add(time.Hour).UnixMilli(),
		"sub": person.ID, "groups": person.Groups})
	tb.eval(fmt.Sprintf(`sessionStorage.setItem(%q, %q)`, "jitsudo.session."+tenant, string(session)))
}

// token is the access token the page keeps for tenant (to set up what a
// scenario needs as the same person, through the API).
func (tb *tab) token(tenant string) string {
	tb.t.Helper()
	return tb.evalString(fmt.Sprintf(`JSON.parse(sessionStorage.getItem(%q)).token`, "jitsudo.session."+tenant))
}

func signInRoute() bool {
	return slices.ContainsFunc(routes.Table, func(r routes.Route) bool { return r.Key() == "GET /v1/tenants/{tenant_id}/sign-in" })
}

// shot saves a screenshot of the tab as <dir>/<name>.png.
func (tb *tab) shot(name string) {
	dir := os.Getenv("JITSUDO_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", ".dev", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Log(err)
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	_ = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
}

// axe runs axe-core in the page and fails on serious or critical violations.
func (tb *tab) axe(what string) {
	tb.t.Helper()
	src, err := os.ReadFile(filepath.Join("node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		tb.t.Fatalf("axe-core is not installed (make npm): %v", err)
	}
	tb.eval(string(src) + "; 0")
	ctx, cancel := context.WithTimeout(tb.ctx, 60*time.Second)
	defer cancel()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ['violations']}).then((r) => JSON.stringify(r.violations
			.filter((v) => v.impact === 'serious' || v.impact === 'critical')
			.map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' — ' + v.nodes.map((n) => n.target.join(' ')).join(', '))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("axe: %v", err)
	}
	var violations []string
	_ = json.Unmarshal([]byte(out), &violations)
	for _, v := range violations {
		tb.t.Errorf("axe on %s: %s", what, v)
	}
}

// clean asserts no dialog opened, no exception escaped and the CSP
// blocked nothing on this tab's current page.
func (tb *tab) clean(what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp || []`))
	if err != nil {
		tb.t.Fatal(err)
	}
	if len(csp) > 0 {
		tb.t.Errorf("%s: the Content-Security-Policy blocked %v", what, csp)
	}
	tb.b.mu.Lock()
	defer tb.b.mu.Unlock()
	if len(tb.b.dialogs) > 0 {
		tb.t.Errorf("%s: dialogs opened: %v", what, tb.b.dialogs)
	}
	if len(tb.b.exceptions) > 0 {
		tb.t.Errorf("%s: uncaught exceptions: %v", what, tb.b.exceptions)
	}
}

func (tb *tab) click(xpath string) {
	tb.t.Helper()
	tb.run(chromedp.WaitVisible(chromedp.Search(xpath)), chromedp.Click(chromedp.Search(xpath)))
}

func (tb *tab) evalString(script string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](script, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("eval: %v", err)
	}
	return v
}

func (tb *tab) evalInt(script string) int {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](script))
	if err != nil {
		tb.t.Fatalf("eval: %v", err)
	}
	return v
}

// keys types into the focused element, as a keyboard does.
func (tb *tab) keys(s string) {
	tb.t.Helper()
	tb.run(chromedp.KeyEvent(s))
}

// eval runs a script in the page (through CDP: not subject to its CSP).
func (tb *tab) eval(script string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](script)); err != nil {
		tb.t.Fatalf("eval: %v", err)
	}
}

func (tb *tab) fill(sel, value string) {
	tb.t.Helper()
	tb.run(chromedp.WaitVisible(chromedp.CSS(sel)))
	tb.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ''; e.focus(); })()`, sel))
	tb.run(chromedp.SendKeys(chromedp.CSS(sel), value))
}

// waitValue waits until the value of the input or textarea sel holds
// want, and returns it.
func (tb *tab) waitValue(sel, want string, timeout time.Duration) string {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := tb.evalString(fmt.Sprintf(`(document.querySelector(%q) || {}).value || ''`, sel))
		if strings.Contains(v, want) {
			return v
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("%s does not hold %q within %s: %q", sel, want, timeout, v)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// waitTrue waits until the JavaScript expression js is true.
func (tb *tab) waitTrue(what, js string, timeout time.Duration) {
	tb.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](js))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.shot("failure-" + strings.ReplaceAll(tb.t.Name(), "/", "-"))
			tb.t.Fatalf("not within %s: %s (%v); the page shows:\n%s", timeout, what, err, tb.text())
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// has reports whether the page has an element matching xpath now.
func (tb *tab) has(xpath string) bool {
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.evaluate(%q, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, xpath)))
	if err != nil {
		tb.t.Fatal(err)
	}
	return n > 0
}

// currentPath is the page's location path.
func (tb *tab) currentPath() string {
	p, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		tb.t.Fatal(err)
	}
	return p
}

func requestIDFromPath(t *testing.T, p string) string {
	t.Helper()
	i := strings.LastIndex(p, "/requests/")
	if i < 0 {
		t.Fatalf("not a request page: %s", p)
	}
	return p[i+len("/requests/"):]
}

// ---------------------------------------------------------------- keyboard

// Keys as chromedp.KeyEvent takes them.
const (
	keyTab   = "\t"
	keyEnter = "\r"
	keySpace = " "
)

// press sends one key (optionally with Shift) to the focused element, as
// a keyboard does: real key events, no element.click().
func (tb *tab) press(key string, shift bool) {
	tb.t.Helper()
	var opts []chromedp.KeyOption
	if shift {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	tb.run(chromedp.KeyEvent(key, opts...))
}

// focusedJS describes document.activeElement for failure messages.
const focusedJS = `(() => { const e = document.activeElement; if (!e) return 'nothing';
	return e.tagName.toLowerCase() + (e.name ? '[name=' + e.name + ']' : '') + (e.getAttribute('aria-label') ? '[aria-label=' + e.getAttribute('aria-label') + ']' : '') +
		' "' + (e.innerText || e.value || '').trim().slice(0, 40) + '"'; })()`

// focused reports whether the focused element matches pred, a JavaScript
// expression over e (document.activeElement).
func (tb *tab) focused(pred string) bool {
	tb.t.Helper()
	ok, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool](`(() => { const e = document.activeElement; return !!e && e !== document.body && !!(`+pred+`); })()`))
	if err != nil {
		tb.t.Fatalf("focused: %v", err)
	}
	return ok
}

// tabTo presses Tab (Shift+Tab with back) until the focused element
// matches pred (see focused), at most 80 times, then checks the focus is
// visible: the element matches :focus-visible and draws an outline.
func (tb *tab) tabTo(what, pred string, back bool) {
	tb.t.Helper()
	for range 80 {
		tb.press(keyTab, back)
		if tb.focused(pred) {
			tb.focusVisible(what)
			return
		}
	}
	tb.shot("failure-" + strings.ReplaceAll(tb.t.Name(), "/", "-"))
	tb.t.Fatalf("Tab never reached %s; focus is on %s", what, tb.evalString(focusedJS))
}

// tabToButton presses Tab until the button labelled label has focus.
func (tb *tab) tabToButton(label string) {
	tb.t.Helper()
	tb.tabTo(label, fmt.Sprintf(`e.tagName === 'BUTTON' && e.textContent === %q`, label), false)
}

// focusVisible fails unless the focused element shows that it has focus.
func (tb *tab) focusVisible(what string) {
	tb.t.Helper()
	visible := tb.evalString(`(() => { const e = document.activeElement; if (!e || e === document.body) return 'nothing focused';
		if (!e.matches(':focus-visible')) return 'not :focus-visible';
		const s = getComputedStyle(e);
		if ((s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0) && s.boxShadow === 'none') return 'no outline';
		const r = e.getBoundingClientRect(); if (r.width === 0 || r.height === 0) return 'not on screen';
		return 'ok'; })()`)
	if visible != "ok" {
		tb.t.Errorf("the focus on %s is not visible: %s", what, visible)
	}
}

// wantFocus fails unless the focused element matches pred.
func (tb *tab) wantFocus(what, pred string) {
	tb.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !tb.focused(pred) {
		if time.Now().After(deadline) {
			tb.t.Fatalf("focus should be on %s; it is on %s", what, tb.evalString(focusedJS))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
