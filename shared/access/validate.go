package access

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/jitsudo/jitsudo-serverless/shared/freetext"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Limits of a request.
const (
	MinDurationSeconds     = 60
	MaxDurationSeconds     = 7 * 24 * 3600
	DefaultDurationSeconds = 3600
	// MinMaxGrantDurationSeconds is the lowest a tenant's maximum grant
	// duration can be (an hour, the default request): a request within it
	// needs no read of the setting.
	MinMaxGrantDurationSeconds = 3600
	MaxReasonChars             = 2000
	MinBreakGlassReason        = 20
	MaxMetadataBytes           = 4096
	MaxMessageChars            = 4000
	MaxReasoningChars          = 2000
	MaxIdempotencyKeyLen       = 128
)

// durationMessage says what duration_seconds must be.
var durationMessage = fmt.Sprintf("must be from %d to %d (7 days)", MinDurationSeconds, MaxDurationSeconds)

// Resource id formats (moved here from shared/api so the API and the
// service validate alike).
var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	ouIDRe      = regexp.MustCompile(`^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$`)
	ec2IDRe     = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
	permSetRe   = regexp.MustCompile(`^arn:aws[a-z-]*:sso:::permissionSet/ssoins-[0-9a-f]{16}/ps-[0-9a-f]{16}$`)
	rdsARNRe    = regexp.MustCompile(`^arn:aws[a-z-]*:rds:[a-z0-9-]+:[0-9]{12}:db:[a-zA-Z][a-zA-Z0-9-]{0,62}$`)
	s3BucketRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// ValidAccountID reports whether s is a 12-digit AWS account id.
func ValidAccountID(s string) bool { return accountIDRe.MatchString(s) }

// ValidOUID reports whether s is an organizational unit or root id.
func ValidOUID(s string) bool { return ouIDRe.MatchString(s) }

// ValidPermissionSetARN reports whether s is an Identity Center permission set ARN.
func ValidPermissionSetARN(s string) bool { return permSetRe.MatchString(s) }

// ValidateResource checks a resource: Type is the API name (aws_account, …)
// or the Cedar entity type (AwsAccount, …); ID must have the type's format;
// AccountID and OUID, when set, must be an account id and an OU/root id.
// Field names are "resource.type", "resource.id", "resource.account_id",
// "resource.ou_id".
func ValidateResource(r Resource) []FieldError {
	var errs []FieldError
	add := func(f, msg string) { errs = append(errs, FieldError{Field: "resource." + f, Message: msg}) }
	typ, ok := policy.EntityTypeForResourceType(r.Type)
	if !ok {
		if _, isEntity := policy.ResourceTypeForEntityType(r.Type); !isEntity {
			add("type", "must be one of aws_account, aws_permission_set, aws_organizational_unit, aws_s3_bucket, aws_rds_instance, aws_ec2_instance")
			return errs
		}
		typ = r.Type
	}
	var re *regexp.Regexp
	var want string
	switch typ {
	case policy.EntityAwsAccount:
		re, want = accountIDRe, "a 12-digit AWS account id"
	case policy.EntityAwsOrganizationalUnit:
		re, want = ouIDRe, "an organizational unit id (ou-… or r-…)"
	case policy.EntityAwsEc2Instance:
		re, want = ec2IDRe, "an EC2 instance id (i-…)"
	case policy.EntityAwsPermissionSet:
		re, want = permSetRe, "a permission set ARN (arn:aws:sso:::permissionSet/ssoins-…/ps-…)"
	case policy.EntityAwsRdsInstance:
		re, want = rdsARNRe, "an RDS instance ARN (arn:aws:rds:<region>:<account>:db:<name>)"
	case policy.EntityAwsS3Bucket:
		re, want = s3BucketRe, "an S3 bucket name"
	}
	if !re.MatchString(r.ID) {
		add("id", "must be "+want)
	}
	if r.AccountID != "" && !accountIDRe.MatchString(r.AccountID) {
		add("account_id", "must be a 12-digit AWS account id")
	}
	if r.OUID != "" && !ouIDRe.MatchString(r.OUID) {
		add("ou_id", "must be an organizational unit id (ou-… or r-…)")
	}
	return errs
}

