// Package openapicheck validates requests and responses against the API's
// OpenAPI document (shared/openapi) with kin-openapi. Tests only: it lives
// outside shared/ so that no function binary links the validator.
package openapicheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/jitsudo/jitsudo-serverless/shared/openapi"
)

// Load parses and validates the document.
func Load(ctx context.Context) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openapi.Document())
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	return doc, nil
}

// Validator checks calls against the document (github.com/getkin/kin-openapi).
type Validator struct {
	router routers.Router
}

// NewValidator loads the document and its router.
func NewValidator(ctx context.Context) (*Validator, error) {
	doc, err := Load(ctx)
	if err != nil {
		return nil, err
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: router: %w", err)
	}
	return &Validator{router: r}, nil
}

// Check validates one call: the response always (an error answer against
// the `default` Error schema), the request only when the API accepted it
// (2xx) — suites send invalid requests on purpose, and the contract is
// what a request the API accepts looks like. A /v1 method and path the
// document does not have is an error unless the API refused it as no
// route (404, 405).
func (v *Validator) Check(ctx context.Context, req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	r := req.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(r)
	if err != nil && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) {
		return nil // not a route, and the API says so
	}
	if err != nil {
		return fmt.Errorf("%s %s: not in the OpenAPI document: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	var errs []error
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			errs = append(errs, fmt.Errorf("request: %w", err))
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header,
		Body: io.NopCloser(bytes.NewReader(respBody)), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		errs = append(errs, fmt.Errorf("response %d: %w", status, err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, errors.Join(errs...))
	}
	return nil
}

// Transport is an http.RoundTripper that validates every /v1 call it
// carries (Check) and records what fails; tests install it on their
// clients and fail on Failures.
type Transport struct {
	Base      http.RoundTripper
	Validator *Validator
	mu        sync.Mutex
	failures  []string
	checked   int
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return t.roundTrip(base, req)
}

// Over is a RoundTripper over base that validates like t and records in
// t: for a suite's own http.Client (its own connection pool).
func (t *Transport) Over(base http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) { return t.roundTrip(base, req) })
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (t *Transport) roundTrip(base http.RoundTripper, req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Path, "/v1/") {
		return base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	t.record(t.Validator.Check(req.Context(), req, reqBody, resp.StatusCode, resp.Header, respBody))
	return resp, nil
}

// Failures are the calls that did not validate; Checked counts the calls seen.
func (t *Transport) Failures() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.failures...)
}

// Checked is the number of /v1 calls validated.
func (t *Transport) Checked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.checked
}

// Installed is the Transport RunValidated put on http.DefaultClient (nil
// before): a suite adds its server-side checks to it (Middleware) so that
// one run reports every mismatch.
var Installed *Transport

// RunValidated runs a test binary's tests (m.Run) with every /v1 call
// they make through http.DefaultClient validated against the document
// (Transport: responses always, requests the API accepted), and every
// call through Installed.Middleware; a call that does not validate fails
// the run. Call it from TestMain: os.Exit(openapicheck.RunValidated(m)).
func RunValidated(m *testing.M) int {
	v, err := NewValidator(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	vt := &Transport{Base: http.DefaultTransport, Validator: v}
	http.DefaultClient.Transport, Installed = vt, vt
	code := m.Run()
	if f := vt.Failures(); len(f) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d of %d API calls do not match the OpenAPI document (shared/openapi/openapi.json):\n", len(f), vt.Checked())
		for _, s := range f {
			fmt.Fprintln(os.Stderr, "  "+s)
		}
		return 1
	}
	if code == 0 {
		fmt.Fprintf(os.Stderr, "openapi: %d API calls validated against the document\n", vt.Checked())
	}
	return code
}

// Middleware validates every /v1 call next serves, as RoundTrip does for
// the calls a client makes, recording failures in t: for a server whose
// callers are not Go clients (a browser).
func (t *Transport) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		var reqBody []byte
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, "read body", http.StatusBadRequest)
				return
			}
			reqBody = b
			r.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		rec := &teeWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		t.record(t.Validator.Check(r.Context(), r, reqBody, rec.status, w.Header(), rec.body.Bytes()))
	})
}

// teeWriter writes through to the client and keeps the status and body.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *teeWriter) WriteHeader(status int) {
	if !w.wrote {
		w.status, w.wrote = status, true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.wrote = true
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Flush lets streamed answers through.
func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *Transport) record(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.checked++
	if err != nil {
		t.failures = append(t.failures, err.Error())
	}
}
