package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

func itoa(i int) string { return strconv.Itoa(i) }

type createKeyInput struct {
	Name             string   `json:"name"`
	Scopes           []string `json:"scopes"`
	ExpiresInSeconds *int64   `json:"expires_in_seconds"`
}

// keyView is an API key as returned: never its hash (store.APIKey's Hash
// is not serialised); Key (the raw secret) is set only in the response that
// creates it.
type keyView struct {
	store.APIKey
	Revoked bool   `json:"revoked"`
	Key     string `json:"key,omitempty"`
}

func viewKey(k store.APIKey, raw string) keyView {
	return keyView{APIKey: k, Revoked: k.RevokedAt != nil, Key: raw}
}

const maxKeyLifetime = 2 * 365 * 24 * time.Hour

// newAPIKey validates the input and mints a key for tenant, returning the
// record to store and its raw secret.
func newAPIKey(tenant, createdBy string, in createKeyInput, now time.Time) (store.APIKey, string, error) {
	var errs []httpapi.FieldError
	if msg := nameProblem(in.Name); msg != "" {
		errs = append(errs, httpapi.FieldError{Field: "name", Message: msg})
	}
	if len(in.Scopes) == 0 {
		errs = append(errs, httpapi.FieldError{Field: "scopes", Message: "at least one of " + joinScopes()})
	}
	for i, s := range in.Scopes {
		if !auth.ValidTenantScope(s) {
			errs = append(errs, httpapi.FieldError{Field: "scopes[" + itoa(i) + "]", Message: "must be one of " + joinScopes()})
		}
	}
	var expires *time.Time
	if in.ExpiresInSeconds != nil {
		secs := *in.ExpiresInSeconds // checked before conversion: a huge value would overflow
		if secs < 60 || secs > int64(maxKeyLifetime/time.Second) {
			errs = append(errs, httpapi.FieldError{Field: "expires_in_seconds", Message: "must be from 60 to 63072000 (2 years)"})
		} else {
			t := now.Add(time.Duration(secs) * time.Second)
			expires = &t
		}
	}
	if len(errs) > 0 {
		return store.APIKey{}, "", httpapi.Invalid("invalid API key request", errs...)
	}
	raw, hash, prefix, err := auth.GenerateKey()
	if err != nil {
		return store.APIKey{}, "", err
	}
	scopes := slices.Clone(in.Scopes)
	slices.Sort(scopes)
	return store.APIKey{
		ID: newID("key-"), TenantID: tenant, Name: in.Name, Hash: hash, Prefix: prefix,
		Scopes: slices.Compact(scopes), CreatedBy: createdBy, CreatedAt: now, ExpiresAt: expires,
	}, raw, nil
}

func joinScopes() string {
	s := ""
	for i, sc := range auth.TenantScopes {
		if i > 0 {
			s += ", "
		}
		s += sc
	}
	return s
}

// CreateAPIKey serves POST /v1/api-keys (admin): the raw key is in this
// response only; the table keeps its SHA-256.
func CreateAPIKey(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		var in createKeyInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		key, raw, err := newAPIKey(id.TenantID, id.PrincipalID, in, d.now())
		if err != nil {
			return err
		}
		ev := d.privilegedEvent(id, id.TenantID, access.AuditAPIKeyCreated, access.AuditResourceAPIKey, key.ID, nil, keySummary(key))
		if err := d.Store.CreateAPIKey(r.Context(), key, ev); err != nil {
			return apiError(err, "API key")
		}
		httpapi.Logger(r.Context()).Info("API key created", "key_id", key.ID, "scopes", key.Scopes)
		httpapi.WriteJSON(w, http.StatusCreated, viewKey(key, raw))
		return nil
	})
}

// DeleteAPIKey serves DELETE /v1/api-keys/{id} (admin): revokes the key.
// Revoking a revoked key is 409.
func DeleteAPIKey(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		keyID := r.PathValue("id")
		ev := d.privilegedEvent(id, id.TenantID, access.AuditAPIKeyRevoked, access.AuditResourceAPIKey, keyID, nil, map[string]any{"revoked": true})
		key, err := d.Store.RevokeAPIKey(r.Context(), id.TenantID, keyID, d.now(), ev)
		if err != nil {
			return apiError(err, named("API key", keyID))
		}
		httpapi.Logger(r.Context()).Info("API key revoked", "key_id", key.ID)
		httpapi.WriteJSON(w, http.StatusOK, viewKey(key, ""))
		return nil
	})
}

// ListAPIKeys serves GET /v1/api-keys (admin): the tenant's keys, revoked
// and expired ones included, ordered by id, so a lost key id can be found
// by name, prefix or scopes. Never the raw key or its hash.
func ListAPIKeys(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		limit, cursor, err := httpapi.PageParams(r)
		if err != nil {
			return err
		}
		keys, next, err := d.Store.ListAPIKeys(r.Context(), id.TenantID, store.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			return apiError(err, "API keys")
		}
		views := make([]keyView, len(keys))
		for i, k := range keys {
			views[i] = viewKey(k, "")
		}
		httpapi.WriteJSON(w, http.StatusOK, httpapi.NewList(views, next))
		return nil
	})
}

// keySummary is what the audit log records of a key: never the secret
// or its hash.
func keySummary(k store.APIKey) map[string]any {
	m := map[string]any{"name": k.Name, "scopes": k.Scopes, "prefix": k.Prefix}
	if k.ExpiresAt != nil {
		m["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return m
}

// privilegedEvent is the audit event of a privileged change by id in
// tenant, written in the change's own transaction.
func (d Deps) privilegedEvent(id auth.Identity, tenant, action, resourceType, resourceID string, before, after map[string]any) access.AuditEvent {
	c := caller(id)
	c.TenantID = tenant
	svc := d.Access
	if svc == nil {
		svc = &access.Service{Now: d.Now}
	}
	return svc.PrivilegedEvent(c, action, resourceType, resourceID, before, after, nil)
}
