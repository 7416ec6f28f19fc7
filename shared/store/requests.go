package store

// Requests, grants, messages, duplicate guards and idempotency records
// (the persistence of package access; *Store implements access.Repo).
// Every state change is one TransactWriteItems built from an access.Change
// plus the audit events appended to the tenant's hash chain (audit.go).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

var _ access.Repo = (*Store)(nil)

const (
	maxIDBytes      = 256
	partAudit       = "audit"
	partMessage     = "message"
	partLockRelease = "lock_release"
)

func notFound(what, id string) error {
	return fmt.Errorf("store: %s %s: %w (%w)", what, id, access.ErrNotFound, ErrNotFound)
}

func validItemID(id string) bool { return id != "" && len(id) <= maxIDBytes }

// marshalItem encodes v without empty lists and maps (nil and empty
// slices read back the same, and local stand-ins mishandle empty lists).
func marshalItem(v any) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMap(v)
	if err != nil {
		return nil, err
	}
	for name, av := range item {
		switch x := av.(type) {
		case *types.AttributeValueMemberL:
			if len(x.Value) == 0 {
				delete(item, name)
			}
		case *types.AttributeValueMemberM:
			if len(x.Value) == 0 {
				delete(item, name)
			}
		}
	}
	return item, nil
}

func requestItem(r access.Request) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(r)
	if err != nil {
		return nil, fmt.Errorf("store: encode request %s: %w", r.ID, err)
	}
	t := r.TenantID
	item[AttrPK], item[AttrSK] = str(requestPK(t, r.ID)), str(skMeta)
	item[AttrEntityType] = str(entityRequest)
	sk := str(r.ID) // ids start with their creation time: newest first by id
	item[AttrGSI1PK], item[AttrGSI1SK] = str(reqStatusPK(t, r.Status)), sk
	item[AttrGSI2PK], item[AttrGSI2SK] = str(requesterPK(t, r.RequesterID)), sk
	item[AttrGSI3PK], item[AttrGSI3SK] = str(allRequestsPK(t)), sk
	if kind, at := access.RequestSweepDue(r); kind != "" {
		item[AttrGSI5PK], item[AttrGSI5SK] = str(sweepPK(kind)), str(sweepSK(at, t, r.ID))
	}
	return item, nil
}

func grantItem(g access.Grant) (map[string]types.AttributeValue, error) {
	item, err := marshalItem(g)
	if err != nil {
		return nil, fmt.Errorf("store: encode grant %s: %w", g.ID, err)
	}
	t := g.TenantID
	item[AttrPK], item[AttrSK] = str(grantPK(t, g.ID)), str(skMeta)
	item[AttrEntityType] = str(entityGrant)
	sk := str(g.ID)
	item[AttrGSI1PK], item[AttrGSI1SK] = str(allGrantsPK(t)), sk
	item[AttrGSI2PK], item[AttrGSI2SK] = str(granteePK(t, g.GranteeID)), sk
	item[AttrGSI3PK], item[AttrGSI3SK] = str(grantStatusPK(t, g.Status)), sk
	if kind, at := access.GrantSweepDue(g); kind != "" {
		item[AttrGSI5PK], item[AttrGSI5SK] = str(sweepPK(kind)), str(sweepSK(at, t, g.ID))
	}
	return item, nil
}

// versionedPut is a Put conditional on creation or on (status, version).
func (s *Store) versionedPut(item map[string]types.AttributeValue, create bool, status string, version int64) types.TransactWriteItem {
	p := &types.Put{TableName: aws.String(s.table), Item: item}
	if create {
		p.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		p.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		p.ConditionExpression = aws.String("#st = :st AND #ver = :ver")
		p.ExpressionAttributeNames = map[string]string{"#st": "status", "#ver": "version"}
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":st": str(status), ":ver": num(version)}
	}
	return types.TransactWriteItem{Put: p}
}

func (s *Store) putIfAbsent(item map[string]types.AttributeValue) types.TransactWriteItem {
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}}
}