// normalizeInput applies defaults (action, duration, API resource type
// name) and validates every field of in.
func normalizeInput(in CreateInput) (CreateInput, error) {
	var errs []FieldError
	add := func(f, msg string) { errs = append(errs, FieldError{Field: f, Message: msg}) }

	if rt, ok := policy.ResourceTypeForEntityType(in.Resource.Type); ok {
		in.Resource.Type = rt // store the API name
	}
	errs = append(errs, ValidateResource(in.Resource)...)
	if in.Resource.Type == "aws_account" && in.Resource.AccountID != "" && in.Resource.AccountID != in.Resource.ID {
		add("resource.account_id", "must equal resource.id for an aws_account")
	}
	if in.PermissionSetARN != "" {
		switch {
		case !permSetRe.MatchString(in.PermissionSetARN):
			add("permission_set_arn", "must be a permission set ARN (arn:aws:sso:::permissionSet/ssoins-…/ps-…)")
		case in.Resource.Type != "aws_account":
			add("permission_set_arn", "is only valid with an aws_account resource (or request resource type aws_permission_set with account_id)")
		}
	}
	if in.Resource.Type == "aws_permission_set" && in.Resource.AccountID == "" {
		add("resource.account_id", "is required for an aws_permission_set: the account to assign it on")
	}

	if in.Action == "" {
		in.Action = policy.ActionRequestAccess
	}
	if in.Action != policy.ActionRequestAccess {
		add("action", "must be request_access")
	}

	var msg string
	in.Reason, msg = cleanText(in.Reason, MaxReasonChars)
	switch {
	case msg != "":
		add("reason", msg)
	case in.BreakGlass && utf8.RuneCountInString(in.Reason) < MinBreakGlassReason:
		add("reason", fmt.Sprintf("must be at least %d characters for a break-glass request", MinBreakGlassReason))
	}

	if in.DurationSeconds == 0 {
		in.DurationSeconds = DefaultDurationSeconds
	}
	if in.DurationSeconds < MinDurationSeconds || in.DurationSeconds > MaxDurationSeconds {
		add("duration_seconds", durationMessage)
	}

	if len(in.Metadata) > 0 {
		b, err := json.Marshal(in.Metadata)
		switch {
		case err != nil:
			add("metadata", "must be a JSON object")
		case len(b) > MaxMetadataBytes:
			add("metadata", fmt.Sprintf("must be at most %d bytes of JSON", MaxMetadataBytes))
		default:
			in.Metadata = NormalizeMetadata(in.Metadata)
		}
	} else {
		in.Metadata = nil
	}
	if len(errs) > 0 {
		return in, &ValidationError{Fields: errs}
	}
	return in, nil
}

// validIdempotencyKey: 1..128 printable ASCII characters.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// cleanText trims s and says what is wrong with it as 1..max characters
// of multi-line free text ("" when nothing is): see package freetext.
func cleanText(s string, max int) (string, string) {
	s = strings.TrimSpace(s)
	if p := freetext.Problem(s, true); p != "" {
		return s, p
	}
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return s, "is required"
	case n > max:
		return s, fmt.Sprintf("must be at most %d characters", max)
	}
	return s, ""
}

// printableText: free text (package freetext), line breaks and tabs allowed.
func printableText(s string) bool { return freetext.OK(s, true) }

// NormalizeMetadata returns md as JSON would decode it (numbers float64),
// so it survives a DynamoDB round trip unchanged and hashes the same.
func NormalizeMetadata(md map[string]any) map[string]any {
	if len(md) == 0 {
		return nil
	}
	b, err := json.Marshal(md)
	if err != nil {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil
	}
	return out
}
