// Package platformkey loads the platform admin key (the one credential
// POST /v1/tenants accepts) at the authorizer's init, in AWS, from an SSM
// SecureString parameter (PLATFORM_ADMIN_KEY_PARAMETER, read once with
// decryption). It fails closed: a missing, unreadable, not-SecureString or
// empty parameter is an init error. It is its own package so that only the
// authorizer links the SSM client: it passes FromSSM to shared/wiring,
// which decides between the parameter and, on a local stack only, the
// plain PLATFORM_ADMIN_KEY.
package platformkey

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// GetParameterAPI is the part of the SSM client the loader uses.
type GetParameterAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// Load reads the SecureString parameter name with decryption and returns
// its value (surrounding white space trimmed). A parameter that is not a
// SecureString, or is empty, is refused: the key must be stored encrypted.
func Load(ctx context.Context, client GetParameterAPI, name string) (string, error) {
	out, err := client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("platformkey: read SSM parameter %s: %w", name, err)
	}
	if out.Parameter == nil {
		return "", fmt.Errorf("platformkey: SSM parameter %s: no value", name)
	}
	if out.Parameter.Type != types.ParameterTypeSecureString {
		return "", fmt.Errorf("platformkey: SSM parameter %s is a %s, want a SecureString", name, out.Parameter.Type)
	}
	key := strings.TrimSpace(aws.ToString(out.Parameter.Value))
	if key == "" {
		return "", fmt.Errorf("platformkey: SSM parameter %s is empty", name)
	}
	return key, nil
}

// FromSSM is Load with a client from cfg (wiring.AWSConfig).
func FromSSM(ctx context.Context, cfg aws.Config, name string) (string, error) {
	return Load(ctx, ssm.NewFromConfig(cfg), name)
}
