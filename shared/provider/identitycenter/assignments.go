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
	"github.com/jitsudo/jitsudo-serverless/shared/auth/principal"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// userAttribute maps Settings.UserAttribute to the Identity Store
// attribute path and the Assignment field it is matched against.
func userAttribute(s Settings) (path string, value func(access.Assignment) string, err error) {
	switch s.UserAttribute {
	case "", UserAttributeUserName:
		// A person of a tenant's own issuer has an issuer-qualified
		// principal id; the Identity Center user name is its subject.
		return "userName", func(a access.Assignment) string { return principal.Subject(a.PrincipalID) }, nil
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

func opStatusOf(s *ssotypes.AccountAssignmentOperationStatus) opStatus {
	if s == nil {
		return opStatus{}
	}
	return opStatus{status: string(s.Status), requestID: aws.ToString(s.RequestId), reason: aws.ToString(s.FailureReason)}
}

// assignmentOp is one asynchronous assignment request: start it (op, with
// the retries of call), then poll its status (pollOp) until it ends (wait).
// start may report that there is nothing to do (done).
func (p *Provider) assignmentOp(ctx context.Context, tc *tenantClients, op, pollOp, what string,
	start func(ctx context.Context) (status *ssotypes.AccountAssignmentOperationStatus, done bool, err error),
	poll func(ctx context.Context, requestID string) (*ssotypes.AccountAssignmentOperationStatus, error),
	failed func(reason string) error) error {
	var st opStatus
	done := false
	err := p.call(ctx, tc, op, func(ctx context.Context) error {
		out, d, err := start(ctx)
		st, done = opStatusOf(out), d
		return err
	})
	if err != nil || done {
		return err
	}
	return p.wait(ctx, what, st, func(ctx context.Context, id string) (opStatus, error) {
		var next opStatus
		err := p.call(ctx, tc, pollOp, func(ctx context.Context) error {
			out, err := poll(ctx, id)
			next = opStatusOf(out)
			return err
		})
		return next, err
	}, failed)
}

// createAssignment creates the assignment of t for its Identity Center
// user and waits for the request to end. Creating an existing assignment
// succeeds, so a retry after a lost response cannot duplicate it. FAILED
// is permanent (ErrAssignmentFailed with the reason AWS gives).
func (p *Provider) createAssignment(ctx context.Context, tc *tenantClients, t store.AssignmentTarget) error {
	instance := aws.String(tc.settings.InstanceARN)
	return p.assignmentOp(ctx, tc, "CreateAccountAssignment", "DescribeAccountAssignmentCreationStatus", "account assignment creation",
		func(ctx context.Context) (*ssotypes.AccountAssignmentOperationStatus, bool, error) {
			out, err := tc.sso.CreateAccountAssignment(ctx, &ssoadmin.CreateAccountAssignmentInput{
				InstanceArn: instance, TargetId: aws.String(t.AccountID), TargetType: ssotypes.TargetTypeAwsAccount,
				PermissionSetArn: aws.String(t.PermissionSetARN), PrincipalType: ssotypes.PrincipalTypeUser,
				PrincipalId: aws.String(t.ExternalPrincipalID),
			})
			if err != nil {
				return nil, false, err
			}
			return out.AccountAssignmentCreationStatus, false, nil
		},
		func(ctx context.Context, id string) (*ssotypes.AccountAssignmentOperationStatus, error) {
			out, err := tc.sso.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
				InstanceArn: instance, AccountAssignmentCreationRequestId: aws.String(id),
			})
			if err != nil {
				return nil, err
			}
			return out.AccountAssignmentCreationStatus, nil
		},
		func(reason string) error {
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
	instance := aws.String(tc.settings.InstanceARN)
	return p.assignmentOp(ctx, tc, "DeleteAccountAssignment", "DescribeAccountAssignmentDeletionStatus", "account assignment deletion",
		func(ctx context.Context) (*ssotypes.AccountAssignmentOperationStatus, bool, error) {
			out, err := tc.sso.DeleteAccountAssignment(ctx, &ssoadmin.DeleteAccountAssignmentInput{
				InstanceArn: instance, TargetId: aws.String(t.AccountID), TargetType: ssotypes.TargetTypeAwsAccount,
				PermissionSetArn: aws.String(t.PermissionSetARN), PrincipalType: ssotypes.PrincipalTypeUser,
				PrincipalId: aws.String(t.ExternalPrincipalID),
			})
			var nf *ssotypes.ResourceNotFoundException
			if errors.As(err, &nf) {
				return nil, true, nil // gone already
			}
			if err != nil {
				return nil, false, err
			}
			return out.AccountAssignmentDeletionStatus, false, nil
		},
		func(ctx context.Context, id string) (*ssotypes.AccountAssignmentOperationStatus, error) {
			out, err := tc.sso.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
				InstanceArn: instance, AccountAssignmentDeletionRequestId: aws.String(id),
			})
			if err != nil {
				return nil, err
			}
			return out.AccountAssignmentDeletionStatus, nil
		},
		func(reason string) error {
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
