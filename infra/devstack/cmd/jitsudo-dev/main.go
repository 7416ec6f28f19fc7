// Command jitsudo-dev runs the whole jitsudo stack on localhost (`make dev`):
// embedded DynamoDB, a local OIDC issuer, the authorizer and every function
// behind an API Gateway emulation, seeded with demo tenants. No AWS account,
// no Docker. Everything lives in memory: each start has fresh data and fresh
// credentials. The console shows the banner, the credentials and one
// `[event]` line per notification; the JSON logs go to a file (-log-file).
// Ctrl-C stops everything, removes the credentials file and exits 0.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	addr := flag.String("addr", envOr("JITSUDO_DEV_ADDR", "127.0.0.1:8080"), "listen address")
	envFile := flag.String("env-file", envOr("JITSUDO_DEV_ENV_FILE", ".dev/demo.env"), "where to write the demo credentials (removed on exit)")
	logFile := flag.String("log-file", envOr("JITSUDO_DEV_LOG_FILE", ".dev/jitsudo-dev.log"), "where the JSON logs go (truncated at start)")
	dynamo := flag.String("dynamodb-endpoint", os.Getenv("JITSUDO_DEV_DYNAMODB_ENDPOINT"), "external DynamoDB-API endpoint (default: embedded)")
	flag.String("slack-webhook-url", os.Getenv("JITSUDO_DEV_SLACK_WEBHOOK_URL"), "a Slack incoming-webhook URL: the demo tenant's events are posted there")
	flag.Parse()
	os.Exit(run(*addr, *envFile, *logFile, *dynamo, flag.Lookup("slack-webhook-url").Value.String()))
}

func run(addr, envFile, logFile, dynamo, slackURL string) int {
	if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "jitsudo-dev:", err)
		return 1
	}
	logs, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "jitsudo-dev:", err)
		return 1
	}
	defer logs.Close()
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// fail reports a startup failure on the console and in the log.
	fail := func(msg string, err error) int {
		logger.Error(msg, "error", err.Error())
		fmt.Fprintf(os.Stderr, "jitsudo-dev: %s: %v (logs: %s)\n", msg, err, logFile)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	limits, err := wiring.Limits() // RATE_LIMIT_*, MAX_MESSAGES_PER_REQUEST, as in AWS
	if err != nil {
		return fail("abuse limits", err)
	}
	st, err := devstack.Start(ctx, devstack.Config{Addr: addr, DynamoDBEndpoint: dynamo, Logger: logger, Console: os.Stdout, ShimLog: logs,
		SweepEvery: time.Minute, // sweep-overdue's default schedule
		Limits:     &limits})
	if err != nil {
		return fail("dev stack failed to start", err)
	}
	defer st.Close()
	demo, err := devstack.Seed(ctx, st)
	if err != nil {
		return fail("seeding the demo tenants failed", err)
	}
	if slackURL != "" {
		if _, err := devstack.SeedSlackChannel(ctx, st, demo, slackURL); err != nil {
			fmt.Fprintf(os.Stderr, "jitsudo-dev: the Slack channel was refused: %v\n", err)
		}
	}
	if err := demo.WriteEnvFile(envFile); err != nil {
		return fail("writing the env file failed", err)
	}
	defer os.Remove(envFile)
	fmt.Println(demo.Walkthrough(envFile))
	fmt.Printf("Data is in memory and the credentials are new on every start. JSON logs: %s\n\n", logFile)
	<-ctx.Done()
	fmt.Println("\nstopping the dev stack (removing " + envFile + ")")
	return 0
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
