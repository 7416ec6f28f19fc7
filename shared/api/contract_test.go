package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/infra/openapicheck"
)

// proxyFunc is a Lambda's HTTP API entry point: API Gateway v2 event →
// httpadapter → route mux → handler.
type proxyFunc = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// contract is the OpenAPI document's validator (infra/openapicheck,
// kin-openapi: test binaries only), loaded once per test binary.
var contract = sync.OnceValues(func() (*openapicheck.Validator, error) {
	return openapicheck.NewValidator(context.Background())
})

// contractChecked counts the calls validated (reported by TestMain).
var contractChecked atomic.Int64

// TestMain says how many handler calls were checked against the document.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && contractChecked.Load() > 0 {
		fmt.Fprintf(os.Stderr, "openapi: %d handler calls validated against the document\n", contractChecked.Load())
	}
	os.Exit(code)
}

// validated wraps proxy so that every call the suite makes through it is
// checked against the OpenAPI document (shared/openapi/openapi.json): the
// response always (an error against the `default` Error schema), the
// request when the API accepted it (2xx) — openapicheck.Validator.Check,
// the rule the devstack suites follow. A call that does not validate
// fails tb.
func validated(tb testing.TB, proxy proxyFunc) proxyFunc {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		resp, err := proxy(ctx, ev)
		if err != nil {
			return resp, err
		}
		if cerr := checkContract(ctx, ev, resp); cerr != nil {
			tb.Errorf("OpenAPI document: %v", cerr)
		}
		contractChecked.Add(1)
		return resp, nil
	}
}

// checkContract validates one API Gateway v2 call against the document.
func checkContract(ctx context.Context, ev events.APIGatewayV2HTTPRequest, resp events.APIGatewayV2HTTPResponse) error {
	v, err := contract()
	if err != nil {
		return err
	}
	target := ev.RawPath
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	req, err := http.NewRequestWithContext(ctx, ev.RequestContext.HTTP.Method, "http://api.test"+target, nil)
	if err != nil {
		return err
	}
	for k, val := range ev.Headers {
		req.Header.Set(k, val)
	}
	reqBody := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if reqBody, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return err
		}
	}
	header := http.Header{}
	for k, val := range resp.Headers {
		header.Set(k, val)
	}
	for k, vals := range resp.MultiValueHeaders {
		header.Del(k)
		for _, val := range vals {
			header.Add(k, val)
		}
	}
	respBody := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if respBody, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(ev.RawPath, "/v1/") {
		return nil
	}
	return v.Check(ctx, req, reqBody, resp.StatusCode, header, respBody)
}

// TestContractCheckRefusesMismatches: the check the suite's calls go
// through refuses an answer the document does not describe — a wrong
// type in a 2xx body, an error without {code, message}, an accepted
// request of the wrong shape, a /v1 route the document does not have —
// and passes a refused invalid request with a proper error.
func TestContractCheckRefusesMismatches(t *testing.T) {
	call := func(method, target, body string) events.APIGatewayV2HTTPRequest {
		path, query, _ := strings.Cut(target, "?")
		return events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path, RawQueryString: query, Body: body,
			Headers:        map[string]string{"content-type": "application/json"},
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path}}}
	}
	answer := func(status int, body string) events.APIGatewayV2HTTPResponse {
		return events.APIGatewayV2HTTPResponse{StatusCode: status, Body: body, Headers: map[string]string{"Content-Type": "application/json"}}
	}
	bad := []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
		resp events.APIGatewayV2HTTPResponse
	}{
		{"2xx body of the wrong type", call("POST", "/v1/api-keys", `{"name":"ci","scopes":["admin"]}`), answer(201, `{"id":5,"name":"ci"}`)},
		{"error without code", call("POST", "/v1/api-keys", `{}`), answer(400, `{"error":"bad"}`)},
		{"accepted request of the wrong shape", call("POST", "/v1/api-keys", `{"name":7}`), answer(201, `{"id":"key-1","name":"ci"}`)},
		{"route not in the document", call("GET", "/v1/secrets", ``), answer(200, `{}`)},
	}
	for _, c := range bad {
		if err := checkContract(t.Context(), c.ev, c.resp); err == nil {
			t.Errorf("%s: validated", c.name)
		}
	}
	ok := checkContract(t.Context(), call("POST", "/v1/api-keys", `{"name":7}`),
		answer(400, `{"code":"invalid_request","message":"invalid API key request","details":{"fields":[{"field":"name","message":"must be a string"}]}}`))
	if ok != nil {
		t.Errorf("a refused invalid request with a proper error: %v", ok)
	}
}
