package access

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// FuzzNormalizeInput: whatever a caller sends, validation never panics,
// rejects with field errors, and anything it accepts is a well-formed
// request: a valid resource that maps to a Cedar entity, bounded duration
// and reason, request_access, and normalization is idempotent (the
// Idempotency-Key hash of an accepted input is stable).
//
// The same input also goes, as a request body (flat or nested spelling),
// through Service.ValidateBody — the validation POST /v1/requests and its
// dry run share — with and without Identity Center's target rule: both
// spellings get the same answer, an accepted body is what normalizeInput
// accepts, and with the rule every accepted target is an account
// assignment (an account and a permission set).
func FuzzNormalizeInput(f *testing.F) {
	f.Add("aws_account", "111111111111", "", "", "", "", "debug a deploy", int64(3600), false, []byte(`{"ticket":"INC-1"}`))
	f.Add("aws_account", "111111111111", "", "", "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890", "", "rotate", int64(0), false, []byte(nil))
	f.Add("aws_permission_set", "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-abcdef1234567890", "111111111111", "", "", "", "x", int64(60), false, []byte(`{}`))
	f.Add("AwsEc2Instance", "i-0123456789abcdef0", "111111111111", "ou-ab12-cd34ef56", "", "request_access", "INC-1234: prod is down, failing over", int64(604800), true, []byte(`{"n":1.5,"a":[1,"x",null]}`))
	f.Add("aws_s3_bucket", "my.bucket-1", "", "", "", "approve_request", "\x00\x1b[31m", int64(-1), true, []byte(`[1]`))
	f.Add("aws_rds_instance", "arn:aws:rds:eu-west-1:111111111111:db:main", "", "r-ab12", "", "", " \n\t ", int64(1<<62), false, []byte(`{"k":"\u0000"}`))
	f.Add("aws_organizational_unit", "ou-ab12-cd34ef56", "", "", "", "", "reason\u202e", int64(59), false, []byte(`{"deep":{"deeper":{"deepest":[{"x":true}]}}}`))
	f.Fuzz(func(t *testing.T, typ, id, account, ou, ps, action, reason string, dur int64, breakGlass bool, mdJSON []byte) {
		var md map[string]any
		_ = json.Unmarshal(mdJSON, &md)
		in := CreateInput{Resource: Resource{Type: typ, ID: id, AccountID: account, OUID: ou}, PermissionSetARN: ps,
			Action: action, Reason: reason, DurationSeconds: dur, BreakGlass: breakGlass, Metadata: md}
		checkBody(t, in)
		out, err := normalizeInput(in)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("rejection without field errors: %v", err)
			}
			return
		}
		if errs := ValidateResource(out.Resource); len(errs) > 0 {
			t.Fatalf("accepted an invalid resource %+v: %v", out.Resource, errs)
		}
		pr := PolicyResource(out.Resource, out.PermissionSetARN)
		if _, ok := policy.ResourceTypeForEntityType(pr.Type); !ok {
			t.Fatalf("accepted resource maps to %q, not a Cedar resource type", pr.Type)
		}
		if out.DurationSeconds < MinDurationSeconds || out.DurationSeconds > MaxDurationSeconds {
			t.Fatalf("accepted duration %d", out.DurationSeconds)
		}
		if n := utf8.RuneCountInString(out.Reason); n == 0 || n > MaxReasonChars || !utf8.ValidString(out.Reason) || !printableText(out.Reason) {
			t.Fatalf("accepted reason %q", out.Reason)
		}
		if breakGlass && utf8.RuneCountInString(out.Reason) < MinBreakGlassReason {
			t.Fatalf("accepted a short break-glass reason %q", out.Reason)
		}
		if out.Action != policy.ActionRequestAccess {
			t.Fatalf("accepted action %q", out.Action)
		}
		again, err := normalizeInput(out)
		if err != nil || inputHash(again) != inputHash(out) {
			t.Fatalf("normalization is not idempotent: %v\n%+v\n%+v", err, out, again)
		}
	})
}

// checkBody runs in as a request body through ValidateBody (see
// FuzzNormalizeInput).
func checkBody(t *testing.T, in CreateInput) {
	t.Helper()
	dur := in.DurationSeconds
	nested := RequestBody{Resource: &in.Resource, PermissionSetARN: in.PermissionSetARN, Action: in.Action,
		Reason: in.Reason, BreakGlass: in.BreakGlass, Metadata: in.Metadata}
	if dur != 0 { // 0 is "absent" here: an explicit 0 is refused
		nested.DurationSeconds = &dur
	}
	plain := &Service{}
	ic := &Service{Targets: AccountAssignmentTargets{}}
	want, wantErr := normalizeInput(in)
	got, err := plain.ValidateBody(nested)
	if (err == nil) != (wantErr == nil) || err == nil && inputHash(got) != inputHash(want) {
		t.Fatalf("ValidateBody and normalizeInput disagree: %v / %v\n%+v\n%+v", err, wantErr, got, want)
	}
	if in.Resource.AccountID == "" && in.Resource.OUID == "" {
		flat := nested
		flat.Resource, flat.ResourceType, flat.ResourceID = nil, in.Resource.Type, in.Resource.ID
		flat.Reason, flat.Justification = "", in.Reason
		fgot, ferr := plain.ValidateBody(flat)
		if (ferr == nil) != (err == nil) || err == nil && inputHash(fgot) != inputHash(got) ||
			!slices.Equal(coarseFields(ferr), coarseFields(err)) {
			t.Fatalf("the flat spelling is answered differently: %v / %v", ferr, err)
		}
	}
	icOut, icErr := ic.ValidateBody(nested)
	if icErr != nil {
		var ve *ValidationError
		if !errors.As(icErr, &ve) || len(ve.Fields) == 0 {
			t.Fatalf("rejection without field errors: %v", icErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("Identity Center's rule accepted what plain validation refuses: %v", err)
	}
	a := AssignmentOf(Grant{Resource: icOut.Resource, PermissionSetARN: icOut.PermissionSetARN})
	if a.AccountID == "" || !ValidPermissionSetARN(a.PermissionSetARN) {
		t.Fatalf("Identity Center's rule accepted %+v (permission set %q): assignment %+v", icOut.Resource, icOut.PermissionSetARN, a)
	}
}

// coarseFields are the fields err names, spelling-independent: the
// justification is the reason, and resource.* is resource (a flat body
// without a resource lacks it whole).
func coarseFields(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	var out []string
	for _, f := range ve.Fields {
		name := f.Field
		if name == "justification" {
			name = "reason"
		}
		if strings.HasPrefix(name, "resource.") {
			name = "resource"
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
