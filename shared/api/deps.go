// Package api holds the HTTP handlers of every route in the route table,
// as plain net/http handlers over the store and the policy engine. Each
// function builds Deps once at cold start (shared/wiring) and serves one
// handler; the local dev server serves them all (Constructors).
package api

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/validation"
	"github.com/jitsudo/jitsudo-serverless/shared/web"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Deps are what handlers need; built once per warm Lambda.
type Deps struct {
	Store    *store.Store
	Policies *policy.Cache   // compiled rule sets per (tenant, rule-set version)
	Access   *access.Service // requests, grants, messages, audit
	Logger   *slog.Logger
	Now      func() time.Time
	Notify   NotifyDeps // notification channel routes (channels.go)
	// TenantRoleName is the only role name the provider may assume in a
	// tenant's account ("" = any): PUT /v1/settings/aws
	// refuses other role ARNs, which would fail every grant.
	TenantRoleName string
	// DefaultIssuer and UIClientID: where a tenant without identity
	// settings signs in (GET …/sign-in).
	DefaultIssuer, UIClientID string
	// Web configures the Approvals page (the "web" constructor).
	Web web.Config
	// IssuerCheck checks a tenant's issuer before its identity settings
	// are saved; nil: NewIssuerCheck over Notify.Guard.
	IssuerCheck IssuerCheck
}

// NewDeps returns Deps over s with a fresh policy cache (shared by the
// handlers and the access service), the real clock and the default abuse
// limits (counted in s).
func NewDeps(s *store.Store, wf access.Workflow, prov access.Provider, logger *slog.Logger) Deps {
	d := Deps{Store: s, Policies: policy.NewCache(), Logger: logger, Now: time.Now}
	d.Access = &access.Service{Repo: s, Workflow: wf, Provider: prov, Now: time.Now, Logger: logger,
		UsersByEmail: s.UsersByEmail, Limiter: s, Limits: access.DefaultLimits(), Policies: d.Policies.Source(s)}
	return d
}

func (d Deps) now() time.Time { return d.Now().UTC() }

// ifMatch reads an optional `If-Match: <n>` header (quotes allowed; absent
// or "*": 0), n being the version or revision the caller read; anything
// else than a positive integer is a 400 naming what it must be.
func ifMatch(r *http.Request, what string) (int64, error) {
	m := strings.Trim(strings.TrimSpace(r.Header.Get("If-Match")), `"`)
	if m == "" || m == "*" {
		return 0, nil
	}
	n, err := strconv.ParseInt(m, 10, 64)
	if err != nil || n < 1 {
		return 0, httpapi.Invalid("invalid header", httpapi.FieldError{Field: "If-Match", Message: "must be " + what + " (a positive integer)"})
	}
	return n, nil
}

// inputDetail is what a store.ErrInvalidInput says after the sentinel
// ("rule id must be 1..1019 bytes"), as ": detail", bounded; "" if
// nothing follows. The store writes those details for clients and clips
// the ids it echoes.
func inputDetail(err error) string {
	msg := err.Error()
	marker := store.ErrInvalidInput.Error() + ": "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return ""
	}
	return ": " + httpapi.Clip(msg[i+len(marker):], 200)
}

// named is what plus a clipped, quoted id: `policy rule "r1"`.
func named(what, id string) string { return what + " " + strconv.Quote(httpapi.ClipID(id)) }

// newID returns prefix + 16 random lowercase base32 characters.
func newID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// apiError maps domain errors onto API errors; anything unknown stays as
// is (a logged 500). Messages are written for clients: no package prefix
// ("store: "), and what echoes an id only clipped (named).
func apiError(err error, what string) error {
	var ve *validation.Error
	var ce *store.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return httpapi.Invalid("invalid "+what, ve.Fields...)
	case errors.Is(err, store.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "not_found", "%s not found", what)
	case errors.As(err, &ce):
		e := httpapi.Errorf(http.StatusConflict, "conflict", "%s", ce.Message)
		if len(ce.Current) > 0 {
			e = e.WithDetails(ce.Current)
		}
		return e
	case errors.Is(err, store.ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "conflict", "the %s changed while this call ran; read it again and retry", what)
	case errors.Is(err, store.ErrBadCursor):
		return httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: "cursor", Message: "is not a cursor this API issued for this list"})
	case errors.Is(err, store.ErrBadPage):
		return httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: "limit", Message: "must be an integer from 1 to 250"})
	case errors.Is(err, store.ErrInvalidTenant):
		return httpapi.Invalid("invalid tenant id")
	case errors.Is(err, store.ErrInvalidInput):
		return httpapi.Invalid("invalid " + what + inputDetail(err))
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}
