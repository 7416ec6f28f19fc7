package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Policy rules live under PK T#<tenant>#RULES, SK RULE#<id>, one item per
// rule: the policy.Rule fields as attributes named by their json tags, plus
// tenant_id, created_at, updated_at (RFC3339Nano UTC strings) and revision.
//
// Every rule write (create, update, delete, each import chunk) carries, in
// the same transaction, `ADD rule_set_version 1` on the tenant item with
// `attribute_exists(PK)`. So the version changes exactly when the rule set
// does, a failed write bumps nothing, and a rule write for a tenant that
// does not exist fails (ErrNotFound).

// reservedRuleAttrs are attribute names a rule item uses for keys and
// bookkeeping; no policy.Rule json tag may collide with them.
var reservedRuleAttrs = map[string]bool{
	AttrPK: true, AttrSK: true,
	AttrGSI1PK: true, AttrGSI1SK: true, AttrGSI2PK: true, AttrGSI2SK: true, AttrGSI3PK: true, AttrGSI3SK: true, AttrGSI4PK: true, AttrGSI4SK: true,
	AttrEntityType: true, AttrTenantID: true, AttrCreatedAt: true, AttrUpdatedAt: true, AttrRevision: true,
}

func jsonTags(o *attributevalue.EncoderOptions) { o.TagKey = "json" }

func checkRule(r policy.Rule) error {
	if r.ID == "" || len(ruleSK(r.ID)) > maxSortKeyBytes {
		return fmt.Errorf("%w: rule id must be 1..%d bytes", ErrInvalidInput, maxSortKeyBytes-len(skRulePrefix))
	}
	if r.PolicyText != "" {
		return fmt.Errorf("%w: rule %q: store normalized rules (policy_text must be empty)", ErrInvalidInput, access.ClipID(r.ID))
	}
	return nil
}

func ruleItem(tenant string, rec RuleRecord) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMapWithOptions(rec.Rule, jsonTags)
	if err != nil {
		return nil, fmt.Errorf("store: encode rule %s: %w", rec.ID, err)
	}
	for name := range item {
		if reservedRuleAttrs[name] {
			return nil, fmt.Errorf("store: encode rule %s: field %q collides with a reserved attribute", rec.ID, name)
		}
	}
	item[AttrPK] = str(rulesPK(tenant))
	item[AttrSK] = str(ruleSK(rec.ID))
	item[AttrEntityType] = str(entityRule)
	item[AttrTenantID] = str(tenant)
	item[AttrCreatedAt] = str(timeString(rec.CreatedAt))
	item[AttrUpdatedAt] = str(timeString(rec.UpdatedAt))
	item[AttrRevision] = num(rec.Revision)
	return item, nil
}

func decodeRule(item map[string]types.AttributeValue) (RuleRecord, error) {
	var rec RuleRecord
	if err := attributevalue.UnmarshalMapWithOptions(item, &rec.Rule, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
		return RuleRecord{}, fmt.Errorf("store: decode rule: %w", err)
	}
	var err error
	if rec.CreatedAt, err = timeAttr(item, AttrCreatedAt); err != nil {
		return RuleRecord{}, err
	}
	if rec.UpdatedAt, err = timeAttr(item, AttrUpdatedAt); err != nil {
		return RuleRecord{}, err
	}
	if n, ok := item[AttrRevision].(*types.AttributeValueMemberN); ok {
		if rec.Revision, err = strconv.ParseInt(n.Value, 10, 64); err != nil {
			return RuleRecord{}, fmt.Errorf("store: decode rule %s revision: %w", rec.ID, err)
		}
	}
	return rec, nil
}

func timeAttr(item map[string]types.AttributeValue, name string) (time.Time, error) {
	s, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s.Value)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: decode %s: %w", name, err)
	}
	return t, nil
}

// rulesQuery is the query of all the tenant's rules, in id order.
func rulesQuery(tenant string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(rulesPK(tenant)), ":sk": str(skRulePrefix),
		},
		ConsistentRead: aws.Bool(true),
	}
}

// ListRules lists one page of the tenant's rules, ordered by id.
func (s *Store) ListRules(ctx context.Context, tenantID string, p Page) ([]RuleRecord, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	items, next, err := s.queryPage(ctx, tenantID, rulesQuery(tenantID), rulesPK(tenantID), p)
	if err != nil {
		return nil, "", fmt.Errorf("store: list rules: %w", err)
	}
	out := make([]RuleRecord, 0, len(items))
	for _, it := range items {
		rec, err := decodeRule(it)
		if err != nil {
			return nil, "", err
		}
		out = append(out, rec)
	}
	return out, next, nil
}