// changeItems turns a Change (without its audit events) into transaction
// actions and the part each one belongs to.
func (s *Store) changeItems(tenant string, ch access.Change) ([]types.TransactWriteItem, []string, error) {
	var items []types.TransactWriteItem
	var parts []string
	add := func(part string, it types.TransactWriteItem) { items, parts = append(items, it), append(parts, part) }
	if rec := ch.Idempotency; rec != nil {
		item, err := attributevalue.MarshalMap(rec)
		if err != nil {
			return nil, nil, fmt.Errorf("store: encode idempotency record: %w", err)
		}
		item[AttrPK], item[AttrSK], item[AttrEntityType] = str(idemPK(tenant, rec.Key)), str(skIdem), str(entityIdem)
		item[AttrTenantID] = str(tenant)
		if !rec.ExpiresAt.IsZero() {
			item[AttrTTL] = num(rec.ExpiresAt.Unix())
		}
		add(access.PartIdempotency, s.putIfAbsent(item))
	}
	if w := ch.Request; w != nil {
		if w.Request.TenantID != tenant || !validItemID(w.Request.ID) {
			return nil, nil, fmt.Errorf("%w: request tenant/id", ErrInvalidInput)
		}
		item, err := requestItem(w.Request)
		if err != nil {
			return nil, nil, err
		}
		add(access.PartRequest, s.versionedPut(item, w.Create, w.ExpectStatus, w.ExpectVersion))
	}
	if l := ch.LockAcquire; l != nil {
		item, err := attributevalue.MarshalMap(l)
		if err != nil {
			return nil, nil, fmt.Errorf("store: encode lock: %w", err)
		}
		item[AttrPK], item[AttrSK], item[AttrEntityType] = str(lockPK(tenant, l.Key)), str(skLock), str(entityLock)
		item[AttrTenantID] = str(tenant)
		add(access.PartLock, s.putIfAbsent(item))
	}
	if ch.LockRelease != "" {
		add(partLockRelease, types.TransactWriteItem{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: keyOf(lockPK(tenant, ch.LockRelease), skLock),
		}})
	}
	if w := ch.Grant; w != nil {
		if w.Grant.TenantID != tenant || !validItemID(w.Grant.ID) {
			return nil, nil, fmt.Errorf("%w: grant tenant/id", ErrInvalidInput)
		}
		item, err := grantItem(w.Grant)
		if err != nil {
			return nil, nil, err
		}
		add(access.PartGrant, s.versionedPut(item, w.Create, w.ExpectStatus, w.ExpectVersion))
	}
	for _, m := range ch.Messages {
		item, err := marshalItem(m)
		if err != nil {
			return nil, nil, fmt.Errorf("store: encode message: %w", err)
		}
		item[AttrPK], item[AttrSK] = str(requestPK(tenant, m.RequestID)), str(messageSK(m.CreatedAt, m.ID))
		item[AttrEntityType], item[AttrTenantID] = str(entityMessage), str(tenant)
		add(partMessage, s.putIfAbsent(item))
	}
	if c := ch.MessageCap; c != nil {
		for _, m := range ch.Messages {
			if m.RequestID != c.RequestID {
				return nil, nil, fmt.Errorf("%w: a capped change's messages must be on its request", ErrInvalidInput)
			}
		}
		it, err := s.messageCapItem(tenant, *c, len(ch.Messages))
		if err != nil {
			return nil, nil, err
		}
		add(access.PartMessageCap, it)
	}
	return items, parts, nil
}

// failedParts lists the parts whose condition failed, or nil when err is
// not a condition failure.
func failedParts(err error, parts []string) []string {
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		var out []string
		for i, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" && i < len(parts) {
				out = append(out, parts[i])
			}
		}
		return out
	}
	if i := failedAt(err); i >= 0 && len(parts) > 0 {
		return parts[:1]
	}
	return nil
}

// Commit writes ch in one transaction, its audit events included. Each
// event is its own item (PK T#<tenant>#AUDIT, SK EVT#<event id>, put if
// absent) with its content hash; there is no tenant-wide sequence to
// contend for: writers of different requests never conflict. The chain
// (sequence numbers, links, MACs) is extended after commit, from the
// table's stream, by shared/audit's Extender. A failed condition is
// returned as *access.ConditionFailedError.
func (s *Store) Commit(ctx context.Context, tenantID string, ch access.Change) ([]access.AuditEvent, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	tx, parts, err := s.changeItems(tenantID, ch)
	if err != nil {
		return nil, err
	}
	events, auditTx, err := s.auditPuts(tenantID, ch.Audit)
	if err != nil {
		return nil, err
	}
	tx = append(tx, auditTx...)
	for range auditTx {
		parts = append(parts, partAudit)
	}
	if len(tx) == 0 {
		return nil, nil
	}
	if len(tx) > maxTransactItems {
		return nil, fmt.Errorf("%w: change has more than %d items", ErrInvalidInput, maxTransactItems)
	}
	if err := s.transact(ctx, tx); err != nil {
		failed := failedParts(err, parts)
		if failed == nil {
			return nil, fmt.Errorf("store: commit: %w", err)
		}
		return nil, fmt.Errorf("store: commit: %w", &access.ConditionFailedError{Parts: failed})
	}
	return events, nil
}

