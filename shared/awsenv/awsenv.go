// Package awsenv builds the AWS SDK configuration from the environment the
// way Lambda provides it (AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), without the SDK's config
// package: that package links the SSO, SSO-OIDC, STS and IMDS clients and
// shared-config parsing, megabytes every function would carry for nothing.
//
// Off Lambda (tests, scripts against real AWS), export credentials into the
// environment first, e.g. `eval "$(aws configure export-credentials --format env)"`.
package awsenv

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// DefaultRegion applies when AWS_REGION and AWS_DEFAULT_REGION are unset.
const DefaultRegion = "us-east-1"

// ErrNoCredentials: no credentials in the environment.
var ErrNoCredentials = errors.New("awsenv: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")

// Config returns an aws.Config for region (empty: from the environment)
// whose credentials are read from the environment on every retrieval.
func Config(region string) aws.Config {
	if region == "" {
		region = config.Raw("AWS_REGION")
	}
	if region == "" {
		region = config.Raw("AWS_DEFAULT_REGION")
	}
	if region == "" {
		region = DefaultRegion
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(aws.CredentialsProviderFunc(envCredentials)),
	}
}

// HasCredentials reports whether the environment holds credentials.
func HasCredentials() bool {
	return config.Raw("AWS_ACCESS_KEY_ID") != "" && config.Raw("AWS_SECRET_ACCESS_KEY") != ""
}

func envCredentials(context.Context) (aws.Credentials, error) {
	if !HasCredentials() {
		return aws.Credentials{}, ErrNoCredentials
	}
	return aws.Credentials{
		AccessKeyID:     config.Raw("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: config.Raw("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    config.Raw("AWS_SESSION_TOKEN"),
		Source:          "environment",
	}, nil
}

// LocalCredentials are dummy static credentials for local stand-ins, which
// accept any signature.
var LocalCredentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local", Source: "local"}, nil
}))
