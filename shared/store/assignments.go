package store

// Assignment bookkeeping of the access providers (shared/provider/...): one
// item per (account, permission set, principal) under PK T#<tenant>#ASSIGN,
// SK A#<sha256>, holding the ids of the grants that need it (a string set).
// Provisioning adds the grant id, revoking removes it; the provider removes
// the assignment itself (in Identity Center) only when no holder is left,
// and deletes the item only after that removal succeeded
// (DeleteAssignmentIfUnheld), so an item without holders marks an
// assignment this system created and still has to remove — what the drift
// reconciler finishes. Adding and removing are idempotent per grant, so
// overlapping grants do not revoke each other and retries do not miscount.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AssignmentTarget names an assignment. PrincipalID is jitsudo's principal
// (the requester id); ExternalPrincipalID, when known, is the provider's id
// for it (the Identity Center user id) and is recorded on the item by
// AddAssignmentHolder (it is not part of the key).
type AssignmentTarget struct {
	TenantID, AccountID, PermissionSetARN, PrincipalID string
	ExternalPrincipalID                                string
}

// AssignmentRecord is one stored assignment item.
type AssignmentRecord struct {
	AssignmentTarget
	Holders   []string // grant ids, sorted; empty: to be removed
	UpdatedAt time.Time
}

func (a AssignmentTarget) key() string {
	h := sha256.Sum256([]byte(a.AccountID + "\x00" + a.PermissionSetARN + "\x00" + a.PrincipalID))
	return hex.EncodeToString(h[:])
}

const (
	attrHolders     = "grants"
	attrExternalPID = "external_principal_id"
)

func holdersOf(item map[string]types.AttributeValue) []string {
	ss, _ := item[attrHolders].(*types.AttributeValueMemberSS)
	if ss == nil {
		return nil
	}
	out := slices.Clone(ss.Value)
	slices.Sort(out)
	return out
}

func (s *Store) assignKey(a AssignmentTarget) map[string]types.AttributeValue {
	return keyOf(assignPK(a.TenantID), assignSK(a.key()))
}

func checkTarget(a AssignmentTarget) error {
	if err := checkTenant(a.TenantID); err != nil {
		return err
	}
	if a.AccountID == "" || a.PermissionSetARN == "" || a.PrincipalID == "" {
		return fmt.Errorf("%w: assignment needs account, permission set and principal", ErrInvalidInput)
	}
	return nil
}

// AddAssignmentHolder records grantID as a holder of the assignment and
// returns the holders afterwards.
func (s *Store) AddAssignmentHolder(ctx context.Context, a AssignmentTarget, grantID string) ([]string, error) {
	if err := checkTarget(a); err != nil {
		return nil, err
	}
	if grantID == "" {
		return nil, fmt.Errorf("%w: grant id", ErrInvalidInput)
	}
	update := "SET #et = :et, #t = :t, account_id = :a, permission_set_arn = :p, principal_id = :pr, #u = :u ADD #g :g"
	values := map[string]types.AttributeValue{
		":et": str(entityAssign), ":t": str(a.TenantID), ":a": str(a.AccountID),
		":p": str(a.PermissionSetARN), ":pr": str(a.PrincipalID), ":u": str(timeString(time.Now())),
		":g": &types.AttributeValueMemberSS{Value: []string{grantID}},
	}
	names := map[string]string{"#et": AttrEntityType, "#t": AttrTenantID, "#g": attrHolders, "#u": AttrUpdatedAt}
	if a.ExternalPrincipalID != "" {
		update = "SET #x = :x, " + update[len("SET "):]
		names["#x"] = attrExternalPID
		values[":x"] = str(a.ExternalPrincipalID)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.assignKey(a),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, fmt.Errorf("store: add assignment holder: %w", err)
	}
	return holdersOf(out.Attributes), nil
}

