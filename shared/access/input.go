package access

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// RequestBody is the JSON body of POST /v1/requests, and the base of the
// body of its dry run, POST /v1/policies/evaluate: one type, so the two
// accept the same requests. It takes both spellings the original
// documents: the guide's flat resource_type/resource_id/justification and
// the reference's nested resource {type, id}/reason.
type RequestBody struct {
	ResourceType     string         `json:"resource_type"`
	ResourceID       string         `json:"resource_id"`
	Resource         *Resource      `json:"resource"`
	PermissionSetARN string         `json:"permission_set_arn"`
	Action           string         `json:"action"`
	Justification    string         `json:"justification"`
	Reason           string         `json:"reason"`
	DurationSeconds  *int64         `json:"duration_seconds"`
	BreakGlass       bool           `json:"break_glass"`
	Metadata         map[string]any `json:"metadata"`
}

// input maps the body onto a CreateInput. Its errors are the body's own:
// no resource, two spellings of one field that disagree, and an explicit
// duration_seconds of 0 (only an absent or null one is the default). All
// other checks are normalizeInput's.
func (b RequestBody) input() (CreateInput, []FieldError) {
	var errs []FieldError
	out := CreateInput{PermissionSetARN: b.PermissionSetARN, Action: b.Action,
		BreakGlass: b.BreakGlass, Metadata: b.Metadata, DurationSeconds: DefaultDurationSeconds}
	switch {
	case b.Resource != nil && (b.ResourceType != "" || b.ResourceID != ""):
		errs = append(errs, FieldError{Field: "resource", Message: "give either resource {type, id} or resource_type/resource_id, not both"})
	case b.Resource != nil:
		out.Resource = *b.Resource
	case b.ResourceType == "" && b.ResourceID == "":
		errs = append(errs, FieldError{Field: "resource", Message: "is required: resource {type, id} or resource_type/resource_id"})
	default:
		out.Resource = Resource{Type: b.ResourceType, ID: b.ResourceID}
	}
	switch {
	case b.Justification != "" && b.Reason != "" && b.Justification != b.Reason:
		errs = append(errs, FieldError{Field: "reason", Message: "give either reason or justification, not two different ones"})
	case b.Reason != "":
		out.Reason = b.Reason
	default:
		out.Reason = b.Justification
	}
	if b.DurationSeconds != nil {
		out.DurationSeconds = *b.DurationSeconds
		if out.DurationSeconds == 0 {
			errs = append(errs, FieldError{Field: "duration_seconds", Message: durationMessage + fmt.Sprintf("; omit it for the default %d", DefaultDurationSeconds)})
		}
	}
	return out, errs
}

// TargetChecker is an optional interface of a Provider (or set as
// Service.Targets) that can provision only some targets: CheckTarget
// returns why the provider could not provision r with permissionSetARN
// ("" if none), as field errors of the request body, or nothing. Create
// and the dry run refuse such a request with a 400 instead of approving
// it and failing its grant later.
//
// Only Identity Center constrains targets (AccountAssignmentTargets). The
// recording provider, the local stand-in of make dev and of recording
// deployments, deliberately does not: it records any target, so the local
// stack and demos can exercise policies over every resource type (S3,
// RDS, EC2, OUs). The Identity Center rule is tested against the Identity
// Center provider and stays in force wherever it runs.
type TargetChecker interface {
	CheckTarget(r Resource, permissionSetARN string) []FieldError
}

// AccountAssignmentTargets is the TargetChecker of providers that grant
// access as account assignments (IAM Identity Center): a permission set
// on an account. An aws_account needs a permission_set_arn; an
// aws_permission_set (with its account_id) is one; other resource types
// cannot be provisioned. It is the identitycenter provider's rule, kept
// here (without the AWS SDK) so that the API functions built without a
// provider (create-request, evaluate-policy) apply it too.
type AccountAssignmentTargets struct{}

