// Package identitycenter is the access.Provider for AWS IAM Identity
// Center: a grant becomes an account assignment (the requester's Identity
// Center user gets the permission set on the account), its end removes it.
//
// Credentials. Each tenant's Identity Center lives in the tenant's own AWS
// organization. The platform's credentials (Provider.Base, from
// wiring.AWSConfig on Lambda) are used only to call sts:AssumeRole on the
// tenant's role with the tenant's external id (confused-deputy
// protection); the temporary credentials, cached per tenant and role until
// shortly before they expire, sign the SSO Admin and Identity Store
// clients in the tenant's region.
//
// Bookkeeping. Assignments are shared: two grants for the same account,
// permission set and user need one assignment. The table (Records, i.e.
// *store.Store) holds per assignment the set of grants holding it.
// Provision records the grant as a holder BEFORE creating the assignment,
// so a crash in between leaves a record the drift reconciler can finish
// from; Revoke removes the holder and deletes the assignment only when no
// holder is left, removes the record only after the deletion succeeded,
// and re-creates the assignment if a holder appeared meanwhile.
//
// Errors. A call that fails transiently (throttling, conflicts, 5xx,
// transport errors) is retried inside the call with jittered exponential
// backoff; when the budget is spent, or an asynchronous request is still
// IN_PROGRESS after PollBudget, the error wraps access.ErrRetryable so the
// Step Functions task retries the whole (idempotent) operation. Anything
// else (unknown user, AccessDenied, validation, a FAILED creation) is
// permanent. The SDK clients' own retryers are disabled: this package owns
// the retry budget, so attempts do not multiply.
package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// User attributes Settings.UserAttribute may name.
const (
	// UserAttributeUserName matches Assignment.PrincipalID against the
	// Identity Center user name (the default).
	UserAttributeUserName = store.UserAttributeUserName
	// UserAttributeEmail matches Assignment.PrincipalEmail against the
	// user's email addresses.
	UserAttributeEmail = store.UserAttributeEmail
)

// Settings are one tenant's Identity Center coordinates.
type Settings struct {
	InstanceARN     string // arn:aws:sso:::instance/ssoins-…
	IdentityStoreID string // d-…
	Region          string // the Identity Center region; "" → Provider.Base.Region
	RoleARN         string // the role in the tenant's account the platform assumes
	ExternalID      string // required by the role's trust policy
	UserAttribute   string // UserAttributeUserName ("" too) or UserAttributeEmail
}

// SettingsSource returns a tenant's settings; a tenant without settings is
// an error wrapping access.ErrNotFound (or ErrNoSettings).
type SettingsSource func(ctx context.Context, tenantID string) (Settings, error)

// Records is the assignment bookkeeping (implemented by *store.Store).
type Records interface {
	AddAssignmentHolder(ctx context.Context, a store.AssignmentTarget, grantID string) ([]string, error)
	RemoveAssignmentHolder(ctx context.Context, a store.AssignmentTarget, grantID string) ([]string, error)
	AssignmentHolders(ctx context.Context, a store.AssignmentTarget) ([]string, error)
	DeleteAssignmentIfUnheld(ctx context.Context, a store.AssignmentTarget) (bool, error)
	GetAssignment(ctx context.Context, a store.AssignmentTarget) (store.AssignmentRecord, bool, error)
	ListAssignments(ctx context.Context, tenantID string) ([]store.AssignmentRecord, error)
}

// Permanent errors (test with errors.Is).
var (
	ErrNoSettings          = errors.New("identitycenter: tenant has no Identity Center settings")
	ErrUnknownUser         = errors.New("identitycenter: unknown user")
	ErrUnsupportedResource = errors.New("identitycenter: unsupported resource")
	ErrAssignmentFailed    = errors.New("identitycenter: account assignment failed")
)

// Defaults of the retry and polling budgets.
const (
	DefaultRetryAttempts = 5
	DefaultRetryBase     = 200 * time.Millisecond
	DefaultRetryMax      = 3 * time.Second
	DefaultPollBase      = 500 * time.Millisecond
	DefaultPollMax       = 5 * time.Second
	DefaultPollBudget    = 60 * time.Second
)

