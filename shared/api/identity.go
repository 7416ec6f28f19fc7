package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// A tenant's identity provider (GET/PUT /v1/settings/identity, admin
// only) and the public sign-in discovery (GET /v1/tenants/{tenant_id}/
// sign-in). See docs/identity.md.

// DefaultSignInScopes are the scopes a sign-in client asks for when the
// settings name none (and for the default issuer).
var DefaultSignInScopes = []string{"openid", "email", "profile"}

type identitySettingsInput struct {
	IssuerURL           string   `json:"issuer_url"`
	Audience            string   `json:"audience"`
	ExtraAudiences      []string `json:"extra_audiences"`
	ClientID            string   `json:"client_id"`
	Scopes              []string `json:"scopes"`
	GroupsClaim         string   `json:"groups_claim"`
	AdminGroup          string   `json:"admin_group"`
	EmailClaim          string   `json:"email_claim"`
	AcceptDefaultIssuer bool     `json:"accept_default_issuer"`
}

func validToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '"' || r == '\\' {
			return false
		}
	}
	return true
}

func (in *identitySettingsInput) validate() error {
	var errs []httpapi.FieldError
	add := func(f, m string) { errs = append(errs, httpapi.FieldError{Field: f, Message: m}) }
	in.IssuerURL, in.Audience, in.ClientID = strings.TrimSpace(in.IssuerURL), strings.TrimSpace(in.Audience), strings.TrimSpace(in.ClientID)
	in.GroupsClaim, in.AdminGroup, in.EmailClaim = strings.TrimSpace(in.GroupsClaim), strings.TrimSpace(in.AdminGroup), strings.TrimSpace(in.EmailClaim)
	if u, err := url.Parse(in.IssuerURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		u.RawQuery != "" || strings.Contains(in.IssuerURL, "#") || len(in.IssuerURL) > 512 {
		add("issuer_url", "must be the issuer's https URL, exactly as its tokens' iss (no query or fragment)")
	}
	if !validToken(in.Audience, 256) {
		add("audience", "required: the API's audience at the identity provider (1..256 characters, no spaces)")
	}
	if len(in.ExtraAudiences) > 8 {
		add("extra_audiences", "at most 8")
	}
	for _, a := range in.ExtraAudiences {
		if !validToken(a, 256) {
			add("extra_audiences", "each must be 1..256 characters, no spaces")
			break
		}
	}
	if !validToken(in.ClientID, 256) {
		add("client_id", "required: the Approvals page's public client id (1..256 characters, no spaces)")
	}
	if len(in.Scopes) == 0 {
		in.Scopes = slices.Clone(DefaultSignInScopes)
	}
	if len(in.Scopes) > 16 || !slices.Contains(in.Scopes, "openid") {
		add("scopes", "must include openid, at most 16")
	}
	for _, s := range in.Scopes {
		if !validToken(s, 128) {
			add("scopes", "each must be 1..128 characters, no spaces")
			break
		}
	}
	for f, v := range map[string]string{"groups_claim": in.GroupsClaim, "admin_group": in.AdminGroup, "email_claim": in.EmailClaim} {
		if v != "" && !validToken(v, 256) {
			add(f, "must be 1..256 characters, no spaces")
		}
	}
	if in.GroupsClaim == "" {
		in.GroupsClaim = "groups"
	}
	if in.AdminGroup == "" {
		in.AdminGroup = "jitsudo-admins"
	}
	if in.EmailClaim == "" {
		in.EmailClaim = "email"
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b httpapi.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return httpapi.Invalid("invalid identity settings", errs...)
	}
	return nil
}

// GetIdentitySettings serves GET /v1/settings/identity (admin).
func GetIdentitySettings(d Deps) http.Handler {
	return getSettings(d, "identity settings", "no identity settings: the tenant signs in with the deployment's default issuer; PUT /v1/settings/identity",
		d.Store.GetIdentitySettings, func(v store.IdentitySettings) int64 { return v.Version })
}

// PutIdentitySettings serves PUT /v1/settings/identity (admin): a full
// replacement, saved only after the issuer's discovery document and JWKS
// were fetched and checked (a bad issuer is a 400 with the reason, and
// nothing is stored). If-Match: <version> as for the AWS settings.
func PutIdentitySettings(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		n, err := ifMatch(r, "the settings' version")
		if err != nil {
			return err
		}
		var in identitySettingsInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		if err := in.validate(); err != nil {
			return err
		}
		if d.DefaultIssuer != "" && in.IssuerURL == d.DefaultIssuer {
			return httpapi.Invalid("invalid identity settings", httpapi.FieldError{Field: "issuer_url",
				Message: "is the deployment's default issuer: delete nothing, a tenant without settings uses it already"})
		}
		// The version first: a stale form is refused before the issuer is
		// fetched (the conditional write below still decides a race).
		cur, err := d.Store.GetIdentitySettings(r.Context(), id.TenantID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return apiError(err, "identity settings")
		}
		if n != 0 && n != cur.Version {
			return httpapi.Errorf(http.StatusConflict, "conflict", "the identity settings are at version %d", cur.Version)
		}
		check := d.IssuerCheck
		if check == nil {
			check = NewIssuerCheck(d.Notify.Guard, 0)
		}
		jwks, err := check(r.Context(), in.IssuerURL)
		if err != nil {
			var ie *IssuerError
			if errors.As(err, &ie) {
				return httpapi.Errorf(http.StatusBadRequest, "invalid_issuer", "%s", ie.Reason)
			}
			return apiError(err, "issuer check")
		}
		next := store.IdentitySettings{TenantID: id.TenantID, IssuerURL: in.IssuerURL, JWKSURL: jwks, Audience: in.Audience,
			ExtraAudiences: in.ExtraAudiences, ClientID: in.ClientID, Scopes: in.Scopes, GroupsClaim: in.GroupsClaim,
			AdminGroup: in.AdminGroup, EmailClaim: in.EmailClaim, AcceptDefaultIssuer: in.AcceptDefaultIssuer,
			UpdatedAt: d.now(), UpdatedBy: id.PrincipalID}
		if next.ExtraAudiences == nil {
			next.ExtraAudiences = []string{}
		}
		// Every field: each decides which tokens are accepted or who is
		// an admin (none is a secret). Lists as space-separated strings,
		// as OAuth writes scopes (audit metadata is flat).
		summary := func(v store.IdentitySettings) map[string]any {
			return map[string]any{"issuer_url": v.IssuerURL, "jwks_url": v.JWKSURL, "audience": v.Audience,
				"extra_audiences": strings.Join(v.ExtraAudiences, " "), "client_id": v.ClientID, "scopes": strings.Join(v.Scopes, " "),
				"groups_claim": v.GroupsClaim, "admin_group": v.AdminGroup, "email_claim": v.EmailClaim,
				"accept_default_issuer": v.AcceptDefaultIssuer}
		}
		var before map[string]any
		if cur.Version != 0 {
			before = summary(cur)
		}
		after := summary(next)
		after["version"] = cur.Version + 1
		ev := d.privilegedEvent(id, id.TenantID, access.AuditSettingsUpdated, access.AuditResourceSettings, "identity", before, after)
		saved, err := d.Store.PutIdentitySettings(r.Context(), next, cur.Version, ev)
		if err != nil {
			return apiError(err, "identity settings")
		}
		httpapi.Logger(r.Context()).Info("identity settings saved", "version", saved.Version, "issuer", saved.IssuerURL)
		w.Header().Set("ETag", strconv.FormatInt(saved.Version, 10))
		httpapi.WriteJSON(w, http.StatusOK, saved)
		return nil
	})
}

