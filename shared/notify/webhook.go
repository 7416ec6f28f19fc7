package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Generic webhook headers. Every delivery carries all of them.
const (
	HeaderEvent     = "X-Jitsudo-Event"     // the event type
	HeaderDelivery  = "X-Jitsudo-Delivery"  // the event id: the same on every retry; deduplicate on it
	HeaderTimestamp = "X-Jitsudo-Timestamp" // unix seconds at signing
	HeaderSignature = "X-Jitsudo-Signature" // "v1=<hex HMAC-SHA256>"
)

// DefaultTolerance is how old (or how far in the future) a signed
// timestamp Verify accepts by default.
const DefaultTolerance = 5 * time.Minute

const sigPrefix = "v1="

// Signature verification failures (errors.Is).
var (
	ErrNoSignature  = errors.New("notify: missing webhook signature or timestamp")
	ErrBadTimestamp = errors.New("notify: webhook timestamp outside the tolerance")
	ErrBadSignature = errors.New("notify: webhook signature does not match")
)

// Sign is the X-Jitsudo-Signature value of body signed at ts (unix
// seconds): "v1=" + hex(HMAC-SHA256(key = secret, the whole "whsec_…"
// string as bytes; message = "<ts>.<body>")). Signing the timestamp with
// the body lets receivers reject replays older than their tolerance.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return sigPrefix + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery's X-Jitsudo-Timestamp and X-Jitsudo-Signature
// headers against body: the timestamp must be within tolerance of now
// (either way; tolerance <= 0 means DefaultTolerance) and one of the v1
// signatures in the header (comma- or space-separated, to allow for secret
// rotation) must match, compared in constant time.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	tsRaw, sigRaw := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsRaw == "" || sigRaw == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrBadTimestamp, tsRaw)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w (%s off)", ErrBadTimestamp, d.Round(time.Second))
	}
	want := []byte(Sign(secret, ts, body))
	for _, s := range strings.FieldsFunc(sigRaw, func(r rune) bool { return r == ',' || r == ' ' }) {
		if hmac.Equal([]byte(s), want) {
			return nil
		}
	}
	return ErrBadSignature
}

// setWebhookHeaders sets a generic webhook delivery's headers: the
// channel's own first, then ours (validation forbids overriding them, and
// ours are set last anyway).
func setWebhookHeaders(h http.Header, ch Channel, eventType, eventID string, ts int64, body []byte) {
	for k, v := range ch.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	h.Set(HeaderEvent, eventType)
	h.Set(HeaderDelivery, eventID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(ch.SigningSecret, ts, body))
}
