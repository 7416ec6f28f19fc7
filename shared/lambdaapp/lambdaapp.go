// Package lambdaapp starts a function: an HTTP handler behind API Gateway
// (HTTP API, payload 2.0) with Run, any other handler (a Step Functions
// task, a stream, SNS or schedule consumer) with Worker. Functions'
// main.go files call one of them and nothing else of substance.
package lambdaapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// Logger returns the JSON logger every function uses, at LOG_LEVEL
// (debug|info|warn|error, default info), tagged with the function name.
func Logger(function string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.String("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).With("function", function)
}

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

// Start runs h as the Lambda function for its route(s) in the route table.
// It never returns.
func Start(function string, h http.Handler) {
	mux, err := Mux(function, h)
	if err != nil {
		Fatal(Logger(function), "wiring failed", err)
	}
	lambda.Start(httpadapter.NewV2(mux).ProxyWithContext)
}

// Fatal logs err and exits: a function that cannot build its dependencies at
// cold start fails loudly instead of serving errors.
func Fatal(log *slog.Logger, msg string, err error) {
	log.Error(msg, "error", err.Error())
	os.Exit(1)
}

// Run builds a function's dependencies once (cold start) with build, then
// serves handler(deps) as the Lambda function for its route. It never
// returns; a build failure exits loudly.
func Run[D any](function string, build func(context.Context, *slog.Logger) (D, error), handler func(D) http.Handler) {
	log := Logger(function)
	deps, err := build(context.Background(), log)
	if err != nil {
		Fatal(log, "configuration failed", err)
	}
	Start(function, handler(deps))
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

// Worker builds a non-HTTP function's dependencies once (cold start) with
// build and starts the Lambda runtime on the handler that handler picks
// from them (a method value such as w.ExpireGrant). It never returns; a
// build failure exits loudly.
func Worker[D any](function string, build func(context.Context, *slog.Logger) (D, error), handler func(D) any) {
	log := Logger(function)
	deps, err := build(context.Background(), log)
	if err != nil {
		Fatal(log, "configuration failed", err)
	}
	lambda.Start(handler(deps))
}
