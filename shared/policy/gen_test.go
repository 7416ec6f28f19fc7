package policy

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cedar-policy/cedar-go/types"
)

// universe is a synthetic tenant directory used by the equivalence test and
// the benchmarks.
type universe struct {
	users    []Principal
	groups   []string
	accounts []string
	ous      []string
	acctOU   map[string]string
	permSets []string // ARNs
	psAcct   map[string]string
}

func newUniverse(rng *rand.Rand, nUsers, nGroups, nAccounts, nOUs, nPermSets int) *universe {
	u := &universe{acctOU: map[string]string{}, psAcct: map[string]string{}}
	for i := range nGroups {
		u.groups = append(u.groups, fmt.Sprintf("group-%d", i))
	}
	for i := range nOUs {
		u.ous = append(u.ous, fmt.Sprintf("ou-ab%02d-%08d", i%100, i))
	}
	for i := range nAccounts {
		a := fmt.Sprintf("%012d", 100000000000+i)
		u.accounts = append(u.accounts, a)
		u.acctOU[a] = u.ous[rng.IntN(len(u.ous))]
	}
	for i := range nPermSets {
		arn := fmt.Sprintf("arn:aws:sso:::permissionSet/ssoins-1/ps-%06d", i)
		u.permSets = append(u.permSets, arn)
		u.psAcct[arn] = u.accounts[rng.IntN(len(u.accounts))]
	}
	for i := range nUsers {
		p := Principal{ID: fmt.Sprintf("user-%d", i), Attributes: map[string]string{"email": fmt.Sprintf("user-%d@example.com", i)}}
		for range 1 + rng.IntN(3) {
			p.Groups = append(p.Groups, u.groups[rng.IntN(len(u.groups))])
		}
		u.users = append(u.users, p)
	}
	return u
}

// entityMap is the whole directory as Cedar entities (for the full-scan
// baseline benchmark).
func (u *universe) entityMap() types.EntityMap {
	m := types.EntityMap{}
	for _, g := range u.groups {
		uid := types.NewEntityUID(EntityGroup, types.String(g))
		m[uid] = types.Entity{UID: uid}
	}
	for _, o := range u.ous {
		uid := types.NewEntityUID(EntityAwsOrganizationalUnit, types.String(o))
		m[uid] = types.Entity{UID: uid}
	}
	for _, a := range u.accounts {
		uid := types.NewEntityUID(EntityAwsAccount, types.String(a))
		m[uid] = types.Entity{UID: uid, Parents: types.NewEntityUIDSet(types.NewEntityUID(EntityAwsOrganizationalUnit, types.String(u.acctOU[a])))}
	}
	for _, ps := range u.permSets {
		uid := types.NewEntityUID(EntityAwsPermissionSet, types.String(ps))
		m[uid] = types.Entity{UID: uid, Parents: types.NewEntityUIDSet(types.NewEntityUID(EntityAwsAccount, types.String(u.psAcct[ps])))}
	}
	for _, p := range u.users {
		ents := newRequestEntities(p, Resource{Type: EntityAwsOrganizationalUnit, ID: u.ous[0]})
		m[ents.list[0].UID] = ents.list[0]
	}
	return m
}

func (u *universe) request(rng *rand.Rand) Request {
	ps := u.permSets[rng.IntN(len(u.permSets))]
	acct := u.psAcct[ps]
	r := Request{
		Principal:       u.users[rng.IntN(len(u.users))],
		Action:          ActionRequestAccess,
		Resource:        Resource{Type: EntityAwsPermissionSet, ID: ps, AccountID: acct, OUID: u.acctOU[acct]},
		DurationSeconds: int64(900 * (1 + rng.IntN(16))),
		Justification:   []string{"JIRA-1 fix", "because", "INC-7 outage", ""}[rng.IntN(4)],
		Now:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(365*24)) * time.Hour),
	}
	return r
}

// benchRules is the benchmark mix: 1,000 rules, 10% forbids, a third each of
// principal == user / principal in group / resource in account scopes,
// conditions on duration, time and justification, 10 priority tiers.
func (u *universe) benchRules(rng *rand.Rand, n int) []Rule {
	conds := []string{
		"",
		"when { context.duration_seconds <= 3600 }",
		`when { context.now < datetime("2026-07-01T00:00:00Z") }`,
		`when { context.justification like "*JIRA-*" }`,
		`when { context.duration_seconds <= 14400 && context.justification != "" } unless { context.now.toTime() < duration("6h") }`,
	}
	rules := make([]Rule, 0, n)
	for i := range n {
		r := Rule{ID: fmt.Sprintf("rule-%04d", i), Priority: 10 * (1 + rng.IntN(10)), Enabled: true,
			ActionScopeType: ScopeEq, ActionIDs: []string{ActionRequestAccess}, Conditions: conds[rng.IntN(len(conds))]}
		if i%10 == 0 {
			r.Effect = EffectForbid
		} else {
			r.Effect = EffectPermit
			r.ApprovalMode = []string{ModeAuto, ModeRequire, ModeRequire, ModeBreakGlass}[rng.IntN(4)]
		}
		switch i % 3 {
		case 0:
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeEq, EntityUser, u.users[rng.IntN(len(u.users))].ID
		case 1:
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeIn, EntityGroup, u.groups[rng.IntN(len(u.groups))]
		default:
			r.PrincipalScopeType = ScopeAny
		}
		if i%3 == 2 || rng.IntN(2) == 0 {
			r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIn, EntityAwsAccount, u.accounts[rng.IntN(len(u.accounts))]
		} else {
			r.ResourceScopeType = ScopeAny
		}
		rules = append(rules, r)
	}
	return rules
}

