package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
)

// caller turns the authorizer's identity into the access service's caller.
func caller(id auth.Identity) access.Caller {
	return access.Caller{TenantID: id.TenantID, ID: id.PrincipalID, Issuer: id.Issuer, Type: id.PrincipalType,
		Groups: id.Groups, Email: id.Email, EmailVerified: id.EmailVerified, Admin: id.HasScope(auth.ScopeAdmin)}
}

// deniedError is the 403 policy_denied of a request the tenant's policy
// denied: the reason and the deciding rule ids for everyone; the
// evaluation errors' text only for admins (forAdmin) — a requester learns
// which rule failed, not how (admins see that here and in the dry run).
func deniedError(denied *access.PolicyDeniedError, forAdmin bool) error {
	reason := denied.Decision.Reason
	details := map[string]any{"request_id": denied.Request.ID,
		"notices": nonNil(denied.Decision.Notices), "deciding_rule_ids": nonNil(denied.Decision.DecidingRuleIDs)}
	if forAdmin {
		details["errors"] = nonNil(denied.Decision.Errors)
	} else {
		reason = access.RequesterReason(denied.Decision)
	}
	details["reason"] = reason
	return (&httpapi.Error{Status: http.StatusForbidden, Code: "policy_denied", Message: reason}).WithDetails(details)
}

// accessError maps the access service's errors onto API errors. Messages
// never carry the domain error's text: they are written here, for clients.
func accessError(err error, what string) error {
	var denied *access.PolicyDeniedError
	var dup *access.DuplicateError
	var limit *access.DurationLimitError
	var state *access.StateError
	var limited *access.RateLimitedError
	var capped *access.MessageCapError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &limited):
		return httpapi.RateLimited(
			fmt.Sprintf("too many %s writes: at most %d per %s for each caller; retry after %d seconds",
				limited.Kind, limited.Max, limited.Window, int64(limited.RetryAfter/time.Second)),
			limited.RetryAfter,
			map[string]any{"kind": limited.Kind, "limit": limited.Max, "window_seconds": int64(limited.Window / time.Second)})
	case errors.As(err, &capped):
		return (&httpapi.Error{Status: http.StatusConflict, Code: "message_limit_reached",
			Message: fmt.Sprintf("request %s holds %d messages, the most a request may hold; continue the conversation elsewhere or open a new request", httpapi.ClipID(capped.RequestID), capped.Max)}).
			WithDetails(map[string]any{"request_id": capped.RequestID, "max_messages": capped.Max})
	case errors.As(err, &limit):
		details := map[string]any{"total_duration_seconds": limit.TotalSeconds, "max_grant_duration_seconds": limit.MaxSeconds}
		if limit.RequestID != "" {
			details["request_id"] = limit.RequestID
		}
		return (&httpapi.Error{Status: http.StatusForbidden, Code: "duration_limit", Message: limit.Reason()}).WithDetails(details)
	case errors.As(err, &denied):
		return deniedError(denied, false)
	case errors.As(err, &dup):
		details := map[string]any{}
		msg := "a pending request for this target exists already"
		if dup.RequestID != "" {
			details["request_id"] = dup.RequestID
		}
		if dup.GrantID != "" {
			details["grant_id"] = dup.GrantID
			msg = "a live grant for this target exists already"
		}
		return (&httpapi.Error{Status: http.StatusConflict, Code: "duplicate_request", Message: msg}).WithDetails(details)
	case errors.Is(err, access.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, "not_found", "%s not found", what)
	case errors.Is(err, access.ErrSelfApproval):
		return httpapi.Errorf(http.StatusForbidden, "self_approval", "requesters cannot review their own requests (under any spelling of their subject or with another token carrying their verified email)")
	case errors.Is(err, access.ErrEmailUnverified):
		return httpapi.Errorf(http.StatusForbidden, "email_unverified", "this tenant maps people to Identity Center users by email, and your token's email is missing or not verified (email_verified is not true)")
	case errors.Is(err, access.ErrForbidden):
		return httpapi.Errorf(http.StatusForbidden, "forbidden", "policy does not allow you to do this to the %s", what)
	case errors.Is(err, access.ErrAlreadyReviewed):
		return httpapi.Errorf(http.StatusConflict, "already_reviewed", "you have already reviewed this request (possibly with another token)")
	case errors.As(err, &state):
		return stateConflict(state)
	case errors.Is(err, access.ErrConflict):
		return httpapi.Errorf(http.StatusConflict, "conflict", "the %s kept changing while this call ran; read it again and retry", what)
	case errors.Is(err, access.ErrRetryable):
		return httpapi.Errorf(http.StatusServiceUnavailable, "provider_unavailable", "the access provider did not answer in time; retry the call")
	case errors.Is(err, access.ErrIdempotencyMismatch):
		return httpapi.Errorf(http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with another request body")
	default:
		return apiError(err, what)
	}
}

