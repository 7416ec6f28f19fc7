package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// TestRoleNameEnforced: with TENANT_ROLE_NAME set, only that role (no
// path) is accepted — another one could never be assumed.
func TestRoleNameEnforced(t *testing.T) {
	in := func(role string) *awsSettingsInput {
		return &awsSettingsInput{InstanceARN: "arn:aws:sso:::instance/ssoins-1234567890abcdef", IdentityStoreID: "d-1234567890",
			Region: "eu-west-1", RoleARN: role}
	}
	for role, ok := range map[string]bool{
		"arn:aws:iam::123456789012:role/jitsudo-provisioner":      true,
		"arn:aws:iam::123456789012:role/admin":                    false,
		"arn:aws:iam::123456789012:role/ops/jitsudo-provisioner":  false,
		"arn:aws:iam::123456789012:role/jitsudo-provisioner-evil": false,
	} {
		err := in(role).validate("jitsudo-provisioner")
		var he *httpapi.Error
		if ok != (err == nil) || (err != nil && !errors.As(err, &he)) {
			t.Errorf("%s: %v", role, err)
		}
	}
	if err := in("arn:aws:iam::123456789012:role/ops/anything").validate(""); err != nil {
		t.Errorf("without a configured name any role is accepted: %v", err)
	}
}

// TestMaxGrantDurationValidated: the tenant's maximum grant duration is
// optional, 0 clears it, otherwise from an hour to 7 days.
func TestMaxGrantDurationValidated(t *testing.T) {
	for n, ok := range map[int64]bool{0: true, 3600: true, 4 * 3600: true, 7 * 24 * 3600: true, 59: false, 3599: false, 7*24*3600 + 1: false, -1: false} {
		in := &awsSettingsInput{InstanceARN: "arn:aws:sso:::instance/ssoins-1234567890abcdef", IdentityStoreID: "d-1234567890",
			Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/jitsudo-provisioner", MaxGrantDurationSeconds: &n}
		var he *httpapi.Error
		if err := in.validate(""); ok != (err == nil) || (err != nil && (!errors.As(err, &he) || !strings.Contains(fmt.Sprint(he.Details), "max_grant_duration_seconds"))) {
			t.Errorf("%d: %v", n, err)
		}
	}
}

// TestImportSummaryStaysSmall: the rules.imported event lists the ids of a
// small import, and a digest for a large one, so that the event (copied
// into every chunk of the import) stays far below DynamoDB's 400 KB item
// at the import's maximum of 10,000 rules with 64-character ids.
func TestImportSummaryStaysSmall(t *testing.T) {
	small := importSummary([]string{"a", "b"}, true)
	if ids, ok := small["rule_ids"].([]string); !ok || len(ids) != 2 || small["count"] != 2 || small["replace"] != true {
		t.Fatalf("small import: %+v", small)
	}
	ids := make([]string, policy.MaxImportRules)
	for i := range ids {
		ids[i] = fmt.Sprintf("%064d", i)
	}
	big := importSummary(ids, false)
	b, _ := json.Marshal(big)
	if _, listed := big["rule_ids"]; listed || len(b) > 1024 || big["count"] != policy.MaxImportRules {
		t.Fatalf("large import: %d bytes, %+v", len(b), big)
	}
	again := importSummary(ids, false)
	if big["rule_ids_sha256"] != again["rule_ids_sha256"] || big["rule_ids_sha256"] == "" {
		t.Fatal("the digest is not stable")
	}
}