// CheckTarget implements TargetChecker.
func (AccountAssignmentTargets) CheckTarget(r Resource, permissionSetARN string) []FieldError {
	typ := r.Type
	if rt, ok := policy.ResourceTypeForEntityType(typ); ok {
		typ = rt
	}
	switch typ {
	case "aws_account":
		if permissionSetARN == "" {
			return []FieldError{{Field: "permission_set_arn", Message: "is required: Identity Center grants access as a permission set on the account; " +
				"name one (arn:aws:sso:::permissionSet/ssoins-…/ps-…)"}}
		}
	case "aws_permission_set":
		if r.AccountID == "" {
			return []FieldError{{Field: "resource.account_id", Message: "is required: Identity Center assigns the permission set on an account"}}
		}
	default:
		return []FieldError{{Field: "resource.type", Message: fmt.Sprintf("%s cannot be provisioned by Identity Center: request an aws_account with a permission_set_arn, "+
			"or an aws_permission_set with its account_id", typ)}}
	}
	return nil
}

// targets is the TargetChecker in force: Targets, else the provider's own,
// else none (also for a nil Service: handlers built without one still
// validate).
func (s *Service) targets() TargetChecker {
	if s == nil {
		return nil
	}
	if s.Targets != nil {
		return s.Targets
	}
	if tc, ok := s.Provider.(TargetChecker); ok {
		return tc
	}
	return nil
}

// Validate is the validation of a request for access, the one Create
// applies and the dry run shares: defaults, formats and limits
// (normalizeInput), then what the provider can provision (TargetChecker,
// checked only on a well-formed target). It returns the normalised input,
// or a *ValidationError listing every invalid field.
func (s *Service) Validate(in CreateInput) (CreateInput, error) {
	out, err := normalizeInput(in)
	var fields []FieldError
	var ve *ValidationError
	if errors.As(err, &ve) {
		fields = ve.Fields
	}
	if tc := s.targets(); tc != nil && !hasFieldPrefix(fields, "resource", "permission_set_arn") {
		fields = append(fields, tc.CheckTarget(out.Resource, out.PermissionSetARN)...)
	}
	if len(fields) > 0 {
		return out, &ValidationError{Fields: fields}
	}
	return out, nil
}

// ValidateBody is Validate of a request body: the body's own errors (no
// resource, both spellings of one field, an explicit duration of 0) and
// Validate's, in one *ValidationError; an error of a field the body's own
// errors already name (or one below it) is left out. Whichever spelling
// the body used, the fields are named as in CreateInput's JSON (reason,
// resource.id, …). POST /v1/requests and POST /v1/policies/evaluate both
// call it.
func (s *Service) ValidateBody(b RequestBody) (CreateInput, error) {
	in, bodyErrs := b.input()
	out, err := s.Validate(in)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		if len(bodyErrs) > 0 {
			return out, &ValidationError{Fields: bodyErrs}
		}
		return out, err
	}
	fields := bodyErrs
	for _, f := range ve.Fields {
		if hasFieldPrefix([]FieldError{f}, fieldNames(bodyErrs)...) {
			continue
		}
		fields = append(fields, f)
	}
	return out, &ValidationError{Fields: fields}
}

func fieldNames(errs []FieldError) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Field
	}
	return out
}

// hasFieldPrefix: some error's field is one of prefixes or below it
// ("resource" covers "resource.id").
func hasFieldPrefix(errs []FieldError, prefixes ...string) bool {
	for _, e := range errs {
		for _, p := range prefixes {
			if e.Field == p || strings.HasPrefix(e.Field, p+".") {
				return true
			}
		}
	}
	return false
}

// PrincipalOf is the policy principal of a caller: its id, its groups
// and, when known, its email.
func PrincipalOf(c Caller) policy.Principal { return principalOf(c) }

// PolicyRequest is the request Create asks the tenant's policies about,
// for principal p and a validated in (Validate's output), at now.
func PolicyRequest(p policy.Principal, in CreateInput, now time.Time) policy.Request {
	return policy.Request{
		Principal: p, Action: in.Action,
		Resource:        PolicyResource(in.Resource, in.PermissionSetARN),
		DurationSeconds: in.DurationSeconds, Justification: in.Reason, BreakGlass: in.BreakGlass,
		Now: now, Metadata: in.Metadata,
	}
}