// stateConflict is the 409 of a transition its item's state refuses: it
// says what happened ("request req_x was approved by bob at …; it is no
// longer pending") and carries the state in details (status, and when
// known by, at, expired_at or ended_at).
func stateConflict(state *access.StateError) error {
	name := state.What + " " + httpapi.ClipID(state.ID)
	msg := fmt.Sprintf("%s is already %s", name, state.Status)
	details := map[string]any{"status": state.Status, state.What + "_id": state.ID}
	if state.By != "" || state.ChangedAt != nil {
		msg = fmt.Sprintf("%s was %s", name, state.Status)
		if state.By != "" {
			msg += " by " + httpapi.Clip(state.By, 200)
			details["by"] = state.By
		}
		if state.ChangedAt != nil {
			at := state.ChangedAt.UTC().Format(time.RFC3339)
			msg += " at " + at
			details["at"] = at
		}
		if state.What == "request" {
			msg += "; it is no longer pending"
		} else {
			msg += "; it can no longer be changed"
		}
	}
	if state.Want != "" {
		msg = fmt.Sprintf("%s is %s; only an %s %s can be changed this way", name, state.Status, state.Want, state.What)
	}
	if state.At != nil {
		at := state.At.UTC().Format(time.RFC3339)
		if state.What == "request" {
			msg = fmt.Sprintf("the request expired at %s (its approval deadline)", at)
			details["expired_at"] = at
		} else {
			msg = fmt.Sprintf("the %s ended at %s", state.What, at)
			details["ended_at"] = at
		}
	}
	return httpapi.Errorf(http.StatusConflict, "conflict", "%s", msg).WithDetails(details)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// accessPage reads limit/cursor into the service's page.
func accessPage(r *http.Request) (access.Page, error) {
	limit, cursor, err := httpapi.PageParams(r)
	return access.Page{Limit: limit, Cursor: cursor}, err
}

const maxIdempotencyKey = 128

// CreateRequest serves POST /v1/requests.
func CreateRequest(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsWrite)
		if err != nil {
			return err
		}
		key := r.Header.Get("Idempotency-Key")
		if len(key) > maxIdempotencyKey || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			return httpapi.Invalid("invalid header", httpapi.FieldError{Field: "Idempotency-Key", Message: "at most 128 printable ASCII characters"})
		}
		var in access.RequestBody
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		ci, err := d.Access.ValidateBody(in)
		if err != nil {
			return accessError(err, "access request")
		}
		res, err := d.Access.Create(r.Context(), caller(id), ci, key)
		var denied *access.PolicyDeniedError
		if errors.As(err, &denied) {
			return deniedError(denied, id.HasScope(auth.ScopeAdmin))
		}
		if err != nil {
			return accessError(err, "access request")
		}
		if res.Replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		w.Header().Set("Location", "/v1/requests/"+res.Request.ID)
		httpapi.WriteJSON(w, http.StatusCreated, requestView{Request: res.Request, Grant: res.Grant})
		return nil
	})
}

// requestView is a request as returned, with its grant when one exists.
type requestView struct {
	access.Request
	Grant *access.Grant `json:"grant,omitempty"`
}

// GetRequest serves GET /v1/requests/{id}.
func GetRequest(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsRead)
		if err != nil {
			return err
		}
		req, err := d.Access.Get(r.Context(), caller(id), r.PathValue("id"))
		if err != nil {
			return accessError(err, "request")
		}
		httpapi.WriteJSON(w, http.StatusOK, requestView{Request: req})
		return nil
	})
}

var requestStatuses = []string{access.StatusPending, access.StatusApproved, access.StatusDenied, access.StatusExpired, access.StatusCancelled}
var grantStatuses = []string{access.GrantProvisioning, access.GrantActive, access.GrantExpired, access.GrantRevoked, access.GrantFailed}

// ListRequests serves GET /v1/requests?status=&requester=&mine=true, newest first.
func ListRequests(d Deps) http.Handler {
	return listOf(d, auth.ScopeRequestsRead, "requests", func(r *http.Request) (access.ListFilter, error) {
		q := r.URL.Query()
		f := access.ListFilter{Status: q.Get("status"), RequesterID: q.Get("requester")}
		if err := optionalOneOf("status", f.Status, requestStatuses); err != nil {
			return f, err
		}
		if err := optionalName("requester", f.RequesterID); err != nil {
			return f, err
		}
		var err error
		if f.Mine, err = boolParam(q, "mine"); err != nil {
			return f, err
		}
		f.Reviewable, err = boolParam(q, "reviewable")
		return f, err
	}, (*access.Service).List)
}

