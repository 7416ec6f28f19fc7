// Package platformkey loads the platform admin key (the one credential
// POST /v1/tenants accepts) at the authorizer's init: in AWS from an SSM
// SecureString parameter (PLATFORM_ADMIN_KEY_PARAMETER, read once with
// decryption), never from a plain environment variable; on a local stack
// from PLATFORM_ADMIN_KEY. It fails closed: in AWS a missing, unreadable,
// not-SecureString or empty parameter is an init error.
package platformkey

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/awsenv"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// EnvParameter names the SSM parameter holding the key (template.yaml's
// PlatformAdminKeyParameter).
const EnvParameter = "PLATFORM_ADMIN_KEY_PARAMETER"

// GetParameterAPI is the part of the SSM client the loader uses.
type GetParameterAPI interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// ErrNotConfigured: in AWS, PLATFORM_ADMIN_KEY_PARAMETER is unset (or the
// key was given as a plain environment variable).
var ErrNotConfigured = errors.New("platformkey: " + EnvParameter + " is not set (in AWS the platform admin key is read from an SSM SecureString parameter, not from " + auth.EnvPlatformAdminKey + ")")

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

// FromEnv returns the platform admin key for this process. With
// PLATFORM_ADMIN_KEY_PARAMETER set it reads that parameter through
// newClient (nil: an SSM client with Lambda's environment credentials).
// Without it: on a local stack (store.LocalFromEnv, passed as local)
// PLATFORM_ADMIN_KEY (empty: the platform identity is disabled); in AWS
// ErrNotConfigured.
func FromEnv(ctx context.Context, local bool, newClient func() GetParameterAPI) (string, error) {
	name := config.String(EnvParameter)
	plain := config.String(auth.EnvPlatformAdminKey)
	switch {
	case name != "" && plain != "":
		return "", fmt.Errorf("platformkey: both %s and %s are set; keep the parameter only", EnvParameter, auth.EnvPlatformAdminKey)
	case name != "":
		if newClient == nil {
			newClient = func() GetParameterAPI { return ssm.NewFromConfig(awsenv.Config("")) }
		}
		return Load(ctx, newClient(), name)
	case local:
		return plain, nil
	}
	return "", ErrNotConfigured
}
