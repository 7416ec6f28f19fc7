package audit

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/awsenv"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Environment of the extender's anchoring cadence.
const (
	EnvAnchorEvery    = "AUDIT_ANCHOR_EVERY"    // entries (default 100)
	EnvAnchorInterval = "AUDIT_ANCHOR_INTERVAL" // Go duration (default 1m)
)

// The clients use awsenv's configuration (Lambda's environment
// credentials), not the SDK's config package, which would link the SSO,
// SSO-OIDC and IMDS clients into the functions for nothing.
func newKMS(context.Context) (KMSAPI, error) { return kms.NewFromConfig(awsenv.Config("")), nil }

func newS3(context.Context) (S3API, error) { return s3.NewFromConfig(awsenv.Config("")), nil }

// keysFromEnv is the chain's signer and anchor store from the environment
// (SignerFromEnv, AnchorsFromEnv): what the extender and the verifiers share.
func keysFromEnv(ctx context.Context) (Signer, AnchorStore, error) {
	sig, err := SignerFromEnv(ctx, newKMS)
	if err != nil {
		return nil, nil, err
	}
	anchors, err := AnchorsFromEnv(ctx, newS3)
	if err != nil {
		return nil, nil, err
	}
	return sig, anchors, nil
}

// verifierOver is the chain verifier over st with the environment's keys.
func verifierOver(ctx context.Context, st *store.Store) (*Verifier, error) {
	sig, anchors, err := keysFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	return &Verifier{Repo: st, Signer: sig, Anchors: anchors}, nil
}

// VerifierOver is the verify function's chain verifier over st: the chain
// key (VerifyMac only) and the anchor store from the environment.
func VerifierOver(ctx context.Context, st *store.Store) (access.AuditVerifier, error) {
	return verifierOver(ctx, st)
}

// VerifierFromEnv is the operator command's Verifier (infra/audit-verify):
// VerifierOver the table store.FromEnv names.
func VerifierFromEnv(ctx context.Context) (*Verifier, error) {
	st, err := store.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	return verifierOver(ctx, st)
}

// ExtenderFromEnv is the extend-audit-chain function's Extender.
func ExtenderFromEnv(ctx context.Context, logger *slog.Logger) (*Extender, error) {
	st, err := store.FromEnv(ctx)
	if err != nil {
		return nil, err
	}
	sig, anchors, err := keysFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	x := &Extender{Repo: st, Signer: sig, Anchors: anchors, Logger: logger}
	if v := config.String(EnvAnchorEvery); v != "" {
		if x.AnchorEvery, err = strconv.ParseInt(v, 10, 64); err != nil || x.AnchorEvery < 1 {
			return nil, fmt.Errorf("audit: %s=%q: want a positive integer", EnvAnchorEvery, v)
		}
	}
	if x.AnchorInterval, err = config.Duration(EnvAnchorInterval, 0); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return x, nil
}
