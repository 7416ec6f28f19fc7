package workflow

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/jitsudo/jitsudo-serverless/shared/awsenv"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// Environment variables read by FromEnv.
const (
	EnvStateMachineARN = "STATE_MACHINE_ARN" // required
	EnvSFNEndpoint     = "SFN_ENDPOINT"      // optional: the local Step Functions shim
)

// NewClient builds a Step Functions client from the Lambda-style
// environment (shared/awsenv). A non-empty endpoint becomes the client's
// BaseEndpoint (the local shim), with dummy credentials when the
// environment has none.
func NewClient(endpoint, region string) *sfn.Client {
	cfg := awsenv.Config(region)
	if endpoint == "" {
		return sfn.NewFromConfig(cfg)
	}
	if !awsenv.HasCredentials() {
		cfg.Credentials = awsenv.LocalCredentials
	}
	return sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// FromEnv returns the workflow of STATE_MACHINE_ARN, over SFN_ENDPOINT when
// set (the local shim) or Step Functions in AWS_REGION.
func FromEnv() (*SFN, error) {
	arn := config.String(EnvStateMachineARN)
	if arn == "" {
		return nil, fmt.Errorf("workflow: %s is not set", EnvStateMachineARN)
	}
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":stateMachine:") {
		return nil, errors.New("workflow: " + EnvStateMachineARN + " is not a state machine ARN: " + arn)
	}
	return New(NewClient(config.String(EnvSFNEndpoint), ""), arn), nil
}
