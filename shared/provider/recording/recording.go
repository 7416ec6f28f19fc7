// Package recording is the local stand-in for IAM Identity Center: an
// access.Provider that records assignments as items in the application
// table instead of calling AWS. Assignments are reference-counted per
// (account, permission set, principal) by the set of grants holding them,
// so two overlapping grants for the same access do not revoke each other,
// and Provision/Revoke are idempotent per grant.
package recording

import (
	"context"
	"fmt"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Repo is the persistence the provider needs (implemented by *store.Store).
type Repo interface {
	AddAssignmentHolder(ctx context.Context, a store.AssignmentTarget, grantID string) ([]string, error)
	RemoveAssignmentHolder(ctx context.Context, a store.AssignmentTarget, grantID string) ([]string, error)
	AssignmentHolders(ctx context.Context, a store.AssignmentTarget) ([]string, error)
	DeleteAssignmentIfUnheld(ctx context.Context, a store.AssignmentTarget) (bool, error)
}

// Provider records assignments in Repo.
type Provider struct {
	Repo Repo
}

var _ access.Provider = (*Provider)(nil)

// New returns a recording provider over repo.
func New(repo Repo) *Provider { return &Provider{Repo: repo} }

// Target is the assignment an access.Assignment stands for. Resources that
// are not an account/permission set pair (an S3 bucket, an instance) are
// recorded under "<resource type>:<id>" in place of the permission set.
func Target(a access.Assignment) store.AssignmentTarget {
	ps := a.PermissionSetARN
	if ps == "" {
		ps = a.Resource.Type + ":" + a.Resource.ID
	}
	return store.AssignmentTarget{TenantID: a.TenantID, AccountID: a.AccountID, PermissionSetARN: ps, PrincipalID: a.PrincipalID}
}

func check(a access.Assignment) error {
	if a.TenantID == "" || a.GrantID == "" || a.PrincipalID == "" {
		return fmt.Errorf("recording provider: assignment needs tenant, grant and principal")
	}
	return nil
}

// Provision adds the grant as a holder of its assignment.
func (p *Provider) Provision(ctx context.Context, a access.Assignment) error {
	if err := check(a); err != nil {
		return err
	}
	if _, err := p.Repo.AddAssignmentHolder(ctx, Target(a), a.GrantID); err != nil {
		return fmt.Errorf("recording provider: provision: %w", err)
	}
	return nil
}

// Revoke removes the grant as a holder; the assignment goes away with its
// last holder. Revoking a missing assignment succeeds.
func (p *Provider) Revoke(ctx context.Context, a access.Assignment) error {
	if err := check(a); err != nil {
		return err
	}
	left, err := p.Repo.RemoveAssignmentHolder(ctx, Target(a), a.GrantID)
	if err != nil {
		return fmt.Errorf("recording provider: revoke: %w", err)
	}
	if len(left) == 0 { // the recorded "assignment" goes with its last holder
		if _, err := p.Repo.DeleteAssignmentIfUnheld(ctx, Target(a)); err != nil {
			return fmt.Errorf("recording provider: revoke: %w", err)
		}
	}
	return nil
}

// Holders returns the grants currently holding the assignment a stands for
// (none: not assigned).
func (p *Provider) Holders(ctx context.Context, a access.Assignment) ([]string, error) {
	return p.Repo.AssignmentHolders(ctx, Target(a))
}
