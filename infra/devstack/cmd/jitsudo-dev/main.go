// Command jitsudo-dev runs the whole jitsudo stack on localhost (`make dev`):
// embedded DynamoDB, a local OIDC issuer, the authorizer and every function
// behind an API Gateway emulation, seeded with demo tenants. No AWS account,
// no Docker. Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
)

func main() {
	addr := flag.String("addr", envOr("JITSUDO_DEV_ADDR", "127.0.0.1:8080"), "listen address")
	envFile := flag.String("env-file", envOr("JITSUDO_DEV_ENV_FILE", ".dev/demo.env"), "where to write the demo credentials")
	dynamo := flag.String("dynamodb-endpoint", os.Getenv("JITSUDO_DEV_DYNAMODB_ENDPOINT"), "external DynamoDB-API endpoint (default: embedded)")
	flag.String("slack-webhook-url", os.Getenv("JITSUDO_DEV_SLACK_WEBHOOK_URL"), "a Slack incoming-webhook URL: the demo tenant's events are posted there")
	flag.Parse()

	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	slackURL := flag.Lookup("slack-webhook-url").Value.String()
	st, err := devstack.Start(ctx, devstack.Config{Addr: *addr, DynamoDBEndpoint: *dynamo, Logger: logger, Console: os.Stdout,
		SweepEvery: time.Minute}) // sweep-overdue's default schedule
	if err != nil {
		logger.Error("dev stack failed to start", "error", err.Error())
		os.Exit(1)
	}
	defer st.Close()
	demo, err := devstack.Seed(ctx, st)
	if err != nil {
		logger.Error("seeding the demo tenants failed", "error", err.Error())
		st.Close()
		os.Exit(1)
	}
	if slackURL != "" {
		if _, err := devstack.SeedSlackChannel(ctx, st, demo, slackURL); err != nil {
			logger.Error("the Slack channel was refused", "error", err.Error())
		}
	}
	if err := demo.WriteEnvFile(*envFile); err != nil {
		logger.Error("writing the env file failed", "error", err.Error())
	}
	fmt.Println(demo.Walkthrough(*envFile))
	<-ctx.Done()
	fmt.Println("\nstopping the dev stack")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
