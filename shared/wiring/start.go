package wiring

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/web"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// The starters are what the functions' main.go files call: each builds a
// function's dependencies once (cold start) and starts the Lambda runtime
// on its handler. They never return; a build failure logs and exits 1, so a
// function that cannot build its dependencies fails loudly instead of
// serving errors.

// Logger is the JSON logger every function uses, at LOG_LEVEL
// (debug|info|warn|error, default info), tagged with the function name.
func Logger(function string) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(str("LOG_LEVEL"))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: level})).With("function", function)
}

func fatal(log *slog.Logger, msg string, err error) {
	log.Error(msg, "error", err.Error())
	os.Exit(1)
}

// start builds D with build and runs the Lambda runtime on handler(D).
func start[D any](function string, build func(context.Context, *slog.Logger) (D, error), handler func(D) any) {
	log := Logger(function)
	d, err := build(context.Background(), log)
	if err != nil {
		fatal(log, "configuration failed", err)
	}
	lambda.Start(handler(d))
}

// serve runs h as the HTTP function for its route(s).
func serve(log *slog.Logger, function string, h http.Handler) {
	if err := lambdaapp.Serve(function, h); err != nil {
		fatal(log, "wiring failed", err)
	}
}

// API runs an API function: handler (api.GetGrant, …) over Deps.
func API(function string, handler func(api.Deps) http.Handler, opts ...Option) {
	log := Logger(function)
	d, err := Deps(context.Background(), log, opts...)
	if err != nil {
		fatal(log, "configuration failed", err)
	}
	serve(log, function, handler(d))
}

// Static runs an HTTP function that has nothing to configure (healthz,
// openapi).
func Static(function string, h http.Handler) { serve(Logger(function), function, h) }

// Web runs the Approvals page's function (WebConfig).
func Web(function string) {
	log := Logger(function)
	site, err := web.New(WebConfig())
	if err != nil {
		fatal(log, "assets", err)
	}
	serve(log, function, site)
}

// with binds a builder's options.
func with[D any](build func(context.Context, *slog.Logger, ...Option) (D, error), opts []Option) func(context.Context, *slog.Logger) (D, error) {
	return func(ctx context.Context, log *slog.Logger) (D, error) { return build(ctx, log, opts...) }
}

// Task runs one of the workers (a Step Functions task, notify-expiring):
// pick chooses its handler from Workers (a method value such as
// w.ExpireGrant).
func Task(function string, pick func(*workflow.Workers) any, opts ...Option) {
	start(function, with(Workers, opts), pick)
}

// Sweep runs the sweep-overdue function.
func Sweep(function string, opts ...Option) {
	start(function, with(Sweeper, opts), func(s *workflow.Sweeper) any { return s.Handle })
}

// RelayOutbox runs the relay-outbox function (Relay).
func RelayOutbox(function string, opts ...Option) {
	start(function, with(Relay, opts), func(c *outbox.Consumer) any { return c.HandleStream })
}

// Deliver runs the deliver-notifications function (Dispatcher).
func Deliver(function string) {
	start(function, Dispatcher, func(d *notify.Dispatcher) any { return d.HandleSNS })
}

// ExtendAudit runs the extend-audit-chain function (Extender).
func ExtendAudit(function string, opts ...Option) {
	start(function, with(Extender, opts), func(x *audit.Extender) any { return x.Handle })
}

// Authorize runs the authorizer function (Authorizer).
func Authorize(function string, opts ...Option) {
	start(function, with(Authorizer, opts), func(a *auth.Authorizer) any { return a.HandleRequest })
}

// Reconciler runs the reconcile-assignments function (Reconcile); pick
// chooses the handler (r.Handle).
func Reconciler[P access.Provider, R any](function string,
	newProvider func(cfg aws.Config, st *store.Store, logger *slog.Logger, pollBudget time.Duration) P,
	newReconcile func(st *store.Store, p P, audit *access.Service, logger *slog.Logger) R, pick func(R) any) {
	start(function, func(ctx context.Context, log *slog.Logger) (R, error) {
		return Reconcile(ctx, log, newProvider, newReconcile)
	}, pick)
}
