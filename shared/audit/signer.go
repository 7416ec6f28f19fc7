package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
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
