package api

import (
	"net/http"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

type createTenantInput struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CreateTenant serves POST /v1/tenants (platform admin key only): creates
// the tenant and its first admin API key, atomically. The raw key is in
// this response only.
func CreateTenant(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		caller, err := httpapi.Caller(r)
		if err != nil {
			return err
		}
		if caller.PrincipalType != auth.PrincipalPlatform || !caller.HasScope(auth.ScopePlatform) {
			return httpapi.Errorf(http.StatusForbidden, "forbidden", "creating tenants needs the platform admin key")
		}
		var in createTenantInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		var errs []httpapi.FieldError
		if !store.ValidTenantID(in.ID) {
			errs = append(errs, httpapi.FieldError{Field: "id", Message: "must match ^[a-z0-9][a-z0-9-]{1,62}$"})
		}
		if msg := nameProblem(in.Name); msg != "" {
			errs = append(errs, httpapi.FieldError{Field: "name", Message: msg})
		}
		if len(errs) > 0 {
			return httpapi.Invalid("invalid tenant", errs...)
		}
		now := d.now()
		key, raw, err := newAPIKey(in.ID, "platform", createKeyInput{Name: "initial admin key", Scopes: []string{auth.ScopeAdmin}}, now)
		if err != nil {
			return err
		}
		t := store.Tenant{ID: in.ID, Name: in.Name, CreatedAt: now}
		ev := d.privilegedEvent(caller, t.ID, access.AuditTenantCreated, access.AuditResourceTenant, t.ID, nil,
			map[string]any{"name": t.Name, "first_key": keySummary(key), "first_key_id": key.ID})
		if err := d.Store.CreateTenant(r.Context(), t, key, ev); err != nil {
			return apiError(err, named("tenant", in.ID))
		}
		httpapi.Logger(r.Context()).Info("tenant created", "new_tenant_id", t.ID)
		httpapi.WriteJSON(w, http.StatusCreated, map[string]any{"tenant": t, "api_key": keyView{APIKey: key, Key: raw}})
		return nil
	})
}
