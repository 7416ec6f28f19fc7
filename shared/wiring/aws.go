package wiring

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The AWS configuration is built from the environment the way Lambda
// provides it (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), without the SDK's config package: that package links
// the SSO, SSO-OIDC, STS and IMDS clients and shared-config parsing,
// megabytes every function would carry for nothing. Off Lambda (tests,
// scripts against real AWS), export credentials into the environment
// first, e.g. `eval "$(aws configure export-credentials --format env)"`.

// DefaultRegion applies when AWS_REGION and AWS_DEFAULT_REGION are unset.
const DefaultRegion = "us-east-1"

// ErrNoCredentials: no credentials in the environment.
var ErrNoCredentials = errors.New("wiring: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")

// AWSConfig is the configuration of one service's client: region (empty:
// from the environment), credentials read from the environment on every
// retrieval, and endpoint, when non-empty, as the BaseEndpoint (a local
// stand-in, a VPC endpoint) — then, if the environment holds no
// credentials, dummy ones (LocalCredentials): local stand-ins accept any
// signature.
func AWSConfig(endpoint, region string) aws.Config {
	if region == "" {
		region = raw("AWS_REGION")
	}
	if region == "" {
		region = raw("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = DefaultRegion
	}
	cfg := aws.Config{Region: region, Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(envCredentials))}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
		if !hasCredentials() {
			cfg.Credentials = LocalCredentials
		}
	}
	return cfg
}

func hasCredentials() bool {
	return raw("AWS_ACCESS_KEY_ID") != "" && raw("AWS_SECRET_ACCESS_KEY") != ""
}

func envCredentials(context.Context) (aws.Credentials, error) {
	if !hasCredentials() {
		return aws.Credentials{}, ErrNoCredentials
	}
	return aws.Credentials{
		AccessKeyID:     raw("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: raw("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    raw("AWS_SESSION_TOKEN"),
		Source:          "environment",
	}, nil
}

// LocalCredentials are dummy static credentials for local stand-ins, which
// accept any signature.
var LocalCredentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "local"}, nil
}))
