package store

// Table design. Everything the application keeps lives in ONE DynamoDB table.
// Every partition key — of the table and of every GSI — begins with the
// tenant ("T#<tenant>"), so no query can cross tenants by construction and IAM
// `dynamodb:LeadingKeys` can pin a principal to "T#<tenant>*".
//
// Base table (all keys are strings):
//
//	entity            PK                          SK
//	tenant            T#<tenant>                  TENANT            (holds rule_set_version)
//	policy rule       T#<tenant>#RULES            RULE#<rule id>
//	API key (by hash) T#<tenant>#KEY#<sha256 hex> KEY               (authorizer: one GetItem)
//	API key (by id)   T#<tenant>#KEYS             KEY#<key id>      (revoke by id, listing)
//
//	request           T#<tenant>#REQ#<id>         META              (requests.go)
//	task token        T#<tenant>#REQ#<id>         META#TOKEN        (Step Functions callback token; ttl)
//	message           T#<tenant>#REQ#<id>         MSG#<time>#<msg id>  (conversation, oldest first)
//	grant             T#<tenant>#GRANT#<id>       META              (grant id derived from the request id)
//	duplicate guard   T#<tenant>#LOCK#<sha256>    LOCK              (requester+resource+permission set; live request/grant)
//	idempotency       T#<tenant>#IDEM#<sha256>    IDEM              (requester+Idempotency-Key → request id, input hash; ttl)
//	audit event       T#<tenant>#AUDIT            EVT#<event id>    (one item per event, no sequence; audit.go)
//	chain entry       T#<tenant>#CHAIN            SEQ#<seq, 20 digits> (hash chain over the events: seq, event id and hash, links, MAC; chain.go)
//	chain reference   T#<tenant>#CHAIN            REF#<event id>    (which seq chained the event: the extender's idempotence)
//	anchor due        T#<tenant>#CHAIN            ANCHOR            (head_seq; in GSI5 DUE#anchor while the head is unanchored; chain.go)
//	assignment        T#<tenant>#ASSIGN           A#<sha256>        (provider bookkeeping: account+permission set+principal, holder grant ids; assignments.go)
//	AWS settings      T#<tenant>                  SETTINGS#AWS      (Identity Center instance, role to assume; settings.go)
//	drift digest      T#<tenant>                  DRIFT             (what the reconciler reported last; settings.go)
//	notif. channel    T#<tenant>#CHANNELS         CH#<channel id>   (Slack / webhook / email channel; channels.go)
//	message count     T#<tenant>#REQ#<id>         COUNT#MSG         (posted messages of the request, capped; limits.go)
//	rate window       T#<tenant>#RATE#<sha256>    <kind>#<window start, unix seconds, 12 digits>
//	                                                                (a principal's writes of a kind in one fixed window; ttl; limits.go)
//
// The task token (up to ~1 KB) has its own item so that the request item
// stays small: every state change rewrites the whole request item in a
// transaction (2 WCU per KB). A decision reads both with one consistent
// Query, SK BETWEEN "META" AND "META#TOKEN" (one read of the combined size;
// messages, "MSG#…", sort after the range). The token item is not deleted
// when the request leaves pending: it expires through the table's TTL
// ("ttl"), and only a pending request's token is ever used.
//
// <time> in sort keys is fixed-width UTC "2006-01-02T15:04:05.000000000Z"
// (sortTime), so keys sort chronologically (RFC3339Nano trims zeros and
// would not).
//
// Global secondary indexes, projection ALL, string keys. Every index
// partition key starts with the tenant. Each index is overloaded by entity:
//
//	GSI1 (GSI1PK/GSI1SK)
//	      requests by status, newest first:
//	        GSI1PK = T#<tenant>#REQSTATUS#<status>   GSI1SK = <request id>
//	      all grants, newest first:
//	        GSI1PK = T#<tenant>#GRANTS               GSI1SK = <grant id>
//	GSI2 (GSI2PK/GSI2SK)
//	      requests by requester, newest first (status is then a filter):
//	        GSI2PK = T#<tenant>#REQUESTER#<principal id>   GSI2SK = <request id>
//	      grants by grantee, newest first:
//	        GSI2PK = T#<tenant>#GRANTEE#<principal id>     GSI2SK = <grant id>
//	GSI3 (GSI3PK/GSI3SK)
//	      all requests, newest first:
//	        GSI3PK = T#<tenant>#REQS                 GSI3SK = <request id>
//	      grants by status, newest first:
//	        GSI3PK = T#<tenant>#GRANTSTATUS#<status> GSI3SK = <grant id>
//	GSI4 (GSI4PK/GSI4SK), sparse: only tenants' AWS settings items carry it
//	      tenants with provisioning configured (the drift reconciler Scans it):
//	        GSI4PK = T#<tenant>#SETTINGS             GSI4SK = AWS
//	      A Scan of GSI4 reads one small item per configured tenant, never
//	      the tenants' data; no query crosses tenants.
//	GSI5 (GSI5PK/GSI5SK), sparse, keys only: what can become overdue (sweep.go)
//	        GSI5PK = DUE#<kind>    GSI5SK = <due time, sortTime>#<tenant>#<id>
//	      kind (access.GrantSweepDue, RequestSweepDue, and DueAnchor): approval (pending
//	      requests, their approval deadline), provisioning (provisioning
//	      grants, when last written), end (active grants, expires_at),
//	      revoke_retry (revoke_failed grants, their next retry), anchor
//	      (a tenant's unanchored audit chain head, AUDIT_ANCHOR_INTERVAL
//	      after the append; read by extend-audit-chain's schedule). An item
//	      leaves the index when it leaves those states. The sweeper reads
//	      GSI5PK = DUE#<kind> AND GSI5SK <= <now - grace>: only overdue
//	      items, whatever the table's size.
//	      The one exception to "tenant first": the sweeper must see every
//	      tenant's overdue items, and a per-tenant partition would make it
//	      list all tenants on every run (cost proportional to tenants, not
//	      to overdue work). The index is keys only — no tenant data beyond
//	      the keys — and only the sweeper (sweep-overdue) and the chain
//	      extender's schedule (extend-audit-chain, DUE#anchor) Query it: the
//	      API functions' dynamodb:LeadingKeys T#* pins their own reads,
//	      and writing an item's GSI5 attributes goes through its
//	      tenant-first base key. Shard DUE#<kind> by a suffix if overdue
//	      writes ever approach a partition's 1000 WCU/s.
//
// Index sort keys are the item ids, which begin with their creation time
// in milliseconds (access ids: prefix + 48-bit time + 80 random bits, in an
// order-preserving base32), so they sort newest first without a timestamp
// in the key (smaller items: the request item's size drives write cost).
// Queries use ScanIndexForward=false. The "all requests"/"all grants"
// partitions take every write of a tenant's requests/grants: fine for the
// request rates of an access broker (a GSI partition takes 1000 WCU/s);
// shard them by a suffix if a tenant ever needs more.
//
// Items are sparse in a GSI: an item only appears there if it carries both of
// that index's key attributes.
//
// Policy rules are stored decomposed: each policy.Rule field is its own
// attribute, named by the field's json tag (attributevalue with TagKey
// "json"), next to the bookkeeping attributes tenant_id, created_at,
// updated_at and revision. That keeps them readable in the console and
// filterable, and new Rule fields are stored without touching this package.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Key attribute and index names of the table. template.yaml must declare
// exactly these (see TableSchema).
const (
	AttrPK     = "PK"
	AttrSK     = "SK"
	AttrGSI1PK = "GSI1PK"
	AttrGSI1SK = "GSI1SK"
	AttrGSI2PK = "GSI2PK"
	AttrGSI2SK = "GSI2SK"
	AttrGSI3PK = "GSI3PK"
	AttrGSI3SK = "GSI3SK"
	AttrGSI4PK = "GSI4PK"
	AttrGSI4SK = "GSI4SK"
	AttrGSI5PK = "GSI5PK"
	AttrGSI5SK = "GSI5SK"

	IndexGSI1 = "GSI1"
	IndexGSI2 = "GSI2"
	IndexGSI3 = "GSI3"
	IndexGSI4 = "GSI4"
	IndexGSI5 = "GSI5"
)

