package api

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/freetext"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// evaluateInput is the body of POST /v1/policies/evaluate: exactly the
// body of POST /v1/requests (access.RequestBody, validated by the same
// access.Service.ValidateBody), plus what only a dry run asks:
//   - principal, groups: whom to evaluate for (default: the caller; someone
//     else needs policies:read or policies:write);
//   - action: request_access (the default), extend_grant, or
//     approve_request with requester, requester_groups and mode (may the
//     principal approve this request of requester's?);
//   - context: the request's metadata under its older name (give one of
//     metadata and context).
type evaluateInput struct {
	access.RequestBody
	Principal string         `json:"principal"`
	Groups    []string       `json:"groups"`
	Context   map[string]any `json:"context"`
	// TotalDurationSeconds: context.total_duration_seconds (for
	// extend_grant the grant's total after the extension); default
	// duration_seconds.
	TotalDurationSeconds *int64 `json:"total_duration_seconds"`
	// For action approve_request: whose request, in which mode.
	Requester       string   `json:"requester"`
	RequesterGroups []string `json:"requester_groups"`
	Mode            string   `json:"mode"`
}

// evaluateOutput is the dry-run answer (the original's field names, plus
// the rest of the decision).
type evaluateOutput struct {
	Permitted         bool     `json:"permitted"`
	ApprovalMode      string   `json:"approval_mode,omitempty"`
	ApprovalTimeout   string   `json:"approval_timeout,omitempty"`
	ApprovalsRequired int      `json:"approvals_required,omitempty"`
	MatchingPolicyIDs []string `json:"matching_policy_ids"`
	Tier              *int     `json:"tier,omitempty"`
	Reason            string   `json:"reason"`
	Notices           []string `json:"notices"`
	Errors            []string `json:"errors,omitempty"`
	RuleSetVersion    int64    `json:"rule_set_version"`
}

// Limits on the dry run's own fields (the request's are access's).
const (
	maxGroups  = 256
	maxNameLen = 256
	// maxTotalDurationSeconds bounds a dry run's total_duration_seconds.
	maxTotalDurationSeconds = 30 * 24 * 3600
)

// validName: 1..256 bytes of one-line free text (package freetext: no
// control or format characters such as bidi overrides).
func validName(s string) bool { return nameProblem(s) == "" }

// nameProblem says why s is not a valid name ("" when it is).
func nameProblem(s string) string {
	if s == "" || len(s) > maxNameLen {
		return "must be a non-empty name of at most 256 bytes"
	}
	if p := freetext.Problem(s, false); p != "" {
		return "must be a printable name: " + p
	}
	return ""
}

// Evaluate serves POST /v1/policies/evaluate: what would the tenant's
// policies decide for this request, and which rules decided. The request
// is validated exactly as POST /v1/requests validates it (limits,
// break-glass justification, what the provider can provision), so a body
// create refuses with a 400 is refused here with the same 400, and one it
// accepts gets the decision create would make. A person may dry-run their
// own requests (principal and groups default to theirs); asking about
// someone else needs policies:read or policies:write.
func Evaluate(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		caller, err := httpapi.RequireTenant(r, auth.ScopeRequestsRead, auth.ScopePoliciesRead, auth.ScopePoliciesWrite)
		if err != nil {
			return err
		}
		var in evaluateInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		req, err := buildEvaluation(d.Access, caller, in, d.now())
		if err != nil {
			return err
		}
		ps, version, err := d.Policies.Current(r.Context(), d.Store, caller.TenantID)
		if err != nil {
			return apiError(err, "policy rules")
		}
		var dec policy.Decision
		if req.Action == policy.ActionApproveRequest {
			dec = ps.MayApprove(req.Principal, *req.Requester, req.Resource, req.Mode, req.Now)
		} else {
			dec = ps.Decide(req)
		}
		out := evaluateOutput{
			Permitted:         dec.Allowed,
			ApprovalMode:      dec.Mode,
			ApprovalsRequired: dec.ApprovalsRequired,
			MatchingPolicyIDs: dec.DecidingRuleIDs,
			Tier:              dec.Tier,
			Reason:            dec.Reason,
			Notices:           dec.Notices,
			Errors:            dec.Errors,
			RuleSetVersion:    version,
		}
		if out.MatchingPolicyIDs == nil {
			out.MatchingPolicyIDs = []string{}
		}
		if out.Notices == nil {
			out.Notices = []string{}
		}
		if dec.ApprovalTimeout > 0 {
			out.ApprovalTimeout = policy.FormatTimeout(dec.ApprovalTimeout)
		}
		httpapi.WriteJSON(w, http.StatusOK, out)
		return nil
	})
}

