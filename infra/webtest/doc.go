// Package webtest drives the Approvals page in a real browser — Debian's
// Chromium, headless, through github.com/chromedp/chromedp — against a
// local stack (infra/devstack), with axe-core (npm, infra/webtest's
// lockfile) injected for accessibility checks. Screenshots of every page
// go to $JITSUDO_SCREENSHOTS (default .dev/screenshots).
package webtest
