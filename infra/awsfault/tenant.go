package awsfault

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Assignment is one account assignment in Identity Center.
type Assignment struct {
	InstanceARN, AccountID, PermissionSetARN, PrincipalType, PrincipalID string
}

// Tenant is one tenant's Identity Center in moto: the tenant's role in an
// account of its own (moto keeps Identity Center state per account, so
// tenants and tests sharing one moto do not see each other), the users
// of its identity store, and an administrator's view of it (straight to
// moto, as the role): what is really assigned.
type Tenant struct {
	RoleARN, ExternalID, InstanceARN, IdentityStoreID, Region string
	Users                                                     map[string]string // user name -> Identity Center user id

	sso *ssoadmin.Client
}

// TenantSpec describes a tenant to set up with AddTenant. Account is the
// role's account ("" = a random one); users are created with the e-mail
// address name@EmailDomain.
type TenantSpec struct {
	Account, RoleName, ExternalID, InstanceARN, IdentityStoreID, Region, EmailDomain string
	Users                                                                            []string
}

// RandomAccount returns a random 12-digit account id.
func RandomAccount() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(9e11))
	return fmt.Sprintf("%012d", n.Int64()+1e11)
}

// AddTenant creates spec's users in moto (endpoint) and makes the proxy
// require its external id and tie its instance and identity store to its
// role.
func (p *Proxy) AddTenant(ctx context.Context, endpoint string, spec TenantSpec) (*Tenant, error) {
	account := spec.Account
	if account == "" {
		account = RandomAccount()
	}
	role := cmp.Or(spec.RoleName, "jitsudo-broker")
	t := &Tenant{RoleARN: "arn:aws:iam::" + account + ":role/" + role, ExternalID: spec.ExternalID, InstanceARN: spec.InstanceARN,
		IdentityStoreID: spec.IdentityStoreID, Region: spec.Region, Users: map[string]string{}}
	p.RequireExternalID(t.RoleARN, t.ExternalID)
	p.AuthorizeInstance(t.InstanceARN, t.IdentityStoreID, t.RoleARN)

	base := aws.Config{Region: spec.Region, Credentials: credentials.NewStaticCredentialsProvider("AKIATENANTADMIN00001", "admin", "")}
	out, err := sts.NewFromConfig(base, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) }).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(t.RoleARN), RoleSessionName: aws.String("admin"), ExternalId: aws.String(t.ExternalID)})
	if err != nil {
		return nil, fmt.Errorf("awsfault: assume %s: %w", t.RoleARN, err)
	}
	admin := base.Copy()
	admin.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
	ids := identitystore.NewFromConfig(admin, func(o *identitystore.Options) { o.BaseEndpoint = aws.String(endpoint) })
	for _, name := range spec.Users {
		u, err := ids.CreateUser(ctx, &identitystore.CreateUserInput{IdentityStoreId: aws.String(t.IdentityStoreID), UserName: aws.String(name),
			DisplayName: aws.String(name), Name: &istypes.Name{GivenName: aws.String(name), FamilyName: aws.String("Test")},
			Emails: []istypes.Email{{Value: aws.String(name + "@" + spec.EmailDomain), Primary: true}}})
		if err != nil {
			return nil, fmt.Errorf("awsfault: create user %s: %w", name, err)
		}
		t.Users[name] = aws.ToString(u.UserId)
	}
	t.sso = ssoadmin.NewFromConfig(admin, func(o *ssoadmin.Options) { o.BaseEndpoint = aws.String(endpoint) })
	return t, nil
}

// User returns an assignment of the tenant's user to permissionSet on
// account.
func (t *Tenant) User(user, account, permissionSet string) Assignment {
	return Assignment{InstanceARN: t.InstanceARN, AccountID: account, PermissionSetARN: permissionSet, PrincipalType: "USER", PrincipalID: t.Users[user]}
}

// Assignments returns the assignments on account for the permission
// sets, sorted, as moto holds them.
func (t *Tenant) Assignments(ctx context.Context, account string, permissionSets ...string) ([]Assignment, error) {
	var out []Assignment
	for _, ps := range permissionSets {
		l, err := t.sso.ListAccountAssignments(ctx, &ssoadmin.ListAccountAssignmentsInput{
			InstanceArn: aws.String(t.InstanceARN), AccountId: aws.String(account), PermissionSetArn: aws.String(ps)})
		if err != nil {
			return nil, fmt.Errorf("awsfault: list assignments: %w", err)
		}
		for _, a := range l.AccountAssignments {
			out = append(out, Assignment{InstanceARN: t.InstanceARN, AccountID: aws.ToString(a.AccountId), PermissionSetARN: aws.ToString(a.PermissionSetArn),
				PrincipalType: string(a.PrincipalType), PrincipalID: aws.ToString(a.PrincipalId)})
		}
	}
	slices.SortFunc(out, func(a, b Assignment) int {
		return strings.Compare(a.PermissionSetARN+a.PrincipalID, b.PermissionSetARN+b.PrincipalID)
	})
	return out, nil
}

// Has says whether a is assigned.
func (t *Tenant) Has(ctx context.Context, a Assignment) (bool, error) {
	all, err := t.Assignments(ctx, a.AccountID, a.PermissionSetARN)
	return slices.Contains(all, a), err
}

// Assign creates a behind the provider's back (as an administrator would).
func (t *Tenant) Assign(ctx context.Context, a Assignment) error {
	_, err := t.sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(a.InstanceARN),
		TargetId: aws.String(a.AccountID), TargetType: ssotypes.TargetTypeAwsAccount, PermissionSetArn: aws.String(a.PermissionSetARN),
		PrincipalType: ssotypes.PrincipalType(a.PrincipalType), PrincipalId: aws.String(a.PrincipalID)})
	if err != nil {
		return fmt.Errorf("awsfault: assign %+v: %w", a, err)
	}
	return nil
}

// Unassign deletes a behind the provider's back.
func (t *Tenant) Unassign(ctx context.Context, a Assignment) error {
	_, err := t.sso.DeleteAccountAssignment(ctx, &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: aws.String(a.InstanceARN),
		TargetId: aws.String(a.AccountID), TargetType: ssotypes.TargetTypeAwsAccount, PermissionSetArn: aws.String(a.PermissionSetARN),
		PrincipalType: ssotypes.PrincipalType(a.PrincipalType), PrincipalId: aws.String(a.PrincipalID)})
	if err != nil {
		return fmt.Errorf("awsfault: unassign %+v: %w", a, err)
	}
	return nil
}