// RemoveAssignmentHolder removes grantID from the assignment's holders and
// returns the holders left. The item stays (without holders) until
// DeleteAssignmentIfUnheld; a missing assignment is not an error (nil).
func (s *Store) RemoveAssignmentHolder(ctx context.Context, a AssignmentTarget, grantID string) ([]string, error) {
	if err := checkTarget(a); err != nil {
		return nil, err
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.assignKey(a),
		UpdateExpression:          aws.String("SET #u = :u DELETE #g :g"),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  map[string]string{"#g": attrHolders, "#pk": AttrPK, "#u": AttrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":g": &types.AttributeValueMemberSS{Value: []string{grantID}}, ":u": str(timeString(time.Now()))},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		if failedAt(err) == 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("store: remove assignment holder: %w", err)
	}
	return holdersOf(out.Attributes), nil
}

// DeleteAssignmentIfUnheld deletes the assignment's item if it has no
// holders (a holder added meanwhile keeps it). It reports whether the item
// is gone (deleted now or missing before). The delete is conditional on
// the item's updated_at being the one read without holders: every holder
// change sets updated_at, so a concurrent AddAssignmentHolder wins.
func (s *Store) DeleteAssignmentIfUnheld(ctx context.Context, a AssignmentTarget) (bool, error) {
	if err := checkTarget(a); err != nil {
		return false, err
	}
	item, err := s.getItem(ctx, assignPK(a.TenantID), assignSK(a.key()))
	if err != nil {
		return false, fmt.Errorf("store: read assignment: %w", err)
	}
	if item == nil {
		return true, nil
	}
	if len(holdersOf(item)) > 0 {
		return false, nil
	}
	updated, ok := item[AttrUpdatedAt]
	if !ok {
		updated = str("")
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       s.assignKey(a),
		ConditionExpression:       aws.String("#u = :u"),
		ExpressionAttributeNames:  map[string]string{"#u": AttrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": updated},
	})
	if err != nil {
		if failedAt(err) == 0 {
			return false, nil
		}
		return false, fmt.Errorf("store: delete unheld assignment: %w", err)
	}
	return true, nil
}

// AssignmentHolders returns the grants holding an assignment (consistent);
// none means no grant needs it.
func (s *Store) AssignmentHolders(ctx context.Context, a AssignmentTarget) ([]string, error) {
	if err := checkTarget(a); err != nil {
		return nil, err
	}
	item, err := s.getItem(ctx, assignPK(a.TenantID), assignSK(a.key()))
	if err != nil {
		return nil, fmt.Errorf("store: get assignment: %w", err)
	}
	return holdersOf(item), nil
}

// GetAssignment reads one assignment item (consistent); found is false
// when there is none.
func (s *Store) GetAssignment(ctx context.Context, a AssignmentTarget) (rec AssignmentRecord, found bool, err error) {
	if err := checkTarget(a); err != nil {
		return AssignmentRecord{}, false, err
	}
	item, err := s.getItem(ctx, assignPK(a.TenantID), assignSK(a.key()))
	if err != nil {
		return AssignmentRecord{}, false, fmt.Errorf("store: get assignment: %w", err)
	}
	if item == nil {
		return AssignmentRecord{}, false, nil
	}
	return assignmentRecord(a.TenantID, item), true, nil
}

func assignmentRecord(tenantID string, it map[string]types.AttributeValue) AssignmentRecord {
	get := func(name string) string {
		v, _ := it[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	rec := AssignmentRecord{
		AssignmentTarget: AssignmentTarget{
			TenantID: tenantID, AccountID: get("account_id"), PermissionSetARN: get("permission_set_arn"),
			PrincipalID: get("principal_id"), ExternalPrincipalID: get(attrExternalPID),
		},
		Holders: holdersOf(it),
	}
	rec.UpdatedAt, _ = time.Parse(time.RFC3339Nano, get(AttrUpdatedAt))
	return rec
}

// ListAssignments returns every assignment item of the tenant (consistent),
// held or waiting for removal.
func (s *Store) ListAssignments(ctx context.Context, tenantID string) ([]AssignmentRecord, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	items, err := s.queryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(assignPK(tenantID))},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: list assignments: %w", err)
	}
	out := make([]AssignmentRecord, 0, len(items))
	for _, it := range items {
		out = append(out, assignmentRecord(tenantID, it))
	}
	return out, nil
}