// Provider provisions grants as Identity Center account assignments.
// Create it with New; set the optional fields before first use.
type Provider struct {
	// Base is the platform's configuration (region, credentials): used
	// only for sts:AssumeRole.
	Base     aws.Config
	Settings SettingsSource
	Records  Records

	// Endpoint, if set, is the base URL of the STS, SSO Admin and Identity
	// Store clients (tests, local stand-ins). HTTPClient, if set, replaces
	// Base.HTTPClient.
	Endpoint   string
	HTTPClient aws.HTTPClient
	Logger     *slog.Logger

	// Transient failures of one call are retried: at most RetryAttempts
	// attempts, sleeping a jittered RetryBase·2ⁿ (at most RetryMax)
	// between them — about 3 s of waiting by default, small against the
	// Lambda timeout, because the state machine retries the whole
	// operation later anyway.
	RetryAttempts       int
	RetryBase, RetryMax time.Duration
	// Asynchronous creations/deletions are polled after PollBase·2ⁿ (at
	// most PollMax) until PollBudget of waiting has passed; then the call
	// fails with access.ErrRetryable (the request goes on in AWS; the
	// retried operation starts a new, idempotent one).
	PollBase, PollMax, PollBudget time.Duration
	// Sleep waits d or until ctx is done (tests inject a fast one). The
	// budgets above count the durations asked for, not the wall clock.
	Sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	tenants map[string]*tenantClients
}

var _ access.Provider = (*Provider)(nil)

// New returns a provider assuming tenant roles with base's credentials
// (e.g. wiring.AWSConfig("", "")), reading tenant settings from settings and
// keeping its bookkeeping in records.
func New(base aws.Config, settings SettingsSource, records Records) *Provider {
	return &Provider{Base: base, Settings: settings, Records: records}
}

func (p *Provider) log() *slog.Logger {
	if p.Logger != nil {
		return p.Logger
	}
	return slog.Default()
}

var _ access.TargetChecker = (*Provider)(nil)

// CheckTarget implements access.TargetChecker: Identity Center grants a
// permission set on an account, so a request must name both (an
// aws_account with a permission_set_arn, or an aws_permission_set with its
// account_id); anything else would be approved and then fail to provision
// (checkAssignment). Create and the dry run refuse it with a 400 instead.
// The rule is access.AccountAssignmentTargets, which the API functions
// built without a provider apply too.
func (p *Provider) CheckTarget(r access.Resource, permissionSetARN string) []access.FieldError {
	return access.AccountAssignmentTargets{}.CheckTarget(r, permissionSetARN)
}

// checkAssignment: what an Identity Center assignment needs.
func checkAssignment(a access.Assignment) error {
	if a.TenantID == "" || a.GrantID == "" || a.PrincipalID == "" {
		return errors.New("identitycenter: assignment needs tenant, grant and principal")
	}
	if !icAssignable(a) {
		return fmt.Errorf("%w: resource type %s is not provisioned through Identity Center (it needs an account and a permission set)",
			ErrUnsupportedResource, resourceType(a))
	}
	return nil
}

func icAssignable(a access.Assignment) bool {
	return a.AccountID != "" && isPermissionSetARN(a.PermissionSetARN)
}

func isPermissionSetARN(s string) bool {
	return strings.HasPrefix(s, "arn:") && strings.Contains(s, ":permissionSet/")
}

func resourceType(a access.Assignment) string {
	if a.Resource.Type == "" {
		return "(none)"
	}
	return a.Resource.Type
}

// targetOf is the bookkeeping key of a (userID: its Identity Center user).
func targetOf(a access.Assignment, userID string) store.AssignmentTarget {
	return store.AssignmentTarget{TenantID: a.TenantID, AccountID: a.AccountID, PermissionSetARN: a.PermissionSetARN,
		PrincipalID: a.PrincipalID, ExternalPrincipalID: userID}
}

func describe(t store.AssignmentTarget) string {
	user := t.ExternalPrincipalID
	if user == "" {
		user = "?"
	}
	return fmt.Sprintf("account %s, permission set %s, principal %s (user %s)", t.AccountID, t.PermissionSetARN, t.PrincipalID, user)
}

// Provision resolves the requester's Identity Center user, records the
// grant as a holder of the assignment, then creates the assignment and
// waits for it. Idempotent: creating an existing assignment succeeds.
//
// A creation that ends FAILED is a permanent error; the holder stays
// recorded — the grant fails and FailGrant's Revoke removes it.
func (p *Provider) Provision(ctx context.Context, a access.Assignment) error {
	if err := checkAssignment(a); err != nil {
		return err
	}
	log := p.log().With("tenant_id", a.TenantID, "grant_id", a.GrantID)
	tc, err := p.tenant(ctx, a.TenantID)
	if err != nil {
		return err
	}
	userID, err := p.resolveUser(ctx, tc, a)
	if err != nil {
		return err
	}
	t := targetOf(a, userID)
	if _, err := p.Records.AddAssignmentHolder(ctx, t, a.GrantID); err != nil {
		return storeErr("record assignment holder", err)
	}
	if err := p.createAssignment(ctx, tc, t); err != nil {
		log.WarnContext(ctx, "identity center assignment not created", "assignment", describe(t), "error", err.Error(),
			"retryable", errors.Is(err, access.ErrRetryable))
		return err
	}
	log.InfoContext(ctx, "identity center assignment provisioned", "assignment", describe(t))
	return nil
}