// Non-key attributes with a fixed meaning across entities.
const (
	AttrEntityType     = "entity_type" // TENANT, RULE, APIKEY, APIKEY_ID
	AttrTenantID       = "tenant_id"
	AttrRuleSetVersion = "rule_set_version"
	AttrRevision       = "revision"
	AttrCreatedAt      = "created_at"
	AttrUpdatedAt      = "updated_at"
	AttrRevokedAt      = "revoked_at"
	AttrLastUsedAt     = "last_used_at"
	// AttrTTL is the table's TTL attribute (epoch seconds): idempotency
	// records and task-token items expire through it. template.yaml's
	// TimeToLiveSpecification must name it.
	AttrTTL = "ttl"
)

// Entity type values of AttrEntityType.
const (
	entityTenant    = "TENANT"
	entityRule      = "RULE"
	entityAPIKey    = "APIKEY"
	entityAPIKeyID  = "APIKEY_ID"
	skTenant        = "TENANT"
	skKey           = "KEY"
	skRulePrefix    = "RULE#"
	skKeyIDPrefix   = "KEY#"
	maxSortKeyBytes = 1024 // DynamoDB's sort key limit
)

// ValidTenantID reports whether id is an acceptable tenant id:
// ^[a-z0-9][a-z0-9-]{1,62}$ (2..63 characters, so never a '#').
func ValidTenantID(id string) bool {
	if len(id) < 2 || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return false
		}
	}
	return true
}

