package openapicheck_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/openapicheck"
)

// TestMiddlewareRecordsMismatches: the server-side check passes what the
// document describes, records what it does not, and leaves other paths
// alone; the client still gets the answer as it was.
func TestMiddlewareRecordsMismatches(t *testing.T) {
	v, err := openapicheck.NewValidator(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	vt := &openapicheck.Transport{Validator: v}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/api-keys": // a list whose data is not an array
			_, _ = io.WriteString(w, `{"data":"nope","has_more":false}`)
		case "/v1/requests/r-1": // a proper error
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code":"not_found","message":"request not found"}`)
		default:
			_, _ = io.WriteString(w, `{"whatever":true}`)
		}
	})
	srv := httptest.NewServer(vt.Middleware(api))
	defer srv.Close()
	for _, p := range []string{"/v1/api-keys", "/v1/requests/r-1", "/ui/anything"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if len(body) == 0 {
			t.Errorf("%s: the client got no body", p)
		}
	}
	if vt.Checked() != 2 {
		t.Errorf("checked %d calls, want the 2 under /v1/", vt.Checked())
	}
	f := vt.Failures()
	if len(f) != 1 || !strings.Contains(f[0], "GET /v1/api-keys") {
		t.Errorf("failures %q, want only GET /v1/api-keys", f)
	}
}