// Revoke removes the grant as a holder; the last holder's Revoke deletes
// the assignment in Identity Center (an assignment already gone is
// success), then the record, and re-creates the assignment if another
// grant took hold of it meanwhile. Revoking a grant that holds nothing and
// whose record is gone is a no-op.
//
// An assignment Identity Center cannot hold (no account or permission
// set) was never provisioned here, so revoking it succeeds: Provision
// refused it with ErrUnsupportedResource, and a failing Revoke would only
// wedge the grant's end.
func (p *Provider) Revoke(ctx context.Context, a access.Assignment) error {
	if a.TenantID == "" || a.GrantID == "" || a.PrincipalID == "" {
		return errors.New("identitycenter: assignment needs tenant, grant and principal")
	}
	log := p.log().With("tenant_id", a.TenantID, "grant_id", a.GrantID)
	if !icAssignable(a) {
		log.DebugContext(ctx, "nothing to revoke in identity center", "resource_type", resourceType(a))
		return nil
	}
	t := targetOf(a, "")
	left, err := p.Records.RemoveAssignmentHolder(ctx, t, a.GrantID)
	if err != nil {
		return storeErr("remove assignment holder", err)
	}
	if len(left) > 0 {
		log.InfoContext(ctx, "assignment kept for overlapping grants", "assignment", describe(t), "holders", left)
		return nil
	}
	rec, found, err := p.findRecord(ctx, t)
	if err != nil {
		return err
	}
	if !found || len(rec.Holders) > 0 {
		// Already removed (a retried Revoke), or re-acquired meanwhile.
		return nil
	}
	tc, err := p.tenant(ctx, a.TenantID)
	if err != nil {
		return err
	}
	t = rec.AssignmentTarget
	if t.ExternalPrincipalID == "" {
		// Recorded without the Identity Center id: resolve it now.
		userID, err := p.resolveUser(ctx, tc, a)
		if errors.Is(err, ErrUnknownUser) {
			// No such user: Identity Center removed their assignments with them.
			log.InfoContext(ctx, "user gone from identity center, forgetting the assignment", "assignment", describe(t))
			_, derr := p.Records.DeleteAssignmentIfUnheld(ctx, t)
			return storeErr("delete assignment record", derr)
		}
		if err != nil {
			return err
		}
		t.ExternalPrincipalID = userID
	}
	if err := p.removeUnheld(ctx, tc, p.Records, t, true); err != nil {
		return err
	}
	log.InfoContext(ctx, "identity center assignment revoked", "assignment", describe(t))
	return nil
}

// removeUnheld finishes an assignment left without holders: delete it in
// Identity Center (unless known absent), delete the record if still
// unheld, then re-read the holders — a grant provisioned while we deleted
// gets its assignment back.
func (p *Provider) removeUnheld(ctx context.Context, tc *tenantClients, recs Records, t store.AssignmentTarget, present bool) error {
	if present {
		if err := p.deleteAssignment(ctx, tc, t); err != nil {
			return err
		}
	}
	if _, err := recs.DeleteAssignmentIfUnheld(ctx, t); err != nil {
		return storeErr("delete assignment record", err)
	}
	holders, err := recs.AssignmentHolders(ctx, t)
	if err != nil {
		return storeErr("re-read assignment holders", err)
	}
	if len(holders) > 0 {
		p.log().InfoContext(ctx, "assignment re-acquired while being removed, re-creating", "tenant_id", t.TenantID,
			"assignment", describe(t), "holders", holders)
		return p.createAssignment(ctx, tc, t)
	}
	return nil
}

// findRecord reads the record of t (the table keeps the Identity Center
// user id there).
func (p *Provider) findRecord(ctx context.Context, t store.AssignmentTarget) (store.AssignmentRecord, bool, error) {
	rec, found, err := p.Records.GetAssignment(ctx, t)
	if err != nil {
		return store.AssignmentRecord{}, false, storeErr("read assignment record", err)
	}
	return rec, found, nil
}

func sameAssignment(a, b store.AssignmentTarget) bool {
	return a.TenantID == b.TenantID && a.AccountID == b.AccountID && a.PermissionSetARN == b.PermissionSetARN && a.PrincipalID == b.PrincipalID
}

// storeErr wraps a bookkeeping error; transient ones (after the DynamoDB
// client's own retries) wrap access.ErrRetryable. nil stays nil.
func storeErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if transient(err) {
		return fmt.Errorf("identitycenter: %s: %w: %w", what, access.ErrRetryable, err)
	}
	return fmt.Errorf("identitycenter: %s: %w", what, err)
}
