package policy

import (
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/cedar-policy/cedar-go/types"
)

// Cedar entity types of the model.
const (
	EntityUser                  = "User"
	EntityGroup                 = "Group"
	EntityAction                = "Action"
	EntityAwsAccount            = "AwsAccount"
	EntityAwsPermissionSet      = "AwsPermissionSet"
	EntityAwsOrganizationalUnit = "AwsOrganizationalUnit"
	EntityAwsS3Bucket           = "AwsS3Bucket"
	EntityAwsRdsInstance        = "AwsRdsInstance"
	EntityAwsEc2Instance        = "AwsEc2Instance"
)

var resourceTypes = map[string]string{
	"aws_account":             EntityAwsAccount,
	"aws_permission_set":      EntityAwsPermissionSet,
	"aws_organizational_unit": EntityAwsOrganizationalUnit,
	"aws_s3_bucket":           EntityAwsS3Bucket,
	"aws_rds_instance":        EntityAwsRdsInstance,
	"aws_ec2_instance":        EntityAwsEc2Instance,
}

var entityToResourceType = func() map[string]string {
	m := make(map[string]string, len(resourceTypes))
	for k, v := range resourceTypes {
		m[v] = k
	}
	return m
}()

// knownActions are the action ids a rule may name.
var knownActions = map[string]bool{
	ActionRequestAccess:  true,
	ActionApproveRequest: true,
	ActionExtendGrant:    true,
}

// EntityTypeForResourceType maps an API resource type (aws_account, ...) to
// its Cedar entity type (AwsAccount, ...).
func EntityTypeForResourceType(apiType string) (string, bool) {
	t, ok := resourceTypes[apiType]
	return t, ok
}

// ResourceTypeForEntityType is the inverse of EntityTypeForResourceType.
func ResourceTypeForEntityType(entityType string) (string, bool) {
	t, ok := entityToResourceType[entityType]
	return t, ok
}

func isPrincipalType(t string) bool { return t == EntityUser || t == EntityGroup }
func isResourceType(t string) bool  { _, ok := entityToResourceType[t]; return ok }

// requestEntities is the entity store of one request, built from the
// request alone: the principal User (parents: its Groups), its Group
// entities, the resource (parent: its account, or its OU when no account),
// the account (parent: its OU) and the OU. It is a tiny EntityGetter with no
// map: lookups scan a handful of entries.
type requestEntities struct {
	list   []types.Entity
	groups []string // Group entities, materialized on lookup
}

func (r *requestEntities) Get(uid types.EntityUID) (types.Entity, bool) {
	for i := range r.list {
		if r.list[i].UID == uid {
			return r.list[i], true
		}
	}
	if uid.Type == EntityGroup && slices.Contains(r.groups, string(uid.ID)) {
		return types.Entity{UID: uid}, true
	}
	return types.Entity{}, false
}

// ancestors returns uid and all its transitive parents in r (reflexive,
// transitive closure: exactly the entities e for which Cedar's `uid in e` is
// true under this store).
func (r *requestEntities) ancestors(uid types.EntityUID, dst []types.EntityUID) []types.EntityUID {
	start := len(dst)
	dst = append(dst, uid)
	for i := start; i < len(dst); i++ {
		e, ok := r.Get(dst[i])
		if !ok {
			continue
		}
		for p := range e.Parents.All() {
			if !slices.Contains(dst[start:], p) {
				dst = append(dst, p)
			}
		}
	}
	return dst
}

func newRequestEntities(p Principal, res Resource) *requestEntities {
	r := &requestEntities{list: make([]types.Entity, 0, 4), groups: p.Groups}
	user := types.Entity{UID: types.NewEntityUID(EntityUser, types.String(p.ID))}
	if len(p.Groups) > 0 {
		parents := make([]types.EntityUID, len(p.Groups))
		for i, g := range p.Groups {
			parents[i] = types.NewEntityUID(EntityGroup, types.String(g))
		}
		user.Parents = types.NewEntityUIDSet(parents...)
	}
	r.list = append(r.list, user)

	resUID := types.NewEntityUID(types.EntityType(res.Type), types.String(res.ID))
	acct := types.NewEntityUID(EntityAwsAccount, types.String(res.AccountID))
	ou := types.NewEntityUID(EntityAwsOrganizationalUnit, types.String(res.OUID))
	resEnt := types.Entity{UID: resUID}
	switch {
	case res.Type == EntityAwsOrganizationalUnit:
		// OUs have no known parents (nested OUs are not modelled).
	case res.Type == EntityAwsAccount:
		if res.OUID != "" {
			resEnt.Parents = types.NewEntityUIDSet(ou)
		}
	case res.AccountID != "":
		resEnt.Parents = types.NewEntityUIDSet(acct)
		ae := types.Entity{UID: acct}
		if res.OUID != "" {
			ae.Parents = types.NewEntityUIDSet(ou)
		}
		if acct != resUID {
			r.list = append(r.list, ae)
		}
	case res.OUID != "":
		resEnt.Parents = types.NewEntityUIDSet(ou)
	}
	if resUID != user.UID {
		r.list = append(r.list, resEnt)
	}
	if res.OUID != "" && ou != resUID {
		r.list = append(r.list, types.Entity{UID: ou})
	}
	return r
}