// buildEvaluation validates the dry-run input against the caller's rights
// and returns the policy request: the one access.Service.Create would ask
// about (access.PolicyRequest of ValidateBody's input), with the dry run's
// principal, action and approval fields.
func buildEvaluation(svc *access.Service, caller auth.Identity, in evaluateInput, now time.Time) (policy.Request, error) {
	var errs []httpapi.FieldError
	add := func(f, msg string) { errs = append(errs, httpapi.FieldError{Field: f, Message: msg}) }
	mayImpersonate := caller.HasScope(auth.ScopePoliciesRead) || caller.HasScope(auth.ScopePoliciesWrite)

	// The principal create would use: the caller (access.PrincipalOf).
	principal := access.PrincipalOf(access.Caller{ID: caller.PrincipalID, Groups: caller.Groups, Email: caller.Email})
	if in.Principal != "" && in.Principal != caller.PrincipalID || in.Groups != nil {
		if !mayImpersonate {
			return policy.Request{}, httpapi.Errorf(http.StatusForbidden, "forbidden",
				"dry-running a request for another principal or other groups needs the policies:read scope")
		}
		principal = policy.Principal{ID: in.Principal, Groups: in.Groups}
		if in.Principal == "" {
			principal.ID = caller.PrincipalID
		}
	}
	if !validName(principal.ID) {
		add("principal", "must be a non-empty printable id of at most 256 bytes")
	}
	if len(principal.Groups) > maxGroups {
		add("groups", "at most 256 groups")
	}
	for i, g := range principal.Groups {
		if !validName(g) {
			add("groups["+itoa(i)+"]", "must be a non-empty printable name of at most 256 bytes")
		}
	}

	// The body create takes, with the dry run's own action and context.
	body := in.RequestBody
	action := body.Action
	if action == "" {
		action = policy.ActionRequestAccess
	}
	if !slices.Contains([]string{policy.ActionRequestAccess, policy.ActionApproveRequest, policy.ActionExtendGrant}, action) {
		add("action", "must be request_access, approve_request or extend_grant")
	}
	body.Action = "" // validated here: create's validation knows request_access only
	metadataField := "metadata"
	if in.Context != nil {
		if body.Metadata != nil {
			add("context", "give either metadata or context, not both")
		}
		body.Metadata, metadataField = in.Context, "context"
	}
	ci, err := svc.ValidateBody(body)
	var ve *access.ValidationError
	switch {
	case errors.As(err, &ve):
		for _, f := range ve.Fields {
			if f.Field == "metadata" {
				f.Field = metadataField
			}
			add(f.Field, f.Message)
		}
	case err != nil:
		return policy.Request{}, err
	}
	var total int64
	if in.TotalDurationSeconds != nil {
		total = *in.TotalDurationSeconds
		if total < 60 || total > maxTotalDurationSeconds {
			add("total_duration_seconds", "must be from 60 to 2592000 (30 days)")
		}
	}

	req := access.PolicyRequest(principal, ci, now)
	req.Action = action
	req.TotalDurationSeconds = total
	if action == policy.ActionApproveRequest {
		if !validName(in.Requester) {
			add("requester", "is required for approve_request: the requester's id")
		}
		for i, g := range in.RequesterGroups {
			if !validName(g) {
				add("requester_groups["+itoa(i)+"]", "must be a non-empty printable name of at most 256 bytes")
			}
		}
		switch in.Mode {
		case policy.ModeRequire, policy.ModeBreakGlass, policy.ModeAuto:
		default:
			add("mode", "is required for approve_request: auto, require or break_glass")
		}
		req.Requester = &policy.Principal{ID: in.Requester, Groups: in.RequesterGroups}
		req.Mode = in.Mode
	}
	if len(errs) > 0 {
		return policy.Request{}, httpapi.Invalid("invalid evaluation request", errs...)
	}
	return req, nil
}
