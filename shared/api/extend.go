package api

import (
	"net/http"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
)

type extendInput struct {
	DurationSeconds int64  `json:"duration_seconds"`
	Justification   string `json:"justification"`
	Reason          string `json:"reason"` // the reference's spelling of justification
}

// extendView is ExtendGrant's answer: the grant (with its new end when the
// extension was automatic) and the extension request (approved or
// pending).
type extendView struct {
	Grant   access.Grant   `json:"grant"`
	Request access.Request `json:"extension_request"`
}

// ExtendGrant serves POST /v1/grants/{id}/extend {duration_seconds,
// justification}: 200 when policy extended the grant at once, 202 when the
// extension waits for review (the request's id is in the answer), 403
// policy_denied, 409 when the grant is not active or an extension is
// pending already.
func ExtendGrant(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsWrite)
		if err != nil {
			return err
		}
		var in extendInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		if in.Justification == "" {
			in.Justification = in.Reason
		} else if in.Reason != "" && in.Reason != in.Justification {
			return httpapi.Invalid("invalid grant extension", httpapi.FieldError{Field: "reason", Message: "give justification or reason, not both"})
		}
		res, err := d.Access.ExtendGrant(r.Context(), caller(id), r.PathValue("id"), access.ExtendInput{DurationSeconds: in.DurationSeconds, Justification: in.Justification})
		if err != nil {
			return accessError(err, "grant")
		}
		status := http.StatusOK
		if res.Request.Status == access.StatusPending {
			status = http.StatusAccepted
			w.Header().Set("Location", "/v1/requests/"+res.Request.ID)
		}
		httpapi.WriteJSON(w, status, extendView{Grant: res.Grant, Request: res.Request})
		return nil
	})
}