// GetRule reads one rule (consistent read). ErrNotFound if there is none.
func (s *Store) GetRule(ctx context.Context, tenantID, id string) (RuleRecord, error) {
	if err := checkTenant(tenantID); err != nil {
		return RuleRecord{}, err
	}
	if err := checkRule(policy.Rule{ID: id}); err != nil {
		return RuleRecord{}, err
	}
	item, err := s.getItem(ctx, rulesPK(tenantID), ruleSK(id))
	if err != nil {
		return RuleRecord{}, fmt.Errorf("store: get rule %s: %w", id, err)
	}
	if item == nil {
		return RuleRecord{}, fmt.Errorf("store: rule %s: %w", id, ErrNotFound)
	}
	return decodeRule(item)
}

func (s *Store) putRule(item map[string]types.AttributeValue, cond string, vals map[string]types.AttributeValue) types.TransactWriteItem {
	names := map[string]string{"#pk": AttrPK}
	if vals != nil {
		names["#rev"] = AttrRevision
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(s.table),
		Item:                      item,
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}}
}

// CreateRule stores a new rule at revision 1 and bumps the tenant's
// rule_set_version, in one transaction. ErrConflict if the id exists,
// ErrNotFound if the tenant does not.
func (s *Store) CreateRule(ctx context.Context, tenantID string, r policy.Rule, now time.Time, audit ...access.AuditEvent) (RuleRecord, error) {
	if err := checkTenant(tenantID); err != nil {
		return RuleRecord{}, err
	}
	if err := checkRule(r); err != nil {
		return RuleRecord{}, err
	}
	now = now.UTC()
	rec := RuleRecord{Rule: r, CreatedAt: now, UpdatedAt: now, Revision: 1}
	item, err := ruleItem(tenantID, rec)
	if err != nil {
		return RuleRecord{}, err
	}
	tx, err := s.withAudit(tenantID, []types.TransactWriteItem{
		s.bumpRuleSetVersion(tenantID),
		s.putRule(item, "attribute_not_exists(#pk)", nil),
	}, audit)
	if err != nil {
		return RuleRecord{}, err
	}
	err = s.transact(ctx, tx)
	switch failedAt(err) {
	case -1:
		if err != nil {
			return RuleRecord{}, fmt.Errorf("store: create rule %s: %w", r.ID, err)
		}
		return rec, nil
	case 0:
		return RuleRecord{}, fmt.Errorf("store: create rule: tenant %s: %w", tenantID, ErrNotFound)
	default:
		return RuleRecord{}, conflict(nil, "a policy rule with this id exists already")
	}
}

// UpdateRule replaces rule r.ID (created_at is kept, revision grows by one)
// and bumps rule_set_version, in one transaction. expectedRevision 0 means
// "whatever the current revision" (retried on concurrent updates); any
// other value must equal the stored revision, else ErrConflict.
// ErrNotFound if the rule (or tenant) does not exist.
func (s *Store) UpdateRule(ctx context.Context, tenantID string, r policy.Rule, expectedRevision int64, now time.Time, audit ...access.AuditEvent) (RuleRecord, error) {
	if err := checkTenant(tenantID); err != nil {
		return RuleRecord{}, err
	}
	if err := checkRule(r); err != nil {
		return RuleRecord{}, err
	}
	if expectedRevision < 0 {
		return RuleRecord{}, fmt.Errorf("%w: expected revision must be >= 0", ErrInvalidInput)
	}
	now = now.UTC()
	for attempt := 0; attempt < 20; attempt++ {
		cur, err := s.GetRule(ctx, tenantID, r.ID)
		if err != nil {
			return RuleRecord{}, err
		}
		if expectedRevision != 0 && cur.Revision != expectedRevision {
			return RuleRecord{}, ruleRevision(cur.Revision, expectedRevision)
		}
		rec := RuleRecord{Rule: r, CreatedAt: cur.CreatedAt, UpdatedAt: now, Revision: cur.Revision + 1}
		item, err := ruleItem(tenantID, rec)
		if err != nil {
			return RuleRecord{}, err
		}
		tx, err := s.withAudit(tenantID, []types.TransactWriteItem{
			s.bumpRuleSetVersion(tenantID),
			s.putRule(item, "attribute_exists(#pk) AND #rev = :rev", map[string]types.AttributeValue{":rev": num(cur.Revision)}),
		}, audit)
		if err != nil {
			return RuleRecord{}, err
		}
		err = s.transact(ctx, tx)
		switch failedAt(err) {
		case -1:
			if err != nil {
				return RuleRecord{}, fmt.Errorf("store: update rule %s: %w", r.ID, err)
			}
			return rec, nil
		case 0:
			return RuleRecord{}, fmt.Errorf("store: update rule: tenant %s: %w", tenantID, ErrNotFound)
		}
		// The rule changed or vanished since we read it.
		if expectedRevision != 0 {
			now, gerr := s.GetRule(ctx, tenantID, r.ID)
			if gerr != nil {
				return RuleRecord{}, gerr
			}
			return RuleRecord{}, ruleRevision(now.Revision, expectedRevision)
		}
	}
	return RuleRecord{}, fmt.Errorf("store: update rule %s: too much contention: %w", r.ID, ErrConflict)
}

