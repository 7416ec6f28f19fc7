package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/openapicheck"
	"github.com/jitsudo/jitsudo-serverless/shared/openapi"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// TestDocumentMatchesRouteTable: every /v1 route of shared/routes.Table is
// in the document, and nothing else is.
func TestDocumentMatchesRouteTable(t *testing.T) {
	doc, err := openapicheck.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	var want, got []string
	for _, r := range routes.Table {
		if strings.HasPrefix(r.Path, "/v1/") {
			want = append(want, r.Key())
		}
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			got = append(got, method+" "+path)
			if op.Responses.Default() == nil {
				t.Errorf("%s %s: no default (error) response", method, path)
			}
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("route %s is not in the document", k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("the document has %s, which is not in the route table", k)
		}
	}
	for _, r := range routes.Table {
		if !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		op := doc.Paths.Find(r.Path).GetOperation(r.Method)
		public := op != nil && op.Security != nil && len(*op.Security) == 0
		if op != nil && public != r.Public {
			t.Errorf("%s: public in the route table %v, in the document %v", r.Key(), r.Public, public)
		}
	}
}

// TestPageCallsAreInDocument: every call the Approvals page's API client
// (shared/web/assets/api.js) makes is a method and path of the document,
// with query parameters the document declares.
func TestPageCallsAreInDocument(t *testing.T) {
	doc, err := openapicheck.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../web/assets/api.js")
	if err != nil {
		t.Fatal(err)
	}
	type call struct{ method, path, query string }
	var calls []call
	text := string(src)
	for _, m := range regexp.MustCompile(`call\('([A-Z]+)', `).FindAllStringSubmatchIndex(text, -1) {
		c := call{method: text[m[2]:m[3]]}
		rest := text[m[1]:]
		for {
			rest = strings.TrimLeft(rest, " ")
			switch {
			case strings.HasPrefix(rest, "'"):
				end := strings.Index(rest[1:], "'")
				c.path += rest[1 : end+1]
				rest = rest[end+2:]
			case strings.HasPrefix(rest, "id("):
				c.path += "{id}"
				rest = rest[strings.Index(rest, ")")+1:]
			case strings.HasPrefix(rest, "q("):
				depth, i := 0, 1
				for ; i < len(rest); i++ {
					if rest[i] == '(' {
						depth++
					} else if rest[i] == ')' {
						if depth--; depth == 0 {
							break
						}
					}
				}
				c.query = rest[2:i]
				rest = rest[i+1:]
			}
			rest = strings.TrimLeft(rest, " ")
			if !strings.HasPrefix(rest, "+") {
				break
			}
			rest = rest[1:]
		}
		calls = append(calls, c)
	}
	if len(calls) < 25 {
		t.Fatalf("found only %d calls in api.js: is the pattern still right?", len(calls))
	}
	for _, c := range calls {
		method, path, expr := c.method, c.path, c.path+" q("+c.query+")"
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("api.js calls %s %s (%s), which the document does not have", method, path, expr)
			continue
		}
		op := item.GetOperation(method)
		if m := regexp.MustCompile(`^\{([^}]*)\}`).FindStringSubmatch(c.query); m != nil {
			for _, kv := range strings.Split(m[1], ",") {
				name := strings.TrimSpace(strings.SplitN(kv, ":", 2)[0])
				if name == "" || strings.HasPrefix(name, "...") {
					continue
				}
				if op.Parameters.GetByInAndName("query", name) == nil {
					t.Errorf("api.js sends query parameter %q to %s %s, which the document does not declare", name, method, path)
				}
			}
		}
	}
}

func TestHandlerServesDocument(t *testing.T) {
	rec := httptest.NewRecorder()
	openapi.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/openapi.json", nil))
	var v map[string]any
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || json.Unmarshal(rec.Body.Bytes(), &v) != nil || v["openapi"] != "3.1.0" {
		t.Fatalf("%d %s", rec.Code, rec.Header())
	}
}

// TestValidatorCatches: the validator refuses what breaks the contract, so
// the suites' calls passing it means something.
func TestValidatorCatches(t *testing.T) {
	ctx := context.Background()
	v, err := openapicheck.NewValidator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := func(method, path, body string) *http.Request {
		r := httptest.NewRequest(method, "http://127.0.0.1"+path, bytes.NewBufferString(body))
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		return r
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	good := `{"id":"req_1","tenant_id":"acme","requester_id":"alice","resource":{"type":"aws_account","id":"1"},"status":"pending","duration_seconds":60,"break_glass":false,"created_at":"2026-01-01T00:00:00Z"}`
	if err := v.Check(ctx, req("GET", "/v1/requests/req_1", ""), nil, 200, hdr, []byte(good)); err != nil {
		t.Fatalf("a good answer: %v", err)
	}
	for name, c := range map[string]struct {
		r      *http.Request
		body   string
		status int
		resp   string
	}{
		"unknown path":        {req("GET", "/v1/nope", ""), "", 200, `{}`},
		"unknown path, 400":   {req("GET", "/v1/nope", ""), "", 400, `{"code":"x","message":"y"}`},
		"wrong status value":  {req("GET", "/v1/requests/req_1", ""), "", 200, strings.Replace(good, `"pending"`, `"waiting"`, 1)},
		"missing field":       {req("GET", "/v1/requests/req_1", ""), "", 200, strings.Replace(good, `"requester_id":"alice",`, "", 1)},
		"error without code":  {req("GET", "/v1/requests/req_1", ""), "", 404, `{"message":"x"}`},
		"accepted bad body":   {req("POST", "/v1/requests/req_1/messages", `{"body":5}`), `{"body":5}`, 201, `{"id":"m","request_id":"r","author_type":"user","author_id":"a","body":"x","created_at":"2026-01-01T00:00:00Z"}`},
		"undeclared response": {req("POST", "/v1/requests/req_1/cancel", ""), "", 201, good},
	} {
		if err := v.Check(ctx, c.r, []byte(c.body), c.status, hdr, []byte(c.resp)); err == nil {
			t.Errorf("%s: validated", name)
		}
	}
}