// GetRequest reads a request (consistent).
func (s *Store) GetRequest(ctx context.Context, tenantID, id string) (access.Request, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.Request{}, err
	}
	if !validItemID(id) {
		return access.Request{}, notFound("request", id)
	}
	item, err := s.getItem(ctx, requestPK(tenantID, id), skMeta)
	if err != nil {
		return access.Request{}, fmt.Errorf("store: get request %s: %w", id, err)
	}
	if item == nil {
		return access.Request{}, notFound("request", id)
	}
	var r access.Request
	if err := attributevalue.UnmarshalMap(item, &r); err != nil {
		return access.Request{}, fmt.Errorf("store: decode request %s: %w", id, err)
	}
	return r, nil
}

// GetGrant reads a grant (consistent).
func (s *Store) GetGrant(ctx context.Context, tenantID, id string) (access.Grant, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.Grant{}, err
	}
	if !validItemID(id) {
		return access.Grant{}, notFound("grant", id)
	}
	item, err := s.getItem(ctx, grantPK(tenantID, id), skMeta)
	if err != nil {
		return access.Grant{}, fmt.Errorf("store: get grant %s: %w", id, err)
	}
	if item == nil {
		return access.Grant{}, notFound("grant", id)
	}
	var g access.Grant
	if err := attributevalue.UnmarshalMap(item, &g); err != nil {
		return access.Grant{}, fmt.Errorf("store: decode grant %s: %w", id, err)
	}
	return g, nil
}

// GetLock reads a duplicate guard (consistent).
func (s *Store) GetLock(ctx context.Context, tenantID, key string) (access.TargetLock, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.TargetLock{}, err
	}
	item, err := s.getItem(ctx, lockPK(tenantID, key), skLock)
	if err != nil {
		return access.TargetLock{}, fmt.Errorf("store: get lock: %w", err)
	}
	if item == nil {
		return access.TargetLock{}, notFound("lock", key)
	}
	var l access.TargetLock
	if err := attributevalue.UnmarshalMap(item, &l); err != nil {
		return access.TargetLock{}, fmt.Errorf("store: decode lock: %w", err)
	}
	return l, nil
}

// GetIdempotency reads an idempotency record (consistent).
func (s *Store) GetIdempotency(ctx context.Context, tenantID, key string) (access.IdempotencyRecord, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.IdempotencyRecord{}, err
	}
	item, err := s.getItem(ctx, idemPK(tenantID, key), skIdem)
	if err != nil {
		return access.IdempotencyRecord{}, fmt.Errorf("store: get idempotency record: %w", err)
	}
	if item == nil {
		return access.IdempotencyRecord{}, notFound("idempotency record", key)
	}
	var rec access.IdempotencyRecord
	if err := attributevalue.UnmarshalMap(item, &rec); err != nil {
		return access.IdempotencyRecord{}, fmt.Errorf("store: decode idempotency record: %w", err)
	}
	return rec, nil
}

// taskTokenTTL is how long a task token item is kept (DynamoDB TTL "ttl"):
// longer than any approval wait (policy.MaxApprovalTimeout), after which
// the token is useless.
const taskTokenTTL = policy.MaxApprovalTimeout + 24*time.Hour

const attrTaskToken = "task_token"

