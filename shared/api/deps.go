// Package api holds the HTTP handlers of every route in the route table,
// as plain net/http handlers over the store and the policy engine. Each
// function's main.go builds Deps once at cold start and serves one handler;
// the local dev server serves them all (Handlers).
package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
	"github.com/jitsudo/jitsudo-serverless/shared/validation"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
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
	// tenant's account (TENANT_ROLE_NAME; "" = any): PUT /v1/settings/aws
	// refuses other role ARNs, which would fail every grant.
	TenantRoleName string
	// DefaultIssuer (OIDC_ISSUER) and UIClientID (UI_CLIENT_ID): where a
	// tenant without identity settings signs in (GET …/sign-in).
	DefaultIssuer, UIClientID string
	// IssuerCheck checks a tenant's issuer before its identity settings
	// are saved; nil: NewIssuerCheck over Notify.Guard.
	IssuerCheck IssuerCheck
}

// DepsFromEnv builds Deps from the Lambda environment: the table
// (store.FromEnv) and the workflow (workflow.FromEnv: STATE_MACHINE_ARN,
// SFN_ENDPOINT). It has no access provider (workflow.NoProvider): the
// functions that need one use FromEnv(WithProvider(...)).
func DepsFromEnv(ctx context.Context, logger *slog.Logger) (Deps, error) {
	s, err := store.FromEnv(ctx)
	if err != nil {
		return Deps{}, fmt.Errorf("api: %w", err)
	}
	wf, err := workflow.FromEnv()
	if err != nil {
		return Deps{}, fmt.Errorf("api: %w", err)
	}
	d := NewDeps(s, wf, workflow.NoProvider{}, logger)
	if d.Notify.Mode, err = notify.ModeFromEnv(); err != nil {
		return Deps{}, fmt.Errorf("api: %w", err)
	}
	d.Notify.Guard.Mode = d.Notify.Mode
	d.TenantRoleName = config.String(EnvTenantRoleName)
	d.DefaultIssuer = config.String(auth.EnvIssuer)
	d.UIClientID = config.String(EnvUIClientID)
	if d.Access.Targets, err = TargetsFromEnv(); err != nil {
		return Deps{}, fmt.Errorf("api: %w", err)
	}
	if d.Access.Limits, err = LimitsFromEnv(); err != nil {
		return Deps{}, fmt.Errorf("api: %w", err)
	}
	return d, nil
}

// EnvProviderMode names the deployment's access provider to the functions
// built without one (template.yaml's Globals, from the ProviderMode
// parameter), so that create-request and evaluate-policy refuse targets it
// cannot provision.
const EnvProviderMode = "PROVIDER_MODE"

// TargetsFromEnv is the access.TargetChecker of PROVIDER_MODE:
// identitycenter → access.AccountAssignmentTargets (an account and a
// permission set); recording, or unset (the local stack and tests, which
// wire their provider itself), → nil: any target. Unset does not default
// to Identity Center's rule: it is no safety control (a grant Identity
// Center cannot make fails anyway), only an earlier, clearer answer.
func TargetsFromEnv() (access.TargetChecker, error) {
	switch m := config.String(EnvProviderMode); m {
	case "identitycenter":
		return access.AccountAssignmentTargets{}, nil
	case "", "recording":
		return nil, nil
	default:
		return nil, fmt.Errorf("%s=%q is not supported (want identitycenter or recording)", EnvProviderMode, m)
	}
}

// EnvUIClientID is the Approvals page's public client id at the default
// issuer (template parameter UiClientId).
const EnvUIClientID = "UI_CLIENT_ID"

// EnvTenantRoleName is the role name tenants' settings must use.
const EnvTenantRoleName = "TENANT_ROLE_NAME"

// Option adds what only some functions need to Deps, so that the others
// do not link its SDK clients (the 12 MB binary budget).
type Option func(ctx context.Context, d *Deps) error

// FromEnv is DepsFromEnv plus opts, in the form lambdaapp.Run takes.
func FromEnv(opts ...Option) func(context.Context, *slog.Logger) (Deps, error) {
	return func(ctx context.Context, logger *slog.Logger) (Deps, error) {
		d, err := DepsFromEnv(ctx, logger)
		if err != nil {
			return d, err
		}
		for _, o := range opts {
			if err := o(ctx, &d); err != nil {
				return d, fmt.Errorf("api: %w", err)
			}
		}
		return d, nil
	}
}

// WithAuditVerifier sets the audit chain's verifier (newVerifier is
// audit.VerifierOver: the chain key for VerifyMac and the anchor store)
// for the verify function. Passed in, so that only that function links the
// KMS and S3 clients.
func WithAuditVerifier(newVerifier func(context.Context, *store.Store) (access.AuditVerifier, error)) Option {
	return func(ctx context.Context, d *Deps) error {
		v, err := newVerifier(ctx, d.Store)
		if err != nil {
			return err
		}
		d.Access.AuditVerifier = v
		return nil
	}
}

// WithProvider sets the access provider (providers.FromEnv) for the
// functions that revoke.
func WithProvider(newProvider workflow.ProviderFunc) Option {
	return func(ctx context.Context, d *Deps) error {
		p, err := newProvider(ctx, d.Store, d.Logger)
		if err != nil {
			return err
		}
		d.Access.Provider = p
		return nil
	}
}

// NewDeps returns Deps over s with a fresh policy cache (shared by the
// handlers and the access service), the real clock and the default abuse
// limits (counted in s).
func NewDeps(s *store.Store, wf access.Workflow, prov access.Provider, logger *slog.Logger) Deps {
	d := Deps{Store: s, Policies: policy.NewCache(), Logger: logger, Now: time.Now}
	d.Access = &access.Service{Repo: s, Workflow: wf, Provider: prov, Now: time.Now, Logger: logger,
		UsersByEmail: s.UsersByEmail, Limiter: s, Limits: access.DefaultLimits(),
		Policies: func(ctx context.Context, tenant string) (*policy.PolicySet, error) {
			ps, _, err := d.policySet(ctx, tenant)
			return ps, err
		}}
	return d
}

func (d Deps) now() time.Time { return d.Now().UTC() }

// policySet returns the tenant's compiled rule set, recompiling only when
// the rule-set version moved (one consistent GetItem per call otherwise).
func (d Deps) policySet(ctx context.Context, tenant string) (*policy.PolicySet, int64, error) {
	version, err := d.Store.RuleSetVersion(ctx, tenant)
	if err != nil {
		return nil, 0, fmt.Errorf("rule-set version: %w", err)
	}
	ps, err := d.Policies.Get(tenant, version, func() ([]policy.Rule, error) {
		rules, _, err := d.Store.LoadRuleSet(ctx, tenant)
		return rules, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("compile rule set: %w", err)
	}
	return ps, version, nil
}

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