// randomRules is the equivalence-test mix: every scope kind, action sets,
// break_glass permits, disabled rules, and conditions that error at run
// time (missing metadata attributes, type errors), on forbids too.
func (u *universe) randomRules(rng *rand.Rand, n int) []Rule {
	conds := []string{
		"", "", "",
		"when { context.duration_seconds <= 3600 }",
		`when { context.justification like "*JIRA-*" }`,
		`unless { context.now < datetime("2026-06-01T00:00:00Z") }`,
		"when { context.metadata.ticket == \"T-1\" }", // errors when metadata lacks ticket
		"when { context.metadata.sev > 2 }",           // errors when sev missing or a string
		`when { context has metadata && context.metadata has env && context.metadata.env == "prod" }`,
		`when { context.requester.groups.contains("group-1") }`,
		`when { context.requester.email like "*@example.com" }`,
		"when { context.break_glass }",
	}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	resTypes := []string{EntityAwsPermissionSet, EntityAwsAccount, EntityAwsS3Bucket}
	rules := make([]Rule, 0, n)
	for i := range n {
		r := Rule{ID: fmt.Sprintf("r%04d", i), Priority: rng.IntN(50) * 10, Enabled: rng.IntN(20) != 0, Conditions: pick(conds)}
		switch rng.IntN(4) {
		case 0:
			r.Effect = EffectForbid
		default:
			r.Effect = EffectPermit
			r.ApprovalMode = pick([]string{ModeAuto, ModeRequire, ModeBreakGlass})
			if r.ApprovalMode == ModeRequire {
				r.ApprovalTimeout = pick([]string{"", "30m", "2h", "1d"})
				r.ApprovalsRequired = rng.IntN(3)
			}
		}
		switch rng.IntN(3) {
		case 0:
			r.ActionScopeType, r.ActionIDs = ScopeEq, []string{ActionRequestAccess}
		case 1:
			r.ActionScopeType, r.ActionIDs = ScopeIn, []string{ActionRequestAccess, ActionExtendGrant}
		default:
			r.ActionScopeType = ScopeAny
		}
		switch rng.IntN(7) {
		case 0, 6:
			if rng.IntN(3) == 0 {
				r.PrincipalScopeType = ScopeAny
			} else {
				r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeEq, EntityUser, u.users[rng.IntN(len(u.users))].ID
			}
		case 1:
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeEq, EntityUser, u.users[rng.IntN(len(u.users))].ID
		case 2:
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeIn, EntityGroup, pick(u.groups)
		case 3:
			r.PrincipalScopeType, r.PrincipalEntityType = ScopeIs, pick([]string{EntityUser, EntityGroup})
		case 4:
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeIsIn, EntityUser, "Group::"+pick(u.groups)
		case 5:
			r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID = ScopeIn, EntityUser, u.users[rng.IntN(len(u.users))].ID
		}
		switch rng.IntN(7) {
		case 0, 1:
			if r.PrincipalScopeType == ScopeAny || r.PrincipalScopeType == ScopeIs || rng.IntN(2) == 0 {
				r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIn, EntityAwsAccount, pick(u.accounts)
			} else {
				r.ResourceScopeType = ScopeAny
			}
		case 2:
			r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIn, EntityAwsAccount, pick(u.accounts)
		case 3:
			r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIn, EntityAwsOrganizationalUnit, pick(u.ous)
		case 4:
			r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeEq, EntityAwsPermissionSet, pick(u.permSets)
		case 5:
			r.ResourceScopeType, r.ResourceEntityType = ScopeIs, pick(resTypes)
		default:
			r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID = ScopeIsIn, EntityAwsPermissionSet, "AwsAccount::"+pick(u.accounts)
		}
		rules = append(rules, r)
	}
	return rules
}

func (u *universe) randomRequest(rng *rand.Rand) Request {
	r := u.request(rng)
	switch rng.IntN(5) {
	case 0:
		r.Resource = Resource{Type: EntityAwsAccount, ID: r.Resource.AccountID, OUID: r.Resource.OUID}
	case 1:
		r.Resource = Resource{Type: EntityAwsS3Bucket, ID: "bucket-1", AccountID: r.Resource.AccountID}
	case 2:
		// Outside every account: rules that name accounts (== / is
		// AwsAccount are widened to everything in an account) do not apply.
		r.Resource = Resource{Type: EntityAwsOrganizationalUnit, ID: r.Resource.OUID}
	}
	r.Action = []string{ActionRequestAccess, ActionRequestAccess, ActionExtendGrant, ActionApproveRequest}[rng.IntN(4)]
	r.BreakGlass = rng.IntN(3) == 0
	switch rng.IntN(4) {
	case 0:
		r.Metadata = map[string]any{"ticket": "T-1", "sev": float64(3), "env": "prod"}
	case 1:
		r.Metadata = map[string]any{"sev": "high"}
	}
	return r
}
