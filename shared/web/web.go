// Package web serves the Approvals page: static files embedded in the
// binary (go:embed), on the API's own origin (GET / and GET /ui/{proxy+}).
//
// The page is plain ES modules, no build step. File names are content
// hashed when the handler is built (at cold start): every module's
// relative imports are rewritten to the hashed names of what they import,
// then the module itself is hashed, so a changed module changes the names
// of everything that imports it. Hashed files are served with a one-year
// immutable cache lifetime; index.html — the only entry point, answered
// for every page URL under /ui/ so deep links work — is no-cache.
//
// Every answer carries strict security headers: a Content-Security-Policy
// with scripts only from the origin (no inline script, no eval),
// frame-ancestors 'none', X-Content-Type-Options: nosniff and
// Referrer-Policy: no-referrer. The page makes no third-party request;
// ConnectSrc adds the origins of identity providers whose token endpoint is
// on another origin (the code + PKCE exchange is a fetch from the page).
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
)

//go:embed assets
var embedded embed.FS

// AssetPrefix is where hashed files are served.
const AssetPrefix = "/ui/assets/"

// Config of the page's handler.
type Config struct {
	// ConnectSrc: extra origins the page may fetch (an identity
	// provider's token endpoint on another origin), e.g.
	// "https://login.example.com". Each must be an http(s) origin.
	ConnectSrc []string
}

type asset struct {
	body        []byte
	contentType string
}

// Site is the built page: hashed assets and the index.
type Site struct {
	index  []byte
	assets map[string]asset  // by hashed path
	names  map[string]string // logical name → hashed path
	csp    string
}

var importRe = regexp.MustCompile(`((?:\bfrom|\bimport)\s*)(["'])\./([A-Za-z0-9_-]+\.js)(["'])`)
var placeholderRe = regexp.MustCompile(`\{\{asset "([A-Za-z0-9_.-]+)"\}\}`)

// New builds the site from the embedded files.
func New(cfg Config) (*Site, error) { return build(embedded, "assets", cfg) }

func build(fsys fs.FS, dir string, cfg Config) (*Site, error) {
	s := &Site{assets: map[string]asset{}, names: map[string]string{}}
	src := map[string][]byte{}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("web: %s/%s: subdirectories are not supported", dir, e.Name())
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		src[e.Name()] = b
	}
	var visit func(name string, stack []string) (string, error)
	visit = func(name string, stack []string) (string, error) {
		if p, ok := s.names[name]; ok {
			return p, nil
		}
		if slices.Contains(stack, name) {
			return "", fmt.Errorf("web: import cycle %s → %s", strings.Join(stack, " → "), name)
		}
		body, ok := src[name]
		if !ok {
			return "", fmt.Errorf("web: %s imports %q, which does not exist", stack[len(stack)-1], name)
		}
		if strings.HasSuffix(name, ".js") {
			var ferr error
			body = importRe.ReplaceAllFunc(body, func(m []byte) []byte {
				sm := importRe.FindSubmatch(m)
				p, err := visit(string(sm[3]), append(stack, name))
				if err != nil {
					ferr = err
					return m
				}
				return []byte(string(sm[1]) + string(sm[2]) + p + string(sm[4]))
			})
			if ferr != nil {
				return "", ferr
			}
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(name)
		hashed := AssetPrefix + strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		ct := mime.TypeByExtension(ext)
		switch ext {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		if ct == "" {
			return "", fmt.Errorf("web: no content type for %s", name)
		}
		s.assets[hashed] = asset{body: body, contentType: ct}
		s.names[name] = hashed
		return hashed, nil
	}
	for name := range src {
		if name == "index.html" {
			continue
		}
		if _, err := visit(name, []string{"(site)"}); err != nil {
			return nil, err
		}
	}
	index, ok := src["index.html"]
	if !ok {
		return nil, fmt.Errorf("web: no index.html")
	}
	var ierr error
	s.index = placeholderRe.ReplaceAllFunc(index, func(m []byte) []byte {
		name := string(placeholderRe.FindSubmatch(m)[1])
		p, ok := s.names[name]
		if !ok {
			ierr = fmt.Errorf("web: index.html names %q, which does not exist", name)
		}
		return []byte(p)
	})
	if ierr != nil {
		return nil, ierr
	}
	connect := []string{"'self'"}
	for _, o := range cfg.ConnectSrc {
		u, err := url.Parse(o)
		if o == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("web: connect-src %q is not an http(s) origin", o)
		}
		connect = append(connect, u.Scheme+"://"+u.Host)
	}
	s.csp = strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + strings.Join(connect, " "),
		"form-action 'self'",
		"base-uri 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	return s, nil
}

// Must is New for the embedded files, which a test builds: it panics on
// an error.
func Must(cfg Config) *Site {
	s, err := New(cfg)
	if err != nil {
		panic(err)
	}
	return s
}

// Path is the hashed path of a logical asset name ("" if there is none).
func (s *Site) Path(name string) string { return s.names[name] }

func (s *Site) headers(h http.Header) {
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Strict-Transport-Security", "max-age=63072000")
}

// ServeHTTP answers GET (and HEAD) for /, /ui/assets/<hashed> and every
// other /ui/ path (the page's own routes get index.html).
func (s *Site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.headers(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, AssetPrefix):
		a, ok := s.assets[p]
		if !ok {
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		_, _ = w.Write(a.body)
	case p == "/" || p == "/ui" || strings.HasPrefix(p, "/ui/"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(s.index)
	default:
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
	}
}
