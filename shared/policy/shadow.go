package policy

import "slices"

// Shadowed finds the forbids that may never get to decide: an enabled
// forbid F is shadowed by an enabled permit P when P's priority is higher
// than F's (P's tier is reached first, and the first tier that decides is
// final) and their scopes may overlap, so a request both match is decided
// by P and F never denies it. The result maps each shadowed forbid's id to
// the ids of the permits shadowing it, highest priority first (then by id);
// forbids not shadowed are absent.
//
// "May overlap" is a conservative approximation over the scopes only:
//   - conditions are ignored (either rule's conditions may never hold);
//   - principal and resource: `any` overlaps everything; `in E` covers E
//     and whatever the request places inside it, which is a fact of the
//     request (group membership, account and OU containment), so it
//     overlaps any scope whose entity type E's type may contain (Group:
//     User; AwsAccount: the resource types; AwsOrganizationalUnit: those,
//     accounts and OUs; AwsPermissionSet: anything; User, AwsS3Bucket,
//     AwsRdsInstance, AwsEc2Instance: nothing, so `in` is `==`), and two
//     `in` scopes overlap unless they name two accounts (a resource
//     belongs to one account); otherwise (eq, is, is_in) both scopes pin
//     an entity type, which must be the same, and two eq scopes must name
//     the same entity;
//   - action: `any` overlaps everything, otherwise the action sets must
//     share an action.
//
// So a reported forbid may in fact be safe (the permit's conditions exclude
// what the forbid covers), but a forbid that is not reported is never
// pre-empted by a higher-priority permit.
func Shadowed(rules []Rule) map[string][]string {
	var permits []Rule
	for _, r := range rules {
		if r.Enabled && r.Effect == EffectPermit {
			permits = append(permits, r)
		}
	}
	sortRules(permits)
	out := map[string][]string{}
	for _, f := range rules {
		if !f.Enabled || f.Effect != EffectForbid {
			continue
		}
		for _, p := range permits {
			if p.Priority <= f.Priority {
				break // sorted by priority, highest first
			}
			if MayOverlap(p, f) {
				out[f.ID] = append(out[f.ID], p.ID)
			}
		}
	}
	return out
}

// MayOverlap reports whether some request may match the scopes of both a
// and b (see Shadowed for the approximation).
func MayOverlap(a, b Rule) bool {
	return scopesMayOverlap(a.PrincipalScopeType, a.PrincipalEntityType, a.PrincipalEntityID,
		b.PrincipalScopeType, b.PrincipalEntityType, b.PrincipalEntityID) &&
		actionsMayOverlap(a, b) &&
		scopesMayOverlap(a.ResourceScopeType, a.ResourceEntityType, a.ResourceEntityID,
			b.ResourceScopeType, b.ResourceEntityType, b.ResourceEntityID)
}

func scopesMayOverlap(ak, at, aid, bk, bt, bid string) bool {
	if ak == ScopeIn && !mayContainAny(at) {
		ak = ScopeEq
	}
	if bk == ScopeIn && !mayContainAny(bt) {
		bk = ScopeEq
	}
	switch {
	case ak == ScopeAny || bk == ScopeAny:
		return true
	case ak == ScopeIn && bk == ScopeIn:
		// A resource belongs to one account; anything else may be in both.
		return at != EntityAwsAccount || bt != EntityAwsAccount || aid == bid
	case ak == ScopeIn:
		return inMayMatch(at, aid, bk, bt, bid)
	case bk == ScopeIn:
		return inMayMatch(bt, bid, ak, at, aid)
	case at != bt: // eq, is and is_in each pin the entity's type
		return false
	case ak == ScopeEq && bk == ScopeEq:
		return aid == bid
	}
	return true
}

// inMayMatch: may `in typ::id` match an entity that the scope (kind, t,
// tid) matches? kind is eq, is or is_in, which pin the entity type t.
func inMayMatch(typ, id, kind, t, tid string) bool {
	if t == typ && kind == ScopeEq && tid == id {
		return true // the container itself
	}
	return mayContain(typ, t)
}

// mayContain: may an entity of type container have an ancestor-descendant
// link to one of type member (see Shadowed)?
func mayContain(container, member string) bool {
	switch container {
	case EntityGroup:
		return member == EntityUser
	case EntityAwsAccount:
		return isResourceType(member) && member != EntityAwsAccount && member != EntityAwsOrganizationalUnit
	case EntityAwsOrganizationalUnit:
		return isResourceType(member)
	}
	return mayContainAny(container)
}

// mayContainAny: false for the types nothing is ever placed in.
func mayContainAny(typ string) bool {
	switch typ {
	case EntityUser, EntityAwsS3Bucket, EntityAwsRdsInstance, EntityAwsEc2Instance:
		return false
	}
	return true
}

func actionsMayOverlap(a, b Rule) bool {
	if a.ActionScopeType == ScopeAny || b.ActionScopeType == ScopeAny {
		return true
	}
	return slices.ContainsFunc(a.ActionIDs, func(id string) bool { return slices.Contains(b.ActionIDs, id) })
}
