package lambdaapp

import (
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

func TestHealth(t *testing.T) {
	mux, err := Mux("healthz", Health())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpadapter.NewV2(mux).ProxyWithContext(t.Context(), events.APIGatewayV2HTTPRequest{
		RawPath: "/healthz", RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: "/healthz"}},
	})
	if err != nil || resp.StatusCode != 200 || strings.TrimSpace(resp.Body) != `{"status":"ok"}` || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("%v %d %q %v", err, resp.StatusCode, resp.Body, resp.Headers)
	}
}

// TestMuxServesOnlyItsRoutes: a function answers its own route(s) and 404
// for the rest; an unknown function is a wiring error.
func TestMuxServesOnlyItsRoutes(t *testing.T) {
	mux, err := Mux("get-policy-rule", Health())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httpadapter.NewV2(mux).ProxyWithContext
	get := func(path string) int {
		resp, err := proxy(t.Context(), events.APIGatewayV2HTTPRequest{RawPath: path,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path}}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	if got := get("/v1/policy-rules/abc"); got != 200 {
		t.Errorf("own route: %d", got)
	}
	if got := get("/v1/grants"); got != 404 {
		t.Errorf("another function's route: %d, want 404", got)
	}
	if _, err := Mux("no-such-function", Health()); err == nil {
		t.Error("Mux accepted a function without a route")
	}
	for _, w := range routes.Workers {
		if _, err := Mux(w, Health()); err == nil {
			t.Errorf("Mux accepted worker %s, which has no route", w)
		}
	}
}
