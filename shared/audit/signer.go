package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// Signer computes and checks MACs with the chain key.
type Signer interface {
	// KeyID names the key (stored beside each MAC).
	KeyID() string
	MAC(ctx context.Context, msg []byte) ([]byte, error)
	// Verify reports whether mac is msg's MAC; an error is an I/O error.
	Verify(ctx context.Context, msg, mac []byte) (bool, error)
}

// HMACSigner is HMAC-SHA-256 with a local key (the local stack, tests,
// and the operator command when given the key).
type HMACSigner struct {
	Key []byte
	ID  string
}

// MinKeyBytes is the shortest accepted local key.
const MinKeyBytes = 32

func (h HMACSigner) KeyID() string {
	if h.ID != "" {
		return h.ID
	}
	sum := sha256.Sum256(append([]byte("jitsudo-audit-key-id\n"), h.Key...))
	return "local:" + hex.EncodeToString(sum[:6])
}

func (h HMACSigner) MAC(_ context.Context, msg []byte) ([]byte, error) {
	if len(h.Key) < MinKeyBytes {
		return nil, fmt.Errorf("audit: HMAC key shorter than %d bytes", MinKeyBytes)
	}
	m := hmac.New(sha256.New, h.Key)
	m.Write(msg)
	return m.Sum(nil), nil
}

func (h HMACSigner) Verify(ctx context.Context, msg, mac []byte) (bool, error) {
	want, err := h.MAC(ctx, msg)
	if err != nil {
		return false, err
	}
	return hmac.Equal(want, mac), nil
}

// KMSAPI is the part of the KMS client the signer uses.
type KMSAPI interface {
	GenerateMac(ctx context.Context, in *kms.GenerateMacInput, opts ...func(*kms.Options)) (*kms.GenerateMacOutput, error)
	VerifyMac(ctx context.Context, in *kms.VerifyMacInput, opts ...func(*kms.Options)) (*kms.VerifyMacOutput, error)
}

// KMSSigner uses a KMS HMAC_256 key: GenerateMac (granted only to the
// extender's role) and VerifyMac (the verify function and operators). The
// key never leaves KMS.
type KMSSigner struct {
	Client KMSAPI
	Key    string // key id, ARN or alias
}

func (k KMSSigner) KeyID() string { return k.Key }

func (k KMSSigner) MAC(ctx context.Context, msg []byte) ([]byte, error) {
	out, err := k.Client.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(k.Key), Message: msg, MacAlgorithm: kmstypes.MacAlgorithmSpecHmacSha256})
	if err != nil {
		return nil, fmt.Errorf("audit: kms GenerateMac: %w", err)
	}
	return out.Mac, nil
}

func (k KMSSigner) Verify(ctx context.Context, msg, mac []byte) (bool, error) {
	out, err := k.Client.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(k.Key), Message: msg, Mac: mac, MacAlgorithm: kmstypes.MacAlgorithmSpecHmacSha256})
	if err != nil {
		var inv *kmstypes.KMSInvalidMacException
		if errors.As(err, &inv) {
			return false, nil
		}
		return false, fmt.Errorf("audit: kms VerifyMac: %w", err)
	}
	return out.MacValid, nil
}

// Environment of the chain key.
const (
	EnvKMSKey  = "AUDIT_KMS_KEY_ID"   // AWS: the KMS HMAC key
	EnvKey     = "AUDIT_MAC_KEY"      // local: the key, hex or base64 (≥ 32 bytes)
	EnvKeyFile = "AUDIT_MAC_KEY_FILE" // local: a file holding it
)

// ParseKey decodes a local key (hex or standard/URL base64, surrounding
// space ignored).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) >= MinKeyBytes {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) >= MinKeyBytes {
			return b, nil
		}
	}
	return nil, fmt.Errorf("audit: the chain key must be hex or base64 of at least %d bytes", MinKeyBytes)
}

// SignerFromEnv: AUDIT_KMS_KEY_ID (with newKMS building the client), else
// AUDIT_MAC_KEY, else AUDIT_MAC_KEY_FILE; none is an error (fail closed).
func SignerFromEnv(ctx context.Context, newKMS func(context.Context) (KMSAPI, error)) (Signer, error) {
	if id := config.String(EnvKMSKey); id != "" {
		if newKMS == nil {
			return nil, fmt.Errorf("audit: %s set but no KMS client", EnvKMSKey)
		}
		c, err := newKMS(ctx)
		if err != nil {
			return nil, err
		}
		return KMSSigner{Client: c, Key: id}, nil
	}
	raw := config.Raw(EnvKey)
	if raw == "" {
		if f := config.String(EnvKeyFile); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("audit: read %s: %w", EnvKeyFile, err)
			}
			raw = string(b)
		}
	}
	if raw == "" {
		return nil, fmt.Errorf("audit: no chain key: set %s (AWS) or %s / %s", EnvKMSKey, EnvKey, EnvKeyFile)
	}
	key, err := ParseKey(raw)
	if err != nil {
		return nil, err
	}
	return HMACSigner{Key: key}, nil
}
