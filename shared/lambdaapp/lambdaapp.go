// Package lambdaapp serves an HTTP handler as a Lambda function behind API
// Gateway (HTTP API, payload 2.0) on its routes of the route table, and
// answers /healthz. shared/wiring starts every function through it (HTTP)
// or through the Lambda runtime directly (any other handler).
package lambdaapp

import (
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// Mux serves h on the route pattern of function (so path parameters are
// available through r.PathValue) and answers 404 for anything else.
func Mux(function string, h http.Handler) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	found := false
	for _, r := range routes.Table {
		if r.Function == function {
			mux.Handle(r.Pattern(), h)
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("lambdaapp: no route for function %q", function)
	}
	return mux, nil
}

// Serve runs h as the Lambda function for its route(s) in the route
// table. It returns only an error: function has no route.
func Serve(function string, h http.Handler) error {
	mux, err := Mux(function, h)
	if err != nil {
		return err
	}
	lambda.Start(httpadapter.NewV2(mux).ProxyWithContext)
	return nil
}

// Health serves GET /healthz. It lives here, not with the API handlers, so
// the healthz function links nothing but the Lambda runtime and the proxy.
func Health() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("{\"status\":\"ok\"}\n"))
	})
}