// SetTaskToken stores the approval wait's task token in the request's
// token item (PutItem, SK META#TOKEN; the request item is not touched),
// then reads the request (consistent). If the request is pending it is
// returned with TaskToken set and stored=true; otherwise it is returned
// without the token and stored=false (the caller resumes the workflow).
//
// Writing the token before reading the request is what makes the race
// with a decision safe: a decider commits the request first and then
// reads the token (consistently), so either the decider sees the token or
// this read sees the decision (possibly both: a second resume is refused by
// Step Functions and harmless). The token item of a request found decided
// is left in place: it is never used (only a pending request's token is)
// and expires through TTL. A missing request is ErrNotFound (its stray
// token item is deleted).
func (s *Store) SetTaskToken(ctx context.Context, tenantID, requestID, token string) (access.Request, bool, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.Request{}, false, err
	}
	if !validItemID(requestID) {
		return access.Request{}, false, notFound("request", requestID)
	}
	if token == "" {
		return access.Request{}, false, fmt.Errorf("%w: empty task token", ErrInvalidInput)
	}
	pk := requestPK(tenantID, requestID)
	item := map[string]types.AttributeValue{
		AttrPK: str(pk), AttrSK: str(skTaskToken),
		AttrEntityType: str(entityToken), AttrTenantID: str(tenantID),
		attrTaskToken: str(token),
		AttrTTL:       num(time.Now().Add(taskTokenTTL).Unix()),
	}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return access.Request{}, false, fmt.Errorf("store: set task token of %s: %w", requestID, err)
	}
	r, err := s.GetRequest(ctx, tenantID, requestID)
	if errors.Is(err, access.ErrNotFound) {
		// Best effort: a stray token of a request that does not exist is
		// never used and expires through the TTL anyway.
		_, _ = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(s.table), Key: keyOf(pk, skTaskToken),
			ConditionExpression:       aws.String("#tok = :tok"),
			ExpressionAttributeNames:  map[string]string{"#tok": attrTaskToken},
			ExpressionAttributeValues: map[string]types.AttributeValue{":tok": str(token)},
		})
	}
	if err != nil {
		return access.Request{}, false, err
	}
	if r.Status != access.StatusPending {
		return r, false, nil
	}
	r.TaskToken = token
	return r, true, nil
}

// GetRequestWithToken reads a request together with its task token
// (Request.TaskToken, "" if none is stored) in one consistent Query of the
// request's partition, SK BETWEEN META AND META#TOKEN: one read of the
// combined size.
func (s *Store) GetRequestWithToken(ctx context.Context, tenantID, id string) (access.Request, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.Request{}, err
	}
	if !validItemID(id) {
		return access.Request{}, notFound("request", id)
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :meta AND :tok"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(requestPK(tenantID, id)), ":meta": str(skMeta), ":tok": str(skTaskToken),
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return access.Request{}, fmt.Errorf("store: get request %s: %w", id, err)
	}
	var (
		r     access.Request
		found bool
		token string
	)
	for _, it := range out.Items {
		sk, _ := it[AttrSK].(*types.AttributeValueMemberS)
		if sk == nil {
			continue
		}
		switch sk.Value {
		case skMeta:
			if err := attributevalue.UnmarshalMap(it, &r); err != nil {
				return access.Request{}, fmt.Errorf("store: decode request %s: %w", id, err)
			}
			found = true
		case skTaskToken:
			token = tokenOf(it)
		}
	}
	if !found {
		return access.Request{}, notFound("request", id)
	}
	r.TaskToken = token
	return r, nil
}

// GetTaskToken reads a request's task token (consistent); "" if none is
// stored.
func (s *Store) GetTaskToken(ctx context.Context, tenantID, requestID string) (string, error) {
	if err := checkTenant(tenantID); err != nil {
		return "", err
	}
	if !validItemID(requestID) {
		return "", notFound("request", requestID)
	}
	item, err := s.getItem(ctx, requestPK(tenantID, requestID), skTaskToken)
	if err != nil {
		return "", fmt.Errorf("store: get task token of %s: %w", requestID, err)
	}
	return tokenOf(item), nil
}

