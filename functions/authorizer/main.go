// Command authorizer is the API Gateway Lambda REQUEST authorizer (payload
// 2.0, simple responses).
package main

import (
	"context"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/platformkey"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

func main() {
	ctx := context.Background()
	log := lambdaapp.Logger("authorizer")
	keys, err := store.FromEnv(ctx)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	cfg := auth.ConfigFromEnv()
	cfg.Logger = log
	// In AWS from the SSM SecureString PLATFORM_ADMIN_KEY_PARAMETER names
	// (fails closed); on a local stack from PLATFORM_ADMIN_KEY.
	cfg.PlatformAdminKey, err = platformkey.FromEnv(ctx, store.LocalFromEnv(), nil)
	if err != nil {
		lambdaapp.Fatal(log, "platform admin key unavailable", err)
	}
	// Tenants' own issuers: settings from the table (read-only), their
	// JWKS fetched through the SSRF guard (tenant admins chose the URLs).
	cfg.Identities = keys
	mode, err := notify.ModeFromEnv()
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	tc := notify.Guard{Mode: mode}.Client()
	tc.Timeout = 10 * time.Second
	cfg.TenantHTTPClient = tc
	a, err := auth.New(ctx, cfg, keys)
	if err != nil {
		lambdaapp.Fatal(log, "configuration failed", err)
	}
	lambda.Start(a.HandleRequest)
}
