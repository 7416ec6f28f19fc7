package identitycenter

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/identitystore/document"
	istypes "github.com/aws/aws-sdk-go-v2/service/identitystore/types"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// userAttribute maps Settings.UserAttribute to the Identity Store
// attribute path and the Assignment field it is matched against.
func userAttribute(s Settings) (path string, value func(access.Assignment) string, err error) {
	switch s.UserAttribute {
	case "", UserAttributeUserName:
		return "userName", func(a access.Assignment) string { return a.PrincipalID }, nil
	case UserAttributeEmail:
		return "emails.value", func(a access.Assignment) string { return a.PrincipalEmail }, nil
	}
	return "", nil, fmt.Errorf("user_attribute %q: must be %s or %s", s.UserAttribute, UserAttributeUserName, UserAttributeEmail)
}

// resolveUser returns the Identity Center user id of the requester. No
// such user is a permanent ErrUnknownUser.
func (p *Provider) resolveUser(ctx context.Context, tc *tenantClients, a access.Assignment) (string, error) {
	path, valueOf, err := userAttribute(tc.settings)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoSettings, err)
	}
	value := valueOf(a)
	if value == "" {
		return "", fmt.Errorf("%w: requester %s has no %s to look up in Identity Center", ErrUnknownUser, a.PrincipalID, path)
	}
	var userID string
	err = p.call(ctx, tc, "GetUserId", func(ctx context.Context) error {
		out, err := tc.ids.GetUserId(ctx, &identitystore.GetUserIdInput{
			IdentityStoreId: aws.String(tc.settings.IdentityStoreID),
			AlternateIdentifier: &istypes.AlternateIdentifierMemberUniqueAttribute{Value: istypes.UniqueAttribute{
				AttributePath:  aws.String(path),
				AttributeValue: document.NewLazyDocument(value),
			}},
		})
		if err != nil {
			return err
		}
		userID = aws.ToString(out.UserId)
		return nil
	})
	var nf *istypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", fmt.Errorf("%w: requester %s is not a user in Identity Center (%s=%s)", ErrUnknownUser, a.PrincipalID, path, value)
	}
	if err != nil {
		return "", err
	}
	if userID == "" {
		return "", fmt.Errorf("identitycenter: GetUserId returned no user id for %s=%s", path, value)
	}
	return userID, nil
}

func creationStatus(s *ssotypes.AccountAssignmentOperationStatus) opStatus {
	if s == nil {
		return opStatus{}
	}
	return opStatus{status: string(s.Status), requestID: aws.ToString(s.RequestId), reason: aws.ToString(s.FailureReason)}
}

// createAssignment creates the assignment of t for its Identity Center
// user and waits for the request to end. Creating an existing assignment
// succeeds, so a retry after a lost response cannot duplicate it. FAILED
// is permanent (ErrAssignmentFailed with the reason AWS gives).
func (p *Provider) createAssignment(ctx context.Context, tc *tenantClients, t store.AssignmentTarget) error {
	var st opStatus
	err := p.call(ctx, tc, "CreateAccountAssignment", func(ctx context.Context) error {
		out, err := tc.sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{
			InstanceArn:      aws.String(tc.settings.InstanceARN),
			TargetId:         aws.String(t.AccountID),
			TargetType:       ssotypes.TargetTypeAwsAccount,
			PermissionSetArn: aws.String(t.PermissionSetARN),
			PrincipalType:    ssotypes.PrincipalTypeUser,
			PrincipalId:      aws.String(t.ExternalPrincipalID),
		})
		if err != nil {
			return err
		}
		st = creationStatus(out.AccountAssignmentCreationStatus)
		return nil
	})
	if err != nil {
		return err
	}
	poll := func(ctx context.Context, id string) (opStatus, error) {
		var next opStatus
		err := p.call(ctx, tc, "DescribeAccountAssignmentCreationStatus", func(ctx context.Context) error {
			out, err := tc.sso.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
				InstanceArn: aws.String(tc.settings.InstanceARN), AccountAssignmentCreationRequestId: aws.String(id),
			})
			if err != nil {
				return err
			}
			next = creationStatus(out.AccountAssignmentCreationStatus)
			return nil
		})
		return next, err
	}
	return p.wait(ctx, "account assignment creation", st, poll, func(reason string) error {
		return fmt.Errorf("%w: creating %s: %s", ErrAssignmentFailed, describe(t), reason)
	})
}

// deleteAssignment deletes the assignment of t and waits for the request
// to end. A missing assignment (ResourceNotFoundException, or a deletion
// that completes because there was nothing to delete) is success. A
// deletion that ends FAILED is retryable: removing access must not be
// given up on after one try; the state machine retries, and the drift
// reconciler finishes what stays unheld.
func (p *Provider) deleteAssignment(ctx context.Context, tc *tenantClients, t store.AssignmentTarget) error {
	var st opStatus
	err := p.call(ctx, tc, "DeleteAccountAssignment", func(ctx context.Context) error {
		out, err := tc.sso.DeleteAccountAssignment(ctx, &ssoadmin.DeleteAccountAssignmentInput{
			InstanceArn:      aws.String(tc.settings.InstanceARN),
			TargetId:         aws.String(t.AccountID),
			TargetType:       ssotypes.TargetTypeAwsAccount,
			PermissionSetArn: aws.String(t.PermissionSetARN),
			PrincipalType:    ssotypes.PrincipalTypeUser,
			PrincipalId:      aws.String(t.ExternalPrincipalID),
		})
		if err != nil {
			return err
		}
		st = creationStatus(out.AccountAssignmentDeletionStatus)
		return nil
	})
	var nf *ssotypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	poll := func(ctx context.Context, id string) (opStatus, error) {
		var next opStatus
		err := p.call(ctx, tc, "DescribeAccountAssignmentDeletionStatus", func(ctx context.Context) error {
			out, err := tc.sso.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
				InstanceArn: aws.String(tc.settings.InstanceARN), AccountAssignmentDeletionRequestId: aws.String(id),
			})
			if err != nil {
				return err
			}
			next = creationStatus(out.AccountAssignmentDeletionStatus)
			return nil
		})
		return next, err
	}
	return p.wait(ctx, "account assignment deletion", st, poll, func(reason string) error {
		return fmt.Errorf("%w: %w: deleting %s: %s", access.ErrRetryable, ErrAssignmentFailed, describe(t), reason)
	})
}

// assignedUsers lists the users (not groups) assigned the permission set
// on the account, following every page.
func (p *Provider) assignedUsers(ctx context.Context, tc *tenantClients, accountID, permissionSetARN string) (map[string]bool, error) {
	users := map[string]bool{}
	var token *string
	for {
		var out *ssoadmin.ListAccountAssignmentsOutput
		err := p.call(ctx, tc, "ListAccountAssignments", func(ctx context.Context) error {
			var err error
			out, err = tc.sso.ListAccountAssignments(ctx, &ssoadmin.ListAccountAssignmentsInput{
				InstanceArn: aws.String(tc.settings.InstanceARN), AccountId: aws.String(accountID),
				PermissionSetArn: aws.String(permissionSetARN), NextToken: token,
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, a := range out.AccountAssignments {
			if a.PrincipalType == ssotypes.PrincipalTypeUser {
				users[aws.ToString(a.PrincipalId)] = true
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return users, nil
		}
		token = out.NextToken
	}
}
