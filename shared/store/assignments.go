package store

// Assignments of the recording provider (shared/provider/recording): one
// item per (account, permission set, principal) under
// PK T#<tenant>#ASSIGN#<sha256>, SK ASSIGN, holding the ids of the grants
// that need it (a string set). Provisioning adds the grant id, revoking
// removes it; the assignment exists while the set is non-empty. Both are
// idempotent per grant, so overlapping grants do not revoke each other and
// retries do not miscount.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AssignmentTarget names an assignment.
type AssignmentTarget struct {
	TenantID, AccountID, PermissionSetARN, PrincipalID string
}

func (a AssignmentTarget) key() string {
	h := sha256.Sum256([]byte(a.AccountID + "\x00" + a.PermissionSetARN + "\x00" + a.PrincipalID))
	return hex.EncodeToString(h[:])
}

const attrHolders = "grants"

func holdersOf(item map[string]types.AttributeValue) []string {
	ss, _ := item[attrHolders].(*types.AttributeValueMemberSS)
	if ss == nil {
		return nil
	}
	out := slices.Clone(ss.Value)
	slices.Sort(out)
	return out
}

// AddAssignmentHolder records grantID as a holder of the assignment and
// returns the holders afterwards.
func (s *Store) AddAssignmentHolder(ctx context.Context, a AssignmentTarget, grantID string) ([]string, error) {
	if err := checkTenant(a.TenantID); err != nil {
		return nil, err
	}
	if grantID == "" {
		return nil, fmt.Errorf("%w: grant id", ErrInvalidInput)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              keyOf(assignPK(a.TenantID, a.key()), skAssign),
		UpdateExpression: aws.String("SET #et = :et, #t = :t, account_id = :a, permission_set_arn = :p, principal_id = :pr ADD #g :g"),
		ExpressionAttributeNames: map[string]string{
			"#et": AttrEntityType, "#t": AttrTenantID, "#g": attrHolders,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":et": str(entityAssign), ":t": str(a.TenantID), ":a": str(a.AccountID),
			":p": str(a.PermissionSetARN), ":pr": str(a.PrincipalID),
			":g": &types.AttributeValueMemberSS{Value: []string{grantID}},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, fmt.Errorf("store: add assignment holder: %w", err)
	}
	return holdersOf(out.Attributes), nil
}

// RemoveAssignmentHolder removes grantID from the assignment's holders and
// returns the holders left; the item is deleted when none are left. A
// missing assignment is not an error.
func (s *Store) RemoveAssignmentHolder(ctx context.Context, a AssignmentTarget, grantID string) ([]string, error) {
	if err := checkTenant(a.TenantID); err != nil {
		return nil, err
	}
	key := keyOf(assignPK(a.TenantID, a.key()), skAssign)
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          aws.String("DELETE #g :g"),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  map[string]string{"#g": attrHolders, "#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberSS{Value: []string{grantID}}},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		if failedAt(err) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("store: remove assignment holder: %w", err)
	}
	left := holdersOf(out.Attributes)
	if len(left) == 0 {
		_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:                aws.String(s.table),
			Key:                      key,
			ConditionExpression:      aws.String("attribute_not_exists(#g)"),
			ExpressionAttributeNames: map[string]string{"#g": attrHolders},
		})
		if err != nil && failedAt(err) != 0 {
			return nil, fmt.Errorf("store: delete empty assignment: %w", err)
		}
	}
	return left, nil
}

// AssignmentHolders returns the grants holding an assignment (consistent);
// none means it is not assigned.
func (s *Store) AssignmentHolders(ctx context.Context, a AssignmentTarget) ([]string, error) {
	if err := checkTenant(a.TenantID); err != nil {
		return nil, err
	}
	item, err := s.getItem(ctx, assignPK(a.TenantID, a.key()), skAssign)
	if err != nil {
		return nil, fmt.Errorf("store: get assignment: %w", err)
	}
	return holdersOf(item), nil
}
