package web

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestSite(t *testing.T) {
	s, err := New(Config{ConnectSrc: []string{"https://login.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/", "/ui/", "/ui/t/acme/inbox", "/ui/t/acme/requests/req_1", "/ui/callback"} {
		rec := get(t, s, p)
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Fatalf("%s: %d %v", p, rec.Code, rec.Header())
		}
		body := rec.Body.String()
		if !strings.Contains(body, `src="`+s.Path("app.js")+`"`) || !strings.Contains(body, `href="`+s.Path("style.css")+`"`) {
			t.Fatalf("%s: index does not name the hashed assets:\n%s", p, body)
		}
		// No inline script: every <script> has a src, and no on* handler attributes.
		if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(body) || regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(body) {
			t.Fatalf("%s: inline script in index.html", p)
		}
	}
	rec := get(t, s, "/")
	h := rec.Header()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "connect-src 'self' https://login.example.com"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline script or eval: %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers %v", h)
	}
	// Hashed assets: long-lived, and imports rewritten to hashed names.
	app := get(t, s, s.Path("app.js"))
	if app.Code != 200 || app.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.HasPrefix(app.Header().Get("Content-Type"), "text/javascript") {
		t.Fatalf("app.js: %d %v", app.Code, app.Header())
	}
	if !strings.Contains(app.Body.String(), `from '`+s.Path("api.js")+`'`) || strings.Contains(app.Body.String(), `from './`) {
		t.Fatalf("app.js imports are not rewritten to hashed names")
	}
	if app.Header().Get("Content-Security-Policy") == "" {
		t.Fatal("assets carry the headers too")
	}
	for _, p := range []string{"/ui/assets/app.js", "/ui/assets/app.000000000000.js", "/favicon.ico", "/v1/requests"} {
		if rec := get(t, s, p); rec.Code != 404 {
			t.Errorf("%s: %d", p, rec.Code)
		}
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/ui/", nil))
	if rec.Code != 405 {
		t.Errorf("POST: %d", rec.Code)
	}
	// No third-party request: no absolute URL to another origin in any asset.
	for name, a := range s.assets {
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`).FindString(string(a.body)); m != "" {
			t.Errorf("%s references %q", name, m)
		}
	}
}

// TestHashesFollowImports: changing a module changes the name of every
// module that imports it, so a cached importer never loads a stale module.
func TestHashesFollowImports(t *testing.T) {
	fsys := fstest.MapFS{
		"a/index.html": {Data: []byte(`<script type="module" src="{{asset "main.js"}}"></script>`)},
		"a/main.js":    {Data: []byte(`import { x } from './dep.js';`)},
		"a/dep.js":     {Data: []byte(`export const x = 1;`)},
	}
	s1, err := build(fsys, "a", Config{})
	if err != nil {
		t.Fatal(err)
	}
	fsys["a/dep.js"] = &fstest.MapFile{Data: []byte(`export const x = 2;`)}
	s2, err := build(fsys, "a", Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s1.Path("dep.js") == s2.Path("dep.js") || s1.Path("main.js") == s2.Path("main.js") {
		t.Fatalf("hashes did not follow: %s %s / %s %s", s1.Path("main.js"), s1.Path("dep.js"), s2.Path("main.js"), s2.Path("dep.js"))
	}
	fsys["a/main.js"] = &fstest.MapFile{Data: []byte(`import './missing.js';`)}
	if _, err := build(fsys, "a", Config{}); err == nil {
		t.Fatal("a missing import built")
	}
	fsys["a/main.js"] = &fstest.MapFile{Data: []byte(`import './dep.js';`)}
	fsys["a/dep.js"] = &fstest.MapFile{Data: []byte(`import './main.js';`)}
	if _, err := build(fsys, "a", Config{}); err == nil {
		t.Fatal("an import cycle built")
	}
	fsys["a/dep.js"] = &fstest.MapFile{Data: []byte(`export const x = 3;`)}
	if _, err := build(fsys, "a", Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := build(fsys, "a", Config{ConnectSrc: []string{"javascript:alert(1)"}}); err == nil {
		t.Fatal("a bad connect-src origin built")
	}
}
