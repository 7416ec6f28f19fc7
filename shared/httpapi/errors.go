// Package httpapi is the HTTP plumbing every API handler shares: the
// {code, message, details} error shape, strict JSON decoding, list
// pagination parameters, and the caller's identity as the authorizer passed
// it through API Gateway. It knows nothing of AWS services.
package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/jitsudo/jitsudo-serverless/shared/validation"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// Error is an API error: an HTTP status and the {code, message, details}
// body clients see.
type Error struct {
	Status  int            `json:"-"`
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	// Headers are set on the response with the error (Retry-After of a
	// 429).
	Headers map[string]string `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Errorf builds an *Error with a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithDetails returns a copy of e carrying details.
func (e *Error) WithDetails(details map[string]any) *Error {
	c := *e
	c.Details = details
	return &c
}

// FieldError names one invalid input field: the domain packages' shape.
type FieldError = validation.FieldError

// Invalid is a 400 validation_failed error listing the offending fields.
func Invalid(message string, fields ...FieldError) *Error {
	e := &Error{Status: http.StatusBadRequest, Code: "validation_failed", Message: message}
	if len(fields) > 0 {
		e.Details = map[string]any{"fields": fields}
	}
	return e
}

// MaxEchoedID is how much of an id (caller input) an error message may
// echo: ClipID cuts what is longer.
const MaxEchoedID = 64

// ClipID bounds an id taken from the caller before it goes into an error
// message: at most MaxEchoedID bytes, cut on a rune boundary and marked
// with "…".
func ClipID(id string) string { return Clip(id, MaxEchoedID) }

// Clip cuts s to at most n bytes on a rune boundary, marking a cut with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// RateLimited is a 429 rate_limited error whose Retry-After header (and
// details.retry_after_seconds) says when to try again (whole seconds, at
// least 1); details adds to the details.
func RateLimited(message string, retryAfter time.Duration, details map[string]any) *Error {
	secs := max(int64((retryAfter+time.Second-1)/time.Second), 1)
	d := map[string]any{"retry_after_seconds": secs}
	for k, v := range details {
		d[k] = v
	}
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: message, Details: d,
		Headers: map[string]string{"Retry-After": strconv.FormatInt(secs, 10)}}
}

// Common errors.
var (
	ErrNotFound = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
	ErrInternal = &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}
)

// WriteError writes err as a JSON error response. Anything that is not an
// *Error (or wrapping one) becomes a 500 whose details never leak.
func WriteError(w http.ResponseWriter, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		apiErr = ErrInternal
	}
	for k, v := range apiErr.Headers {
		w.Header().Set(k, v)
	}
	WriteJSON(w, apiErr.Status, apiErr)
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"code":"internal","message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
