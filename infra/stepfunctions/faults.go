package stepfunctions

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Faults is a test hook in front of a local Step Functions endpoint: a
// reverse proxy to the shim that can be told to refuse every call for a
// while, as an outage or sustained throttling of the real service looks
// to a client: HTTP 400 with the JSON 1.0 error ThrottlingException (which
// the SDK's retryer retries, then gives up on). Use its URL as the sfn
// client's BaseEndpoint. It does not imitate Step Functions: every call it
// lets through is the shim's.
type Faults struct {
	proxy   *httputil.ReverseProxy
	mu      sync.Mutex
	until   time.Time
	refused atomic.Int64
}

// NewFaults proxies to the shim at endpoint.
func NewFaults(endpoint string) (*Faults, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	// A client that gave up (its context ended) is no error to log.
	p.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	return &Faults{proxy: p}, nil
}

// RefuseFor makes every call for the next d refused (d <= 0: none from now).
func (f *Faults) RefuseFor(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.until = time.Now().Add(d)
}

// Refusing reports whether calls are refused now.
func (f *Faults) Refusing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Before(f.until)
}

// Refused is how many calls were refused so far.
func (f *Faults) Refused() int64 { return f.refused.Load() }

// ServeHTTP refuses or forwards one call. The debug and health endpoints
// of the shim are never refused (tests observe through them).
func (f *Faults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/" && f.Refusing() {
		f.refused.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.swf.service.model#ThrottlingException","message":"Rate exceeded (injected by stepfunctions.Faults)"}`))
		return
	}
	f.proxy.ServeHTTP(w, r)
}
