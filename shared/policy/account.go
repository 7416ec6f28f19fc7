package policy

import (
	"fmt"

	"github.com/cedar-policy/cedar-go/types"
	ast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// The account rule of the entity model.
//
// A request for a permission set on an account is evaluated with the
// permission set as the Cedar resource (AwsPermissionSet::"<arn>", parent
// AwsAccount::"<account>"), so that rules written against a permission set
// keep working. A rule written against an account must still govern every
// request for that account, with or without a permission set — otherwise a
// forbid on an account is sidestepped by naming a permission set in the
// request. So when a rule is compiled (never in its stored fields, its Cedar
// text or the export), a resource scope that names an account is evaluated
// as "the account or anything inside it":
//
//	resource == AwsAccount::"X"        →  resource in AwsAccount::"X"
//	resource is AwsAccount             →  (any resource) when { context has account }
//	resource is AwsAccount in E        →  resource in E   when { context has account }
//	                                       (E an account or an OU)
//
// `resource in AwsAccount::"X"` already means this. context.account is the
// account a request targets (the account itself, or the account of a
// permission set, bucket or instance in it); it is absent for requests that
// are not inside an account (an OU as a whole). The widened rule therefore
// applies to the bare account, to a permission set on it and to resources
// in it; nothing else changes.

// contextAccount is the context key holding the request's account.
const contextAccount = "account"

// accountOf is the account a resource is in: the account itself, or the
// account it was placed in ("" when none).
func accountOf(r Resource) string {
	if r.Type == EntityAwsAccount {
		return r.ID
	}
	return r.AccountID
}

// widenAccountScope returns p with an account-naming resource scope
// widened as described above (p itself when nothing changes).
func widenAccountScope(p *ast.Policy) *ast.Policy {
	var scope ast.IsResourceScopeNode
	guard := false
	switch s := p.Resource.(type) {
	case ast.ScopeTypeEq:
		if s.Entity.Type != EntityAwsAccount {
			return p
		}
		scope = ast.ScopeTypeIn{Entity: s.Entity}
	case ast.ScopeTypeIs:
		if s.Type != EntityAwsAccount {
			return p
		}
		scope, guard = ast.ScopeTypeAll{}, true
	case ast.ScopeTypeIsIn:
		if s.Type != EntityAwsAccount || (s.Entity.Type != EntityAwsAccount && s.Entity.Type != EntityAwsOrganizationalUnit) {
			return p
		}
		scope, guard = ast.ScopeTypeIn{Entity: s.Entity}, true
	default:
		return p
	}
	q := *p
	q.Resource = scope
	if guard {
		has := ast.Context().Has(types.String(contextAccount)).AsIsNode()
		q.Conditions = append([]ast.ConditionType{{Condition: ast.ConditionWhen, Body: has}}, p.Conditions...)
	}
	return &q
}

// AccountScopeNote says, for a rule whose resource scope names an account
// in a way that is widened at evaluation (== or is), what it governs; ""
// for every other rule. The API shows it beside such rules so that no
// stored rule changes meaning silently.
func AccountScopeNote(r Rule) string {
	switch {
	case r.ResourceEntityType != EntityAwsAccount:
		return ""
	case r.ResourceScopeType == ScopeEq:
		return fmt.Sprintf("governs every request for account %s: the account itself, any permission set on it and any resource in it (evaluated as `resource in AwsAccount::%q`)", r.ResourceEntityID, r.ResourceEntityID)
	case r.ResourceScopeType == ScopeIs, r.ResourceScopeType == ScopeIsIn:
		return "governs every request inside a matching account: the account itself, any permission set on it and any resource in it"
	}
	return ""
}
