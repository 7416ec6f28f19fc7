package routes

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPattern: API Gateway's "/" is that path only and {name+} is greedy;
// the ServeMux patterns say the same.
func TestPattern(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"/", "GET /{$}"},
		{"/ui/{proxy+}", "GET /ui/{proxy...}"},
		{"/v1/requests/{id}", "GET /v1/requests/{id}"},
	} {
		if got := (Route{Method: "GET", Path: c.path}).Pattern(); got != c.want {
			t.Errorf("%s: %s, want %s", c.path, got, c.want)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc(Route{Method: "GET", Path: "/"}.Pattern(), func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) })
	mux.HandleFunc(Route{Method: "GET", Path: "/ui/{proxy+}"}.Pattern(), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proxy", r.PathValue("proxy"))
		w.WriteHeader(202)
	})
	for path, want := range map[string]int{"/": 201, "/ui/t/acme/inbox": 202, "/other": 404} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