// buildContext is the Cedar context of a request:
//
//	duration_seconds Long, total_duration_seconds Long (TotalDurationSeconds,
//	else duration_seconds), justification String, break_glass Bool,
//	now datetime, mode String ("" unless set, e.g. for approve_request),
//	requester { id String, groups Set<String>, entity User, <attributes> },
//	metadata Record (converted by metadataValue),
//	account AwsAccount (the account the resource is, or is in; absent
//	when none — see account.go).
func buildContext(req Request, now time.Time) types.Record {
	requester := &req.Principal
	if req.Requester != nil {
		requester = req.Requester
	}
	total := req.TotalDurationSeconds
	if total == 0 {
		total = req.DurationSeconds
	}
	m := types.RecordMap{
		"duration_seconds":       types.Long(req.DurationSeconds),
		"total_duration_seconds": types.Long(total),
		"justification":          types.String(req.Justification),
		"break_glass":            types.Boolean(req.BreakGlass),
		"now":                    types.NewDatetime(now),
		"mode":                   types.String(req.Mode),
		"requester":              principalRecord(requester),
		"metadata":               metadataRecord(req.Metadata, 0),
	}
	if a := accountOf(req.Resource); a != "" {
		m[contextAccount] = types.NewEntityUID(EntityAwsAccount, types.String(a))
	}
	return types.NewRecord(m)
}

func principalRecord(p *Principal) types.Record {
	m := make(types.RecordMap, len(p.Attributes)+3)
	for k, v := range p.Attributes {
		m[types.String(k)] = types.String(v)
	}
	groups := make([]types.Value, len(p.Groups))
	for i, g := range p.Groups {
		groups[i] = types.String(g)
	}
	m["id"] = types.String(p.ID)
	m["groups"] = types.NewSet(groups...)
	m["entity"] = types.NewEntityUID(EntityUser, types.String(p.ID))
	return types.NewRecord(m)
}

const maxMetadataDepth = 16

func metadataRecord(md map[string]any, depth int) types.Record {
	if len(md) == 0 {
		return types.Record{}
	}
	m := make(types.RecordMap, len(md))
	for k, v := range md {
		if cv, ok := metadataValue(v, depth+1); ok {
			m[types.String(k)] = cv
		}
	}
	return types.NewRecord(m)
}

// metadataValue converts a JSON-ish Go value to a Cedar value: string →
// String; bool → Bool; integers and integral float64/json.Number within the
// int64 range → Long; other numbers → decimal (4 fractional digits,
// truncated) when in decimal range, else dropped; map[string]any → Record;
// []any / []string → Set; nil and anything else → dropped (the key is
// absent, so `context.metadata has k` is false).
func metadataValue(v any, depth int) (types.Value, bool) {
	if depth > maxMetadataDepth {
		return nil, false
	}
	switch x := v.(type) {
	case string:
		return types.String(x), true
	case bool:
		return types.Boolean(x), true
	case int:
		return types.Long(x), true
	case int32:
		return types.Long(x), true
	case int64:
		return types.Long(x), true
	case float64:
		return floatValue(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return types.Long(i), true
		}
		f, err := x.Float64()
		if err != nil {
			return nil, false
		}
		return floatValue(f)
	case map[string]any:
		return metadataRecord(x, depth), true
	case []string:
		vals := make([]types.Value, len(x))
		for i, s := range x {
			vals[i] = types.String(s)
		}
		return types.NewSet(vals...), true
	case []any:
		vals := make([]types.Value, 0, len(x))
		for _, e := range x {
			if cv, ok := metadataValue(e, depth+1); ok {
				vals = append(vals, cv)
			}
		}
		return types.NewSet(vals...), true
	}
	return nil, false
}

func floatValue(f float64) (types.Value, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	if f == math.Trunc(f) && f >= -9.2e18 && f <= 9.2e18 {
		return types.Long(int64(f)), true
	}
	d, err := types.NewDecimalFromFloat(f)
	if err != nil {
		return nil, false
	}
	return d, true
}