func checkTenant(id string) error {
	if !ValidTenantID(id) {
		return ErrInvalidTenant
	}
	return nil
}

// tenantPrefix is the partition-key prefix of everything the tenant owns.
func tenantPrefix(tenant string) string { return "T#" + tenant }

// partitionOwnedBy reports whether a partition key value belongs to tenant:
// exactly "T#<tenant>" or starting with "T#<tenant>#" (tenant ids cannot
// contain '#', so the boundary is unambiguous).
func partitionOwnedBy(tenant, pk string) bool {
	p := tenantPrefix(tenant)
	return pk == p || strings.HasPrefix(pk, p+"#")
}

func tenantPK(tenant string) string           { return tenantPrefix(tenant) }
func rulesPK(tenant string) string            { return tenantPrefix(tenant) + "#RULES" }
func ruleSK(id string) string                 { return skRulePrefix + id }
func apiKeyHashPK(tenant, hash string) string { return tenantPrefix(tenant) + "#KEY#" + hash }
func apiKeysPK(tenant string) string          { return tenantPrefix(tenant) + "#KEYS" }
func apiKeyIDSK(id string) string             { return skKeyIDPrefix + id }

// Keys of requests, grants, messages, locks, idempotency records, audit
// events and assignments (see the table above).
const (
	skMeta           = "META"
	skTaskToken      = "META#TOKEN" // must sort right after skMeta and before skMsgPrefix (GetRequestWithToken's range)
	skLock           = "LOCK"
	skIdem           = "IDEM"
	skAssignPrefix   = "A#"
	skSettingsAWS    = "SETTINGS#AWS"
	skDrift          = "DRIFT"
	entityDrift      = "DRIFT_DIGEST"
	skChanPrefix     = "CH#"
	entitySettings   = "SETTINGS"
	entityChannel    = "CHANNEL"
	skMsgPrefix      = "MSG#"
	skMsgCount       = "COUNT#MSG" // sorts before skMeta: outside GetRequestWithToken's and ListMessages' ranges
	entityMsgCount   = "MESSAGE_COUNT"
	entityRate       = "RATE_WINDOW"
	skEventPrefix    = "EVT#"
	skChainSeqPrefix = "SEQ#"
	skChainRefPrefix = "REF#"
	entityChain      = "CHAIN_ENTRY"
	entityChainRef   = "CHAIN_REF"
	entityRequest    = "REQUEST"
	entityToken      = "TASK_TOKEN"
	entityGrant      = "GRANT"
	entityMessage    = "MESSAGE"
	entityLock       = "LOCK"
	entityIdem       = "IDEMPOTENCY"
	entityAudit      = "AUDIT"
	entityAssign     = "ASSIGNMENT"
	sortTimeLayout   = "2006-01-02T15:04:05.000000000Z"
)

// sortTime is the fixed-width UTC time used inside sort keys.
func sortTime(t time.Time) string { return t.UTC().Format(sortTimeLayout) }

func requestPK(tenant, id string) string { return tenantPrefix(tenant) + "#REQ#" + id }
func grantPK(tenant, id string) string   { return tenantPrefix(tenant) + "#GRANT#" + id }
func messageSK(at time.Time, id string) string {
	return skMsgPrefix + sortTime(at) + "#" + id
}
func lockPK(tenant, key string) string     { return tenantPrefix(tenant) + "#LOCK#" + key }
func idemPK(tenant, key string) string     { return tenantPrefix(tenant) + "#IDEM#" + key }
func auditPK(tenant string) string         { return tenantPrefix(tenant) + "#AUDIT" }
func auditSK(id string) string             { return skEventPrefix + id }
func chainPK(tenant string) string         { return tenantPrefix(tenant) + "#CHAIN" }
func chainSeqSK(seq int64) string          { return fmt.Sprintf("%s%020d", skChainSeqPrefix, seq) }
func chainRefSK(id string) string          { return skChainRefPrefix + id }
func assignPK(tenant string) string        { return tenantPrefix(tenant) + "#ASSIGN" }
func assignSK(key string) string           { return skAssignPrefix + key }
func settingsIndexPK(tenant string) string { return tenantPrefix(tenant) + "#SETTINGS" }
func channelsPK(tenant string) string      { return tenantPrefix(tenant) + "#CHANNELS" }
func channelSK(id string) string           { return skChanPrefix + id }

