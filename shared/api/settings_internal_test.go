package api

import (
	"errors"
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
