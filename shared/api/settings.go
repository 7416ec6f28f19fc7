package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// A tenant's AWS settings (GET/PUT /v1/settings/aws, admin only): where
// its grants are provisioned, and its maximum grant duration
// (max_grant_duration_seconds, which bounds every grant with its
// extensions; see shared/access/extend.go). See docs/operations.md, "Onboarding a
// tenant's AWS organization".

type awsSettingsInput struct {
	InstanceARN     string `json:"instance_arn"`
	IdentityStoreID string `json:"identity_store_id"`
	Region          string `json:"region"`
	RoleARN         string `json:"role_arn"`
	UserAttribute   string `json:"user_attribute"`
	// MaxGrantDurationSeconds: the tenant's maximum grant duration (a
	// grant's end minus its start, extensions included). Absent or null
	// keeps the saved value; 0 clears it (the default, 7 days).
	MaxGrantDurationSeconds *int64 `json:"max_grant_duration_seconds"`
}

var (
	instanceARNRe   = regexp.MustCompile(`^arn:aws(-[a-z]+)*:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$`)
	identityStoreRe = regexp.MustCompile(`^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)
	regionRe        = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)
	roleARNRe       = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`)
)

func (in *awsSettingsInput) validate(roleName string) error {
	var errs []httpapi.FieldError
	add := func(f, m string) { errs = append(errs, httpapi.FieldError{Field: f, Message: m}) }
	in.InstanceARN, in.IdentityStoreID = strings.TrimSpace(in.InstanceARN), strings.TrimSpace(in.IdentityStoreID)
	in.Region, in.RoleARN = strings.TrimSpace(in.Region), strings.TrimSpace(in.RoleARN)
	if !instanceARNRe.MatchString(in.InstanceARN) {
		add("instance_arn", "must be an IAM Identity Center instance ARN (arn:aws:sso:::instance/ssoins-…)")
	}
	if !identityStoreRe.MatchString(in.IdentityStoreID) {
		add("identity_store_id", "must be an identity store id (d-0123456789)")
	}
	if !regionRe.MatchString(in.Region) {
		add("region", "must be an AWS region (e.g. eu-west-1)")
	}
	switch {
	case !roleARNRe.MatchString(in.RoleARN):
		add("role_arn", "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
	case roleName != "" && in.RoleARN[strings.Index(in.RoleARN, ":role/")+len(":role/"):] != roleName:
		add("role_arn", "the role must be named "+roleName+", without a path (the name this deployment may assume; see infra/tenant-role)")
	}
	switch in.UserAttribute {
	case "":
		in.UserAttribute = store.UserAttributeUserName
	case store.UserAttributeUserName, store.UserAttributeEmail:
	default:
		add("user_attribute", "must be user_name or email")
	}
	if n := in.MaxGrantDurationSeconds; n != nil && *n != 0 && (*n < access.MinMaxGrantDurationSeconds || *n > access.MaxDurationSeconds) {
		add("max_grant_duration_seconds", fmt.Sprintf("must be from %d to %d (1 hour to 7 days), or 0 for the default (7 days)", access.MinMaxGrantDurationSeconds, access.MaxDurationSeconds))
	}
	if len(errs) > 0 {
		return httpapi.Invalid("invalid AWS settings", errs...)
	}
	return nil
}

// newExternalID is the sts:ExternalId of a tenant's role: generated here,
// never chosen by the tenant (the confused-deputy guard).
func newExternalID(tenant string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "jitsudo-" + tenant + "-" + hex.EncodeToString(b[:])
}

// GetAWSSettings serves GET /v1/settings/aws (admin).
func GetAWSSettings(d Deps) http.Handler {
	return getSettings(d, "AWS settings", "no AWS settings yet: PUT /v1/settings/aws",
		d.Store.GetAWSSettings, func(v store.AWSSettings) int64 { return v.Version })
}

// getSettings serves GET of one of the tenant's settings (admin) with its
// version as the ETag (the If-Match of the next PUT); 404 not_configured
// with notConfigured's advice when none were saved.
func getSettings[T any](d Deps, what, notConfigured string, read func(context.Context, string) (T, error), version func(T) int64) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		v, err := read(r.Context(), id.TenantID)
		if errors.Is(err, store.ErrNotFound) {
			return httpapi.Errorf(http.StatusNotFound, "not_configured", "%s", notConfigured)
		}
		if err != nil {
			return apiError(err, what)
		}
		w.Header().Set("ETag", strconv.FormatInt(version(v), 10))
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	})
}

// PutAWSSettings serves PUT /v1/settings/aws (admin): a full replacement.
// The external id is generated on the first PUT and kept afterwards. An
// `If-Match: <version>` header makes the update conditional on it (409
// when it moved); without it the update is conditional on the version
// just read.
func PutAWSSettings(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		n, err := ifMatch(r, "the settings' version")
		if err != nil {
			return err
		}
		var in awsSettingsInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		if err := in.validate(d.TenantRoleName); err != nil {
			return err
		}
		cur, err := d.Store.GetAWSSettings(r.Context(), id.TenantID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			cur = store.AWSSettings{TenantID: id.TenantID, ExternalID: newExternalID(id.TenantID)}
		case err != nil:
			return apiError(err, "AWS settings")
		}
		expect := cur.Version
		if n != 0 && n != cur.Version {
			return httpapi.Errorf(http.StatusConflict, "conflict", "the AWS settings are at version %d", cur.Version)
		}
		next := store.AWSSettings{TenantID: id.TenantID, InstanceARN: in.InstanceARN, IdentityStoreID: in.IdentityStoreID,
			Region: in.Region, RoleARN: in.RoleARN, ExternalID: cur.ExternalID, UserAttribute: in.UserAttribute,
			MaxGrantDurationSeconds: cur.MaxGrantDurationSeconds, UpdatedAt: d.now(), UpdatedBy: id.PrincipalID}
		if in.MaxGrantDurationSeconds != nil {
			next.MaxGrantDurationSeconds = *in.MaxGrantDurationSeconds
		}
		var before map[string]any
		if expect != 0 {
			before = settingsSummary(cur)
		}
		after := settingsSummary(next)
		after["version"] = expect + 1
		ev := d.privilegedEvent(id, id.TenantID, access.AuditSettingsUpdated, access.AuditResourceSettings, "aws", before, after)
		saved, err := d.Store.PutAWSSettings(r.Context(), next, expect, ev)
		if err != nil {
			return apiError(err, "AWS settings")
		}
		httpapi.Logger(r.Context()).Info("AWS settings saved", "version", saved.Version)
		w.Header().Set("ETag", strconv.FormatInt(saved.Version, 10))
		httpapi.WriteJSON(w, http.StatusOK, saved)
		return nil
	})
}

// settingsSummary is what the audit log records of AWS settings (the
// external id is a shared secret of the tenant's trust policy: left out).
func settingsSummary(v store.AWSSettings) map[string]any {
	return map[string]any{"instance_arn": v.InstanceARN, "identity_store_id": v.IdentityStoreID, "role_arn": v.RoleARN,
		"region": v.Region, "user_attribute": v.UserAttribute, "version": v.Version, "max_grant_duration_seconds": v.MaxGrantDurationSeconds}
}
