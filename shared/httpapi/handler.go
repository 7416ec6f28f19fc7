package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
)

// HandlerFunc is an API handler that reports failure by returning an error;
// Wrap turns it into an http.Handler.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

type ctxKey int

const (
	loggerKey ctxKey = iota
	identityKey
)

// Wrap makes h an http.Handler that logs as JSON with the request and
// tenant ids, turns returned errors into {code, message, details} responses
// (never leaking internals: anything not an *Error is a logged 500) and
// recovers from panics.
func Wrap(logger *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log := logger.With("method", r.Method, "path", r.URL.Path)
		if gw, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok {
			log = log.With("request_id", gw.RequestID)
			if gw.Authorizer != nil && gw.Authorizer.Lambda != nil {
				if id, err := auth.IdentityFromAuthorizerContext(gw.Authorizer.Lambda); err == nil {
					log = log.With("tenant_id", id.TenantID, "principal_id", id.PrincipalID)
					r = r.WithContext(context.WithValue(r.Context(), identityKey, id))
				}
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), loggerKey, log))
		defer func() {
			if p := recover(); p != nil {
				log.Error("panic in handler", "panic", p, "stack", string(debug.Stack()))
				WriteError(w, ErrInternal)
			}
		}()
		if err := h(w, r); err != nil {
			var apiErr *Error
			if errors.As(err, &apiErr) && apiErr.Status < 500 {
				log.Info("request refused", "status", apiErr.Status, "code", apiErr.Code, "error", err.Error())
			} else {
				log.Error("request failed", "error", err.Error())
			}
			WriteError(w, err)
		}
	})
}

// Logger returns the request's logger (with request and tenant ids).
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// Caller returns the identity the authorizer established for this request.
// Handlers trust only this, never raw credential headers. Without one the
// request is refused with 401.
func Caller(r *http.Request) (auth.Identity, error) {
	id, ok := r.Context().Value(identityKey).(auth.Identity)
	if !ok {
		return auth.Identity{}, Errorf(http.StatusUnauthorized, "unauthorized", "no verified identity on this request")
	}
	return id, nil
}

// RequireTenant returns the caller's identity if it belongs to a tenant and
// carries at least one of scopes (admin implies every tenant scope).
func RequireTenant(r *http.Request, scopes ...string) (auth.Identity, error) {
	id, err := Caller(r)
	if err != nil {
		return id, err
	}
	if id.TenantID == "" || id.PrincipalType == "platform" {
		return id, Errorf(http.StatusForbidden, "forbidden", "this route needs tenant credentials")
	}
	if len(scopes) == 0 {
		return id, nil
	}
	for _, s := range scopes {
		if id.HasScope(s) {
			return id, nil
		}
	}
	return id, Errorf(http.StatusForbidden, "forbidden", "credentials lack the required scope").
		WithDetails(map[string]any{"required_scopes": scopes})
}

// Page parameters: limit (default 50, max 250) and an opaque cursor.
const (
	DefaultLimit = 50
	MaxLimit     = 250
)

// PageParams reads ?limit= and ?cursor= strictly.
func PageParams(r *http.Request) (limit int, cursor string, err error) {
	q := r.URL.Query()
	limit = DefaultLimit
	if s := q.Get("limit"); s != "" {
		n, convErr := strconv.Atoi(s)
		if convErr != nil || n < 1 || n > MaxLimit {
			return 0, "", Invalid("invalid query parameter",
				FieldError{Field: "limit", Message: "must be an integer from 1 to 250"})
		}
		limit = n
	}
	cursor = q.Get("cursor")
	if len(cursor) > 4096 {
		return 0, "", Invalid("invalid query parameter", FieldError{Field: "cursor", Message: "is not a cursor this API issued"})
	}
	return limit, cursor, nil
}

// List is the envelope of every list response.
type List[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
	HasMore    bool   `json:"has_more"`
}

// NewList builds a list envelope; a nil slice becomes [].
func NewList[T any](data []T, next string) List[T] {
	if data == nil {
		data = []T{}
	}
	return List[T]{Data: data, NextCursor: next, HasMore: next != ""}
}
