package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/freetext"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// ResourceInput names a target: type is the API name (aws_account,
// aws_permission_set, aws_organizational_unit, aws_s3_bucket,
// aws_rds_instance, aws_ec2_instance) or the Cedar entity type (AwsAccount, …).
// account_id / ou_id place it in its account and OU for `in` rules.
type ResourceInput struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	AccountID string `json:"account_id,omitempty"`
	OUID      string `json:"ou_id,omitempty"`
}

// Resource validates the input (access.ValidateResource, field names
// prefixed with field instead of "resource") and returns the policy
// resource.
func (in ResourceInput) Resource(field string) (policy.Resource, []httpapi.FieldError) {
	r := access.Resource{Type: in.Type, ID: in.ID, AccountID: in.AccountID, OUID: in.OUID}
	verrs := access.ValidateResource(r)
	if len(verrs) > 0 {
		errs := make([]httpapi.FieldError, len(verrs))
		for i, e := range verrs {
			errs[i] = httpapi.FieldError{Field: field + strings.TrimPrefix(e.Field, "resource"), Message: e.Message}
		}
		return policy.Resource{}, errs
	}
	typ := in.Type
	if et, ok := policy.EntityTypeForResourceType(typ); ok {
		typ = et
	}
	return policy.Resource{Type: typ, ID: in.ID, AccountID: in.AccountID, OUID: in.OUID}, nil
}

// evaluateInput is the body of POST /v1/policies/evaluate.
type evaluateInput struct {
	Principal       string         `json:"principal"`
	Groups          []string       `json:"groups"`
	Resource        *ResourceInput `json:"resource"`
	Action          string         `json:"action"`
	DurationSeconds *int64         `json:"duration_seconds"`
	Justification   string         `json:"justification"`
	BreakGlass      bool           `json:"break_glass"`
	Context         map[string]any `json:"context"`
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

// Limits on dry-run input.
const (
	maxGroups          = 256
	maxNameLen         = 256
	maxJustification   = 2000
	maxDurationSeconds = 30 * 24 * 3600
	defaultDuration    = 3600
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
// policies decide for this request, and which rules decided. A person may
// dry-run their own requests (principal and groups default to theirs);
// asking about someone else needs policies:read or policies:write.
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
		req, err := buildEvaluation(caller, in)
		if err != nil {
			return err
		}
		req.Now = d.now()
		ps, version, err := d.policySet(r.Context(), caller.TenantID)
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

// buildEvaluation validates the dry-run input against the caller's rights.
func buildEvaluation(caller auth.Identity, in evaluateInput) (policy.Request, error) {
	var errs []httpapi.FieldError
	add := func(f, msg string) { errs = append(errs, httpapi.FieldError{Field: f, Message: msg}) }
	mayImpersonate := caller.HasScope(auth.ScopePoliciesRead) || caller.HasScope(auth.ScopePoliciesWrite)

	principal := policy.Principal{ID: caller.PrincipalID, Groups: caller.Groups}
	if caller.Email != "" {
		principal.Attributes = map[string]string{"email": caller.Email}
	}
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

	action := in.Action
	if action == "" {
		action = policy.ActionRequestAccess
	}
	if !slices.Contains([]string{policy.ActionRequestAccess, policy.ActionApproveRequest, policy.ActionExtendGrant}, action) {
		add("action", "must be request_access, approve_request or extend_grant")
	}
	var res policy.Resource
	if in.Resource == nil {
		add("resource", "is required: {type, id}")
	} else {
		var rerrs []httpapi.FieldError
		res, rerrs = in.Resource.Resource("resource")
		errs = append(errs, rerrs...)
	}
	duration := int64(defaultDuration)
	if in.DurationSeconds != nil {
		duration = *in.DurationSeconds
		if duration < 60 || duration > maxDurationSeconds {
			add("duration_seconds", "must be from 60 to 2592000 (30 days)")
		}
	}
	if len(in.Justification) > maxJustification {
		add("justification", "must be at most 2000 bytes")
	} else if p := freetext.Problem(in.Justification, true); p != "" {
		add("justification", p)
	}
	req := policy.Request{
		Principal: principal, Action: action, Resource: res, DurationSeconds: duration,
		Justification: in.Justification, BreakGlass: in.BreakGlass, Metadata: in.Context,
	}
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