// chunkEvents are the audit events of one import chunk (actions
// [start, end) of total): the events themselves for the first chunk, and
// copies with derived ids for the others, so each committed chunk carries
// its record.
func chunkEvents(evs []access.AuditEvent, start, end, total int) []access.AuditEvent {
	out := make([]access.AuditEvent, len(evs))
	for i, e := range evs {
		md := map[string]any{}
		for k, v := range e.Metadata {
			md[k] = v
		}
		if start > 0 {
			e.ID = fmt.Sprintf("%s-%d", e.ID, start)
		}
		if start > 0 || end < total {
			md["chunk"] = map[string]any{"from": start, "to": end, "of": total}
		}
		e.Metadata = md
		out[i] = e
	}
	return out
}

// ruleRevision is the conflict of an update expecting another revision.
func ruleRevision(current, expected int64) error {
	return conflict(map[string]any{"revision": current}, "the policy rule is at revision %d now, not %d", current, expected)
}

// DeleteRule deletes a rule and bumps rule_set_version, in one
// transaction. ErrNotFound if the rule (or tenant) does not exist.
func (s *Store) DeleteRule(ctx context.Context, tenantID, id string, audit ...access.AuditEvent) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	if err := checkRule(policy.Rule{ID: id}); err != nil {
		return err
	}
	tx, err := s.withAudit(tenantID, []types.TransactWriteItem{
		s.bumpRuleSetVersion(tenantID),
		{Delete: &types.Delete{
			TableName:                aws.String(s.table),
			Key:                      keyOf(rulesPK(tenantID), ruleSK(id)),
			ConditionExpression:      aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
		}},
	}, audit)
	if err != nil {
		return err
	}
	err = s.transact(ctx, tx)
	switch failedAt(err) {
	case -1:
		if err != nil {
			return fmt.Errorf("store: delete rule %s: %w", id, err)
		}
		return nil
	case 0:
		return fmt.Errorf("store: delete rule: tenant %s: %w", tenantID, ErrNotFound)
	default:
		return fmt.Errorf("store: rule %s: %w", id, ErrNotFound)
	}
}

// Import chunking: one transaction holds the version bump plus at most
// importChunkItems rule actions, and stays under DynamoDB's 4 MB request
// limit by a rough size estimate.
const (
	importChunkItems = maxTransactItems - 1
	importChunkBytes = 3 << 20
)

