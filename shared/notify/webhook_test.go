package notify_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

func signed(secret string, ts int64, body []byte) http.Header {
	h := http.Header{}
	h.Set(notify.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(notify.HeaderSignature, notify.Sign(secret, ts, body))
	return h
}

func TestSignIsDocumentedHMAC(t *testing.T) {
	t.Parallel()
	// A receiver in another language computes exactly this.
	m := hmac.New(sha256.New, []byte("whsec_k"))
	m.Write([]byte("1700000000.{\"a\":1}"))
	if got, want := notify.Sign("whsec_k", 1700000000, []byte(`{"a":1}`)), "v1="+hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	secret, body := notify.NewSigningSecret(), []byte(`{"id":"evt_1"}`)
	now := t0
	ts := now.Unix()
	ok := func(h http.Header, b []byte, at time.Time) error {
		return notify.Verify(secret, h, b, at, 5*time.Minute)
	}

	if err := ok(signed(secret, ts, body), body, now); err != nil {
		t.Fatalf("valid delivery: %v", err)
	}
	if err := ok(signed(secret, ts, body), body, now.Add(4*time.Minute)); err != nil {
		t.Fatalf("4 minutes old: %v", err)
	}
	rotated := signed(secret, ts, body)
	rotated.Set(notify.HeaderSignature, notify.Sign("whsec_old", ts, body)+", "+notify.Sign(secret, ts, body))
	if err := ok(rotated, body, now); err != nil {
		t.Fatalf("one of two signatures matches: %v", err)
	}

	cases := map[string]struct {
		h    http.Header
		body []byte
		at   time.Time
		want error
	}{
		"tampered body":   {signed(secret, ts, body), []byte(`{"id":"evt_2"}`), now, notify.ErrBadSignature},
		"wrong secret":    {signed("whsec_other", ts, body), body, now, notify.ErrBadSignature},
		"replayed late":   {signed(secret, ts, body), body, now.Add(6 * time.Minute), notify.ErrBadTimestamp},
		"from the future": {signed(secret, ts+600, body), body, now, notify.ErrBadTimestamp},
		"no signature":    {http.Header{notify.HeaderTimestamp: {strconv.FormatInt(ts, 10)}}, body, now, notify.ErrNoSignature},
		"no timestamp":    {http.Header{notify.HeaderSignature: {notify.Sign(secret, ts, body)}}, body, now, notify.ErrNoSignature},
		"bad timestamp":   {http.Header{notify.HeaderTimestamp: {"yesterday"}, notify.HeaderSignature: {"v1=00"}}, body, now, notify.ErrBadTimestamp},
		"timestamp swap": { // a signature is bound to its timestamp
			http.Header{notify.HeaderTimestamp: {strconv.FormatInt(ts+1, 10)}, notify.HeaderSignature: {notify.Sign(secret, ts, body)}},
			body, now, notify.ErrBadSignature},
		"v0 scheme": {http.Header{notify.HeaderTimestamp: {strconv.FormatInt(ts, 10)}, notify.HeaderSignature: {"v0=" + notify.Sign(secret, ts, body)[3:]}},
			body, now, notify.ErrBadSignature},
	}
	for name, c := range cases {
		if err := ok(c.h, c.body, c.at); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
	// tolerance <= 0 is the default, 5 minutes.
	if err := notify.Verify(secret, signed(secret, ts, body), body, now.Add(6*time.Minute), 0); !errors.Is(err, notify.ErrBadTimestamp) {
		t.Fatalf("default tolerance: %v", err)
	}
}
