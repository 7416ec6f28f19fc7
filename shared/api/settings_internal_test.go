package api

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
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