func tokenOf(item map[string]types.AttributeValue) string {
	if v, ok := item[attrTaskToken].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func storePage(p access.Page) Page { return Page{Limit: p.Limit, Cursor: p.Cursor, Viewer: p.Viewer} }

// indexQuery is a newest-first query of one index partition, with an
// optional equality filter on status.
func indexQuery(index, partition, status string) *dynamodb.QueryInput {
	ia := indexKeyAttrs[index]
	in := &dynamodb.QueryInput{
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": ia[0]},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(partition)},
		ScanIndexForward:          aws.Bool(false),
	}
	if status != "" {
		in.FilterExpression = aws.String("#st = :st")
		in.ExpressionAttributeNames["#st"] = "status"
		in.ExpressionAttributeValues[":st"] = str(status)
	}
	return in
}

// ListRequests lists requests newest first: by requester (GSI2, status as a
// filter), by status (GSI1) or all (GSI3).
func (s *Store) ListRequests(ctx context.Context, tenantID string, q access.RequestQuery, p access.Page) ([]access.Request, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	var in *dynamodb.QueryInput
	var partition string
	switch {
	case q.RequesterID != "":
		partition = requesterPK(tenantID, q.RequesterID)
		in = indexQuery(IndexGSI2, partition, q.Status)
	case q.Status != "":
		partition = reqStatusPK(tenantID, q.Status)
		in = indexQuery(IndexGSI1, partition, "")
	default:
		partition = allRequestsPK(tenantID)
		in = indexQuery(IndexGSI3, partition, "")
	}
	items, next, err := s.queryPage(ctx, tenantID, in, partition, storePage(p))
	if err != nil {
		return nil, "", fmt.Errorf("store: list requests: %w", err)
	}
	out := make([]access.Request, 0, len(items))
	for _, it := range items {
		var r access.Request
		if err := attributevalue.UnmarshalMap(it, &r); err != nil {
			return nil, "", fmt.Errorf("store: decode request: %w", err)
		}
		out = append(out, r)
	}
	return out, next, nil
}

// ListGrants lists grants newest first: by grantee (GSI2, status as a
// filter), by status (GSI3) or all (GSI1).
func (s *Store) ListGrants(ctx context.Context, tenantID string, q access.GrantQuery, p access.Page) ([]access.Grant, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	var in *dynamodb.QueryInput
	var partition string
	switch {
	case q.GranteeID != "":
		partition = granteePK(tenantID, q.GranteeID)
		in = indexQuery(IndexGSI2, partition, q.Status)
	case q.Status != "":
		partition = grantStatusPK(tenantID, q.Status)
		in = indexQuery(IndexGSI3, partition, "")
	default:
		partition = allGrantsPK(tenantID)
		in = indexQuery(IndexGSI1, partition, "")
	}
	items, next, err := s.queryPage(ctx, tenantID, in, partition, storePage(p))
	if err != nil {
		return nil, "", fmt.Errorf("store: list grants: %w", err)
	}
	out := make([]access.Grant, 0, len(items))
	for _, it := range items {
		var g access.Grant
		if err := attributevalue.UnmarshalMap(it, &g); err != nil {
			return nil, "", fmt.Errorf("store: decode grant: %w", err)
		}
		out = append(out, g)
	}
	return out, next, nil
}

// GetMessage reads one message of a request by its id and creation time
// (the two parts of its sort key; a message.posted audit event carries
// both: its message_id and its own time, the message's). One GetItem,
// whatever the conversation's length; a miss wraps ErrNotFound.
func (s *Store) GetMessage(ctx context.Context, tenantID, requestID, messageID string, at time.Time) (access.Message, error) {
	if err := checkTenant(tenantID); err != nil {
		return access.Message{}, err
	}
	if !validItemID(requestID) || !validItemID(messageID) {
		return access.Message{}, notFound("message", messageID)
	}
	item, err := s.getItem(ctx, requestPK(tenantID, requestID), messageSK(at, messageID))
	if err != nil {
		return access.Message{}, fmt.Errorf("store: get message: %w", err)
	}
	if item == nil {
		return access.Message{}, notFound("message", messageID)
	}
	var m access.Message
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return access.Message{}, fmt.Errorf("store: decode message: %w", err)
	}
	return m, nil
}

// ListMessages lists a request's messages, oldest first (consistent).
func (s *Store) ListMessages(ctx context.Context, tenantID, requestID string, p access.Page) ([]access.Message, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	pk := requestPK(tenantID, requestID)
	in := &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :msg)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pk), ":msg": str(skMsgPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}
	items, next, err := s.queryPage(ctx, tenantID, in, pk, storePage(p))
	if err != nil {
		return nil, "", fmt.Errorf("store: list messages: %w", err)
	}
	out := make([]access.Message, 0, len(items))
	for _, it := range items {
		var m access.Message
		if err := attributevalue.UnmarshalMap(it, &m); err != nil {
			return nil, "", fmt.Errorf("store: decode message: %w", err)
		}
		out = append(out, m)
	}
	return out, next, nil
}

func parseSeqSK(sk string) (int64, bool) {
	if !strings.HasPrefix(sk, skChainSeqPrefix) {
		return 0, false
	}
	n, err := strconv.ParseInt(sk[len(skChainSeqPrefix):], 10, 64)
	return n, err == nil
}