// ratePK is a principal's rate-limit partition: the principal id is
// hashed (ids are caller-controlled text of any length).
func ratePK(tenant, principal string) string {
	sum := sha256.Sum256([]byte(principal))
	return tenantPrefix(tenant) + "#RATE#" + hex.EncodeToString(sum[:])
}
func rateSK(kind string, windowStart time.Time) string {
	return fmt.Sprintf("%s#%012d", kind, windowStart.Unix())
}

func reqStatusPK(tenant, status string) string { return tenantPrefix(tenant) + "#REQSTATUS#" + status }
func requesterPK(tenant, id string) string     { return tenantPrefix(tenant) + "#REQUESTER#" + id }
func allRequestsPK(tenant string) string       { return tenantPrefix(tenant) + "#REQS" }
func allGrantsPK(tenant string) string         { return tenantPrefix(tenant) + "#GRANTS" }
func granteePK(tenant, id string) string       { return tenantPrefix(tenant) + "#GRANTEE#" + id }

// sweepPK is the sweeper index's partition of a kind (the one partition
// key that does not begin with the tenant: see GSI5 above).
func sweepPK(kind string) string { return "DUE#" + kind }
func sweepSK(at time.Time, tenant, id string) string {
	return sortTime(at) + "#" + tenant + "#" + id
}

func grantStatusPK(tenant, status string) string {
	return tenantPrefix(tenant) + "#GRANTSTATUS#" + status
}

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

// indexKeyAttrs maps an index name ("" = base table) to its partition and
// sort key attribute names.
var indexKeyAttrs = map[string][2]string{
	"":        {AttrPK, AttrSK},
	IndexGSI1: {AttrGSI1PK, AttrGSI1SK},
	IndexGSI2: {AttrGSI2PK, AttrGSI2SK},
	IndexGSI3: {AttrGSI3PK, AttrGSI3SK},
	IndexGSI4: {AttrGSI4PK, AttrGSI4SK},
	IndexGSI5: {AttrGSI5PK, AttrGSI5SK},
}

// TableSchema is the CreateTable input of the application table: the one
// definition of the schema, used by CreateTable, by tests and to check
// template.yaml against.
func TableSchema(table string) *dynamodb.CreateTableInput {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	keys := func(pk, sk string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(pk), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(sk), KeyType: types.KeyTypeRange},
		}
	}
	gsi := func(name string) types.GlobalSecondaryIndex {
		k := indexKeyAttrs[name]
		g := types.GlobalSecondaryIndex{
			IndexName:  aws.String(name),
			KeySchema:  keys(k[0], k[1]),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}
		if name == IndexGSI4 || name == IndexGSI5 { // only the keys are read
			g.Projection.ProjectionType = types.ProjectionTypeKeysOnly
		}
		return g
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(AttrPK), str(AttrSK),
			str(AttrGSI1PK), str(AttrGSI1SK),
			str(AttrGSI2PK), str(AttrGSI2SK),
			str(AttrGSI3PK), str(AttrGSI3SK),
			str(AttrGSI4PK), str(AttrGSI4SK),
			str(AttrGSI5PK), str(AttrGSI5SK),
		},
		KeySchema: keys(AttrPK, AttrSK),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			gsi(IndexGSI1), gsi(IndexGSI2), gsi(IndexGSI3), gsi(IndexGSI4), gsi(IndexGSI5),
		},
	}
}

// CreateTable creates the application table (TableSchema, PAY_PER_REQUEST).
// It does not wait for the table to become ACTIVE; on real DynamoDB use
// dynamodb.NewTableExistsWaiter. An existing table is an error
// (*types.ResourceInUseException, wrapped).
func CreateTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if _, err := client.CreateTable(ctx, TableSchema(table)); err != nil {
		return fmt.Errorf("store: create table %s: %w", table, err)
	}
	return nil
}