// SignIn is the public sign-in discovery's answer.
type SignIn struct {
	TenantID string   `json:"tenant_id"`
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
}

// GetSignIn serves GET /v1/tenants/{tenant_id}/sign-in: public (no
// authorizer), it says where a person of the tenant signs in — the
// tenant's issuer and the Approvals page's public client id, or the
// deployment's default issuer and UI client id — and nothing else. An
// unknown tenant (or one with no way to sign in) is 404 not_found.
func GetSignIn(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		tenant := r.PathValue("tenant_id")
		notFound := httpapi.Errorf(http.StatusNotFound, "not_found", "no such tenant")
		if !auth.ValidTenantID(tenant) {
			return notFound
		}
		// Two reads, the tenant's first: an unknown tenant is a 404
		// whatever is stored under its name (settings written before the
		// authorizer refused default-issuer tokens of tenants that do not
		// exist, or by hand).
		if _, err := d.Store.GetTenant(r.Context(), tenant); errors.Is(err, store.ErrNotFound) {
			return notFound
		} else if err != nil {
			return apiError(err, "tenant")
		}
		out := SignIn{TenantID: tenant, Issuer: d.DefaultIssuer, ClientID: d.UIClientID, Scopes: DefaultSignInScopes}
		v, err := d.Store.GetIdentitySettings(r.Context(), tenant)
		switch {
		case err == nil:
			out.Issuer, out.ClientID, out.Scopes = v.IssuerURL, v.ClientID, v.Scopes
		case !errors.Is(err, store.ErrNotFound):
			return apiError(err, "identity settings")
		}
		if out.Issuer == "" || out.ClientID == "" {
			return notFound
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		httpapi.WriteJSON(w, http.StatusOK, out)
		return nil
	})
}