// ImportRules upserts every given rule and, with replace, deletes the
// tenant's rules that are not in the list. Rules identical to the stored
// ones are left alone (their revision does not move). Changed rules keep
// created_at and get revision+1; new ones start at revision 1. Every write
// is conditional on the revision read at the start, so a concurrent change
// is never overwritten (ErrConflict).
//
// The changes are written in transactions of at most 100 actions, each one
// bumping rule_set_version. An import that fits one transaction (99 rule
// changes) is atomic; a larger one is NOT: if a later chunk fails, the
// earlier chunks stay applied. Re-running the same import converges, since
// unchanged rules are skipped.
//
// It returns the tenant's rule_set_version read after the last write (a
// concurrent writer may have moved it further). ErrNotFound if the tenant
// does not exist.
func (s *Store) ImportRules(ctx context.Context, tenantID string, rules []policy.Rule, replace bool, now time.Time, audit ...access.AuditEvent) (int64, error) {
	if err := checkTenant(tenantID); err != nil {
		return 0, err
	}
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		if err := checkRule(r); err != nil {
			return 0, err
		}
		if seen[r.ID] {
			return 0, fmt.Errorf("%w: rule id %q given twice", ErrInvalidInput, access.ClipID(r.ID))
		}
		seen[r.ID] = true
	}
	// Existence first, so an empty import of a missing tenant is ErrNotFound.
	if _, err := s.RuleSetVersion(ctx, tenantID); err != nil {
		return 0, err
	}
	items, err := s.queryAll(ctx, rulesQuery(tenantID))
	if err != nil {
		return 0, fmt.Errorf("store: import rules: read current rules: %w", err)
	}
	existing := make(map[string]RuleRecord, len(items))
	var order []string
	for _, it := range items {
		rec, err := decodeRule(it)
		if err != nil {
			return 0, err
		}
		existing[rec.ID] = rec
		order = append(order, rec.ID)
	}

	now = now.UTC()
	type action struct {
		item types.TransactWriteItem
		size int
	}
	var actions []action
	for _, r := range rules {
		cur, ok := existing[r.ID]
		if ok && sameRule(cur.Rule, r) {
			continue
		}
		rec := RuleRecord{Rule: r, CreatedAt: now, UpdatedAt: now, Revision: 1}
		cond, vals := "attribute_not_exists(#pk)", map[string]types.AttributeValue(nil)
		if ok {
			rec.CreatedAt, rec.Revision = cur.CreatedAt, cur.Revision+1
			cond, vals = "attribute_exists(#pk) AND #rev = :rev", map[string]types.AttributeValue{":rev": num(cur.Revision)}
		}
		item, err := ruleItem(tenantID, rec)
		if err != nil {
			return 0, err
		}
		actions = append(actions, action{s.putRule(item, cond, vals), approxRuleSize(r)})
	}
	if replace {
		for _, id := range order {
			if seen[id] {
				continue
			}
			actions = append(actions, action{types.TransactWriteItem{Delete: &types.Delete{
				TableName:                 aws.String(s.table),
				Key:                       keyOf(rulesPK(tenantID), ruleSK(id)),
				ConditionExpression:       aws.String("#rev = :rev"),
				ExpressionAttributeNames:  map[string]string{"#rev": AttrRevision},
				ExpressionAttributeValues: map[string]types.AttributeValue{":rev": num(existing[id].Revision)},
			}}, len(id) + 100})
		}
	}

	for start := 0; start < len(actions); {
		tx := []types.TransactWriteItem{s.bumpRuleSetVersion(tenantID)}
		size := 0
		end := start
		for end < len(actions) && len(tx) < maxTransactItems-len(audit) && (end == start || size+actions[end].size <= importChunkBytes) {
			tx = append(tx, actions[end].item)
			size += actions[end].size
			end++
		}
		tx, err := s.withAudit(tenantID, tx, chunkEvents(audit, start, end, len(actions)))
		if err != nil {
			return 0, err
		}
		err = s.transact(ctx, tx)
		switch failedAt(err) {
		case -1:
			if err != nil {
				return 0, fmt.Errorf("store: import rules (%d of %d changes applied): %w", start, len(actions), err)
			}
		case 0:
			return 0, fmt.Errorf("store: import rules: tenant %s: %w", tenantID, ErrNotFound)
		default:
			return 0, conflict(map[string]any{"changes_applied": start, "changes": len(actions)},
				"a policy rule changed during the import (%d of %d changes applied); re-read the rules and retry", start, len(actions))
		}
		start = end
	}
	return s.RuleSetVersion(ctx, tenantID)
}

// sameRule compares rules as they would be stored (json, so nil and empty
// slices are equal).
func sameRule(a, b policy.Rule) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func approxRuleSize(r policy.Rule) int {
	b, _ := json.Marshal(r)
	return len(b) + 200 // keys and bookkeeping
}

// LoadRuleSet returns all the tenant's rules (id order) and the
// rule_set_version they are at least as new as.
//
// It reads the version FIRST (consistent GetItem), then every rule
// (consistent Query, all pages). Each rule write bumps the version in the
// same transaction, so every change up to version V was committed before V
// was read and is visible to the rule reads that follow: the set returned is
// never older than V. It may already contain later changes; then the version
// has moved past V and the next RuleSetVersion check triggers a reload —
// harmless. Reading the rules first would allow caching a set older than the
// version it is filed under, and keeping it until the next rule change.
func (s *Store) LoadRuleSet(ctx context.Context, tenantID string) ([]policy.Rule, int64, error) {
	v, err := s.RuleSetVersion(ctx, tenantID)
	if err != nil {
		return nil, 0, err
	}
	items, err := s.queryAll(ctx, rulesQuery(tenantID))
	if err != nil {
		return nil, 0, fmt.Errorf("store: load rule set: %w", err)
	}
	rules := make([]policy.Rule, 0, len(items))
	for _, it := range items {
		rec, err := decodeRule(it)
		if err != nil {
			return nil, 0, err
		}
		rules = append(rules, rec.Rule)
	}
	return rules, v, nil
}