// listOf serves a paginated list: the scope check, the filter (from the
// query or path), limit/cursor, the service call and the {data,
// next_cursor, has_more} envelope.
func listOf[F, T any](d Deps, scope, what string, filter func(*http.Request) (F, error),
	list func(*access.Service, context.Context, access.Caller, F, access.Page) ([]T, string, error)) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, scope)
		if err != nil {
			return err
		}
		f, err := filter(r)
		if err != nil {
			return err
		}
		page, err := accessPage(r)
		if err != nil {
			return err
		}
		items, next, err := list(d.Access, r.Context(), caller(id), f, page)
		if err != nil {
			return accessError(err, what)
		}
		httpapi.WriteJSON(w, http.StatusOK, httpapi.NewList(items, next))
		return nil
	})
}

// optionalOneOf: v empty or one of allowed.
func optionalOneOf(field, v string, allowed []string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: field, Message: "must be one of " + strings.Join(allowed, ", ")})
}

// optionalName: v empty or a printable id of at most 256 bytes.
func optionalName(field, v string) error {
	if v == "" || validName(v) {
		return nil
	}
	return httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: field, Message: "must be printable, at most 256 bytes"})
}

// boolParam reads an optional true/false query parameter.
func boolParam(q url.Values, field string) (bool, error) {
	switch q.Get(field) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: field, Message: "must be true or false"})
}

type reviewInput struct {
	Reasoning string `json:"reasoning"`
}

const maxReasoning = 2000

// decodeOptional reads an optional JSON body: none (or only white space)
// leaves v as it is; anything else must be strict JSON like DecodeJSON's.
func decodeOptional(r *http.Request, v any) error {
	body, err := httpapi.ReadBody(r, 0)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := httpapi.CheckJSONContentType(r); err != nil {
		return err
	}
	return httpapi.UnmarshalStrict(body, v)
}

// readReasoning reads the optional {reasoning} body of a decision or a
// revocation.
func readReasoning(r *http.Request) (string, error) {
	var in reviewInput
	if err := decodeOptional(r, &in); err != nil {
		return "", err
	}
	if len(in.Reasoning) > maxReasoning {
		return "", httpapi.Invalid("invalid request body", httpapi.FieldError{Field: "reasoning", Message: "at most 2000 bytes"})
	}
	return in.Reasoning, nil
}

func review(d Deps, decide func(*access.Service) func(ctx context.Context, c access.Caller, id, reasoning string) (access.Request, error)) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsWrite)
		if err != nil {
			return err
		}
		reasoning, err := readReasoning(r)
		if err != nil {
			return err
		}
		req, err := decide(d.Access)(r.Context(), caller(id), r.PathValue("id"), reasoning)
		if err != nil {
			return accessError(err, "request")
		}
		httpapi.WriteJSON(w, http.StatusOK, requestView{Request: req})
		return nil
	})
}

// ApproveRequest serves POST /v1/requests/{id}/approve {reasoning?}.
func ApproveRequest(d Deps) http.Handler {
	return review(d, func(s *access.Service) func(context.Context, access.Caller, string, string) (access.Request, error) {
		return s.Approve
	})
}

// DenyRequest serves POST /v1/requests/{id}/deny {reasoning?}.
func DenyRequest(d Deps) http.Handler {
	return review(d, func(s *access.Service) func(context.Context, access.Caller, string, string) (access.Request, error) {
		return s.Deny
	})
}

// CancelRequest serves POST /v1/requests/{id}/cancel (the requester, while pending).
func CancelRequest(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsWrite)
		if err != nil {
			return err
		}
		var in struct{}
		if err := decodeOptional(r, &in); err != nil {
			return err
		}
		req, err := d.Access.Cancel(r.Context(), caller(id), r.PathValue("id"))
		if err != nil {
			return accessError(err, "request")
		}
		httpapi.WriteJSON(w, http.StatusOK, requestView{Request: req})
		return nil
	})
}

type messageInput struct {
	Body string `json:"body"`
}

// PostMessage serves POST /v1/requests/{id}/messages {"body": "..."}.
func PostMessage(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsWrite)
		if err != nil {
			return err
		}
		var in messageInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		msg, err := d.Access.PostMessage(r.Context(), caller(id), r.PathValue("id"), in.Body)
		if err != nil {
			return accessError(err, "request")
		}
		httpapi.WriteJSON(w, http.StatusCreated, msg)
		return nil
	})
}

// ListMessages serves GET /v1/requests/{id}/messages, oldest first.
func ListMessages(d Deps) http.Handler {
	return listOf(d, auth.ScopeRequestsRead, "request", func(r *http.Request) (string, error) {
		return r.PathValue("id"), nil
	}, (*access.Service).ListMessages)
}

// ListGrants serves GET /v1/grants?status=&grantee=.
func ListGrants(d Deps) http.Handler {
	return listOf(d, auth.ScopeRequestsRead, "grants", func(r *http.Request) (access.GrantFilter, error) {
		q := r.URL.Query()
		f := access.GrantFilter{Status: q.Get("status"), GranteeID: q.Get("grantee")}
		if err := optionalOneOf("status", f.Status, grantStatuses); err != nil {
			return f, err
		}
		return f, optionalName("grantee", f.GranteeID)
	}, (*access.Service).ListGrants)
}

// GetGrant serves GET /v1/grants/{id}.
func GetGrant(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsRead)
		if err != nil {
			return err
		}
		g, err := d.Access.GetGrant(r.Context(), caller(id), r.PathValue("id"))
		if err != nil {
			return accessError(err, "grant")
		}
		httpapi.WriteJSON(w, http.StatusOK, g)
		return nil
	})
}

// RevokeGrant serves DELETE /v1/grants/{id}: early revoke by the grantee, an
// authorized reviewer or an admin. Optional body {reasoning}.
func RevokeGrant(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeRequestsWrite)
		if err != nil {
			return err
		}
		reasoning, err := readReasoning(r)
		if err != nil {
			return err
		}
		g, err := d.Access.RevokeGrant(r.Context(), caller(id), r.PathValue("id"), reasoning)
		if err != nil {
			return accessError(err, "grant")
		}
		httpapi.WriteJSON(w, http.StatusOK, g)
		return nil
	})
}

func parseTime(field, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: field, Message: "must be an RFC 3339 time, e.g. 2026-11-27T10:00:00Z"})
	}
	return &t, nil
}

// ListAuditLog serves GET /v1/audit-log?actor_id&resource_type&resource_id&action&from&to (admin).
func ListAuditLog(d Deps) http.Handler {
	return listOf(d, auth.ScopeAdmin, "audit log", func(r *http.Request) (access.AuditFilter, error) {
		q := r.URL.Query()
		f := access.AuditFilter{ActorID: q.Get("actor_id"), ResourceType: q.Get("resource_type"),
			ResourceID: q.Get("resource_id"), Action: q.Get("action")}
		if f.ActorID == "" {
			f.ActorID = q.Get("actor") // DESIGN's spelling
		}
		for _, p := range [][2]string{{"actor_id", f.ActorID}, {"resource_type", f.ResourceType}, {"resource_id", f.ResourceID}, {"action", f.Action}} {
			if err := optionalName(p[0], p[1]); err != nil {
				return f, err
			}
		}
		var err error
		if f.From, err = parseTime("from", q.Get("from")); err != nil {
			return f, err
		}
		f.To, err = parseTime("to", q.Get("to"))
		return f, err
	}, (*access.Service).AuditLog)
}

// VerifyAuditLog serves GET /v1/audit-log/verify (admin): checks one page
// of the hash chain against its anchors — from the latest anchor, or
// from_seq (an anchor's seq), or genesis=true; cursor continues, limit
// bounds the entries (default 1000, max 10000) — and reports the first
// broken link.
func VerifyAuditLog(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		o := access.VerifyOptions{Cursor: q.Get("cursor"), Genesis: q.Get("genesis") == "true"}
		for _, p := range []struct {
			name string
			max  int64
			dst  func(int64)
		}{
			{"from_seq", 1 << 62, func(n int64) { o.FromSeq = n }},
			{"limit", 10000, func(n int64) { o.Limit = int(n) }},
		} {
			if v := q.Get(p.name); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 1 || n > p.max {
					return httpapi.Invalid("invalid verify request", httpapi.FieldError{Field: p.name, Message: fmt.Sprintf("must be an integer from 1 to %d", p.max)})
				}
				p.dst(n)
			}
		}
		if g := q.Get("genesis"); g != "" && g != "true" && g != "false" {
			return httpapi.Invalid("invalid verify request", httpapi.FieldError{Field: "genesis", Message: "must be true or false"})
		}
		res, err := d.Access.VerifyAudit(r.Context(), caller(id), o)
		if err != nil {
			return accessError(err, "audit log")
		}
		httpapi.WriteJSON(w, http.StatusOK, res)
		return nil
	})
}
