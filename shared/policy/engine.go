package policy

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	cedar "github.com/cedar-policy/cedar-go"
	publicast "github.com/cedar-policy/cedar-go/ast"
	"github.com/cedar-policy/cedar-go/types"
	ast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// ReasonNoApplicablePolicy is the reason of a fail-closed deny.
const ReasonNoApplicablePolicy = "no applicable policy"

// reasonBreakGlassFallback prefixes the reason of a break-glass request that
// no break_glass permit allowed (it gets the ordinary decision).
const reasonBreakGlassFallback = "break-glass not permitted; ordinary decision: "

// scope kinds of a compiled rule, for candidate matching.
type scopeKind uint8

const (
	kAll scopeKind = iota
	kEq
	kIn
	kIs
	kIsIn
)

type scopeMatch struct {
	kind scopeKind
	typ  types.EntityType
	ent  types.EntityUID
}

func newScopeMatch(s ast.IsScopeNode) scopeMatch {
	switch s := s.(type) {
	case ast.ScopeTypeEq:
		return scopeMatch{kind: kEq, ent: s.Entity}
	case ast.ScopeTypeIn:
		return scopeMatch{kind: kIn, ent: s.Entity}
	case ast.ScopeTypeIs:
		return scopeMatch{kind: kIs, typ: s.Type}
	case ast.ScopeTypeIsIn:
		return scopeMatch{kind: kIsIn, typ: s.Type, ent: s.Entity}
	}
	return scopeMatch{kind: kAll}
}

// matches is Cedar's scope semantics given the reflexive-transitive
// ancestors of uid.
func (m *scopeMatch) matches(uid types.EntityUID, ancestors []types.EntityUID) bool {
	switch m.kind {
	case kAll:
		return true
	case kEq:
		return uid == m.ent
	case kIn:
		return slices.Contains(ancestors, m.ent)
	case kIs:
		return uid.Type == m.typ
	default:
		return uid.Type == m.typ && slices.Contains(ancestors, m.ent)
	}
}

type compiledRule struct {
	id         string
	pid        cedar.PolicyID
	priority   int
	tier       int
	forbid     bool
	breakGlass bool // a permit with approval_mode break_glass
	mode       string
	timeout    time.Duration
	approvals  int
	notice     string
	policy     *cedar.Policy
	principal  scopeMatch
	resource   scopeMatch
	actionAny  bool
	actions    []types.EntityUID
}

// PolicySet is a compiled, immutable rule set; safe for concurrent use.
type PolicySet struct {
	rules      []compiledRule // priority desc, id asc
	byID       map[cedar.PolicyID]int
	tierPrio   []int // priority of each tier
	hasBG      bool
	byPrincpal map[types.EntityUID][]int32 // rules with an entity in their principal scope
	byResource map[types.EntityUID][]int32 // else: rules with an entity in their resource scope
	rest       []int32                     // else
	// full-scan reference: per tier, all rules / rules minus break_glass permits
	tierAll  []cedar.PolicyMap
	tierNoBG []cedar.PolicyMap
	whole    *cedar.PolicySet
}

// Compile compiles normalized rules (each is validated again; disabled
// rules are dropped). Rule ids must be unique.
func Compile(rules []Rule) (*PolicySet, error) {
	ps := &PolicySet{
		byID:       make(map[cedar.PolicyID]int, len(rules)),
		byPrincpal: make(map[types.EntityUID][]int32),
		byResource: make(map[types.EntityUID][]int32),
		whole:      cedar.NewPolicySet(),
	}
	enabled := make([]Rule, 0, len(rules))
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		if seen[r.ID] && r.ID != "" {
			return nil, &ValidationError{Fields: []FieldError{{Field: "id", Message: fmt.Sprintf("duplicate rule id %q", r.ID)}}}
		}
		seen[r.ID] = true
		if r.Enabled || r.PolicyText != "" {
			enabled = append(enabled, r)
		}
	}
	compiled := make([]compiledRule, 0, len(enabled))
	for _, r := range enabled {
		var errs errList
		n, p := validateForCompile(r, &errs)
		if len(errs) > 0 {
			e := errs.Err("policy rule").(*ValidationError)
			for i := range e.Fields {
				e.Fields[i].Field = fmt.Sprintf("rule %q: %s", r.ID, e.Fields[i].Field)
			}
			return nil, e
		}
		if !n.Enabled {
			continue
		}
		p = widenAccountScope(p)
		cr := compiledRule{
			id:         n.ID,
			pid:        cedar.PolicyID(n.ID),
			priority:   n.Priority,
			forbid:     n.Effect == EffectForbid,
			breakGlass: n.Effect == EffectPermit && n.ApprovalMode == ModeBreakGlass,
			mode:       n.ApprovalMode,
			approvals:  n.ApprovalsRequired,
			notice:     n.Notice,
			policy:     cedar.NewPolicyFromAST((*publicast.Policy)(p)),
			principal:  newScopeMatch(p.Principal),
			resource:   newScopeMatch(p.Resource),
		}
		if n.ApprovalTimeout != "" {
			cr.timeout, _ = ParseTimeout(n.ApprovalTimeout)
		}
		switch a := p.Action.(type) {
		case ast.ScopeTypeAll:
			cr.actionAny = true
		case ast.ScopeTypeEq:
			cr.actions = []types.EntityUID{a.Entity}
		case ast.ScopeTypeInSet:
			cr.actions = a.Entities
		}
		compiled = append(compiled, cr)
	}
	sort.SliceStable(compiled, func(i, j int) bool {
		if compiled[i].priority != compiled[j].priority {
			return compiled[i].priority > compiled[j].priority
		}
		return compiled[i].id < compiled[j].id
	})
	for i := range compiled {
		cr := &compiled[i]
		if i == 0 || cr.priority != compiled[i-1].priority {
			ps.tierPrio = append(ps.tierPrio, cr.priority)
			ps.tierAll = append(ps.tierAll, cedar.PolicyMap{})
			ps.tierNoBG = append(ps.tierNoBG, cedar.PolicyMap{})
		}
		t := len(ps.tierPrio) - 1
		cr.tier = t
		ps.tierAll[t][cr.pid] = cr.policy
		if !cr.breakGlass {
			ps.tierNoBG[t][cr.pid] = cr.policy
		} else {
			ps.hasBG = true
		}
		ps.whole.Add(cr.pid, cr.policy)
		ps.byID[cr.pid] = i
		switch {
		case cr.principal.kind == kEq || cr.principal.kind == kIn || cr.principal.kind == kIsIn:
			ps.byPrincpal[cr.principal.ent] = append(ps.byPrincpal[cr.principal.ent], int32(i))
		case cr.resource.kind == kEq || cr.resource.kind == kIn || cr.resource.kind == kIsIn:
			ps.byResource[cr.resource.ent] = append(ps.byResource[cr.resource.ent], int32(i))
		default:
			ps.rest = append(ps.rest, int32(i))
		}
	}
	ps.rules = compiled
	return ps, nil
}

// Len is the number of enabled rules in the set.
func (ps *PolicySet) Len() int { return len(ps.rules) }

// CedarPolicySet is the whole compiled set as one cedar.PolicySet (the
// full-scan baseline of the benchmarks). Do not modify it.
func (ps *PolicySet) CedarPolicySet() *cedar.PolicySet { return ps.whole }

// prepared is the per-request evaluation input shared by both paths.
type prepared struct {
	req       Request
	ents      *requestEntities
	creq      cedar.Request
	principal types.EntityUID
	resource  types.EntityUID
	action    types.EntityUID
}

func prepare(req Request) *prepared {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	ents := newRequestEntities(req.Principal, req.Resource)
	p := &prepared{
		req:       req,
		ents:      ents,
		principal: types.NewEntityUID(EntityUser, types.String(req.Principal.ID)),
		resource:  types.NewEntityUID(types.EntityType(req.Resource.Type), types.String(req.Resource.ID)),
		action:    types.NewEntityUID(EntityAction, types.String(req.Action)),
	}
	p.creq = cedar.Request{Principal: p.principal, Action: p.action, Resource: p.resource, Context: buildContext(req, now)}
	return p
}

// tierResult is one reached tier's cedar outcome.
type tierResult struct {
	tier     int
	decision cedar.Decision
	diag     cedar.Diagnostic
}

func (r *tierResult) decides() bool { return len(r.diag.Errors) > 0 || len(r.diag.Reasons) > 0 }

// Decide answers a request with the indexed fast path: only rules whose
// scope can match the request are evaluated, tier by tier.
func (ps *PolicySet) Decide(req Request) Decision {
	p := prepare(req)
	// Candidate rules: scope matches the request. Principal keys are the
	// principal's ancestors (incl. itself), resource keys the resource's.
	var pbuf, rbuf [16]types.EntityUID
	pAnc := p.ents.ancestors(p.principal, pbuf[:0])
	rAnc := p.ents.ancestors(p.resource, rbuf[:0])
	var cbuf [64]int32
	cands := cbuf[:0]
	consider := func(list []int32) {
		for _, i := range list {
			cr := &ps.rules[i]
			if cr.principal.matches(p.principal, pAnc) && cr.resource.matches(p.resource, rAnc) &&
				(cr.actionAny || slices.Contains(cr.actions, p.action)) {
				cands = append(cands, i)
			}
		}
	}
	for _, k := range pAnc {
		consider(ps.byPrincpal[k])
	}
	for _, k := range rAnc {
		consider(ps.byResource[k])
	}
	consider(ps.rest)
	slices.Sort(cands)

	anyBG := false
	for _, i := range cands {
		if ps.rules[i].breakGlass {
			anyBG = true
			break
		}
	}
	run := func(withBG bool) tierResult {
		for start := 0; start < len(cands); {
			t := ps.rules[cands[start]].tier
			end := start
			for end < len(cands) && ps.rules[cands[end]].tier == t {
				end++
			}
			tierCands := cands[start:end]
			start = end
			it := candIter{ps: ps, idx: tierCands, withBG: withBG}
			d, diag := cedar.Authorize(it, p.ents, p.creq)
			res := tierResult{tier: t, decision: d, diag: diag}
			if res.decides() {
				return res
			}
		}
		return tierResult{tier: -1}
	}
	return ps.finish(p, run, anyBG)
}

// candIter iterates over a tier's candidates (optionally skipping
// break_glass permits).
type candIter struct {
	ps     *PolicySet
	idx    []int32
	withBG bool
}

func (c candIter) All() iter.Seq2[cedar.PolicyID, *cedar.Policy] {
	return func(yield func(cedar.PolicyID, *cedar.Policy) bool) {
		for _, i := range c.idx {
			cr := &c.ps.rules[i]
			if cr.breakGlass && !c.withBG {
				continue
			}
			if !yield(cr.pid, cr.policy) {
				return
			}
		}
	}
}

// DecideFullScan is the reference path: for each tier in priority order,
// cedar.Authorize over all of that tier's rules (break_glass permits
// included only in the break-glass pass); the first tier with an applying
// policy or an error decides. Same semantics as Decide, no index.
func (ps *PolicySet) DecideFullScan(req Request) Decision {
	p := prepare(req)
	run := func(withBG bool) tierResult {
		tiers := ps.tierNoBG
		if withBG {
			tiers = ps.tierAll
		}
		for t, pm := range tiers {
			d, diag := cedar.Authorize(pm, p.ents, p.creq)
			res := tierResult{tier: t, decision: d, diag: diag}
			if res.decides() {
				return res
			}
		}
		return tierResult{tier: -1}
	}
	return ps.finish(p, run, ps.hasBG)
}

// finish applies the break-glass passes and turns the deciding tier into a
// Decision. maybeBG false means no break_glass permit can apply, so the
// break-glass pass would equal the ordinary one.
func (ps *PolicySet) finish(p *prepared, run func(withBG bool) tierResult, maybeBG bool) Decision {
	if p.req.BreakGlass {
		if maybeBG {
			d := ps.decision(run(true))
			if d.Allowed && d.Mode == ModeBreakGlass {
				return d
			}
		}
		d := ps.decision(run(false))
		d.Reason = reasonBreakGlassFallback + d.Reason
		return d
	}
	return ps.decision(run(false))
}

var modeRank = map[string]int{ModeRequire: 3, ModeBreakGlass: 2, ModeAuto: 1}

func (ps *PolicySet) decision(res tierResult) Decision {
	if res.tier < 0 {
		return Decision{Allowed: false, DecidingRuleIDs: []string{}, Reason: ReasonNoApplicablePolicy}
	}
	prio := ps.tierPrio[res.tier]
	d := Decision{Tier: &prio}
	if len(res.diag.Errors) > 0 {
		errs := slices.Clone(res.diag.Errors)
		sort.Slice(errs, func(i, j int) bool {
			if errs[i].PolicyID != errs[j].PolicyID {
				return errs[i].PolicyID < errs[j].PolicyID
			}
			return errs[i].Message < errs[j].Message
		})
		for _, e := range errs {
			d.Errors = append(d.Errors, fmt.Sprintf("rule %q: %s", string(e.PolicyID), e.Message))
			if len(d.DecidingRuleIDs) == 0 || d.DecidingRuleIDs[len(d.DecidingRuleIDs)-1] != string(e.PolicyID) {
				d.DecidingRuleIDs = append(d.DecidingRuleIDs, string(e.PolicyID))
			}
		}
		d.Reason = fmt.Sprintf("evaluation error in rule %q: %s", string(errs[0].PolicyID), errs[0].Message)
		if len(errs) > 1 {
			d.Reason += fmt.Sprintf(" (and %d more)", len(errs)-1)
		}
		return d
	}
	ids := make([]string, 0, len(res.diag.Reasons))
	for _, r := range res.diag.Reasons {
		ids = append(ids, string(r.PolicyID))
	}
	slices.Sort(ids)
	if res.decision == cedar.Deny {
		d.DecidingRuleIDs = ids
		d.Notices = ps.notices(ids)
		d.Reason = fmt.Sprintf("denied by %s (priority %d)", ruleList(ids), prio)
		return d
	}
	// Permits: most restrictive mode wins; among the winners the shortest
	// timeout and the largest approvals_required.
	best := -1
	for _, id := range ids {
		if r := modeRank[ps.rules[ps.byID[cedar.PolicyID(id)]].mode]; r > best {
			best = r
		}
	}
	d.Allowed = true
	for _, id := range ids {
		cr := &ps.rules[ps.byID[cedar.PolicyID(id)]]
		if modeRank[cr.mode] != best {
			continue
		}
		d.Mode = cr.mode
		d.DecidingRuleIDs = append(d.DecidingRuleIDs, id)
		if cr.timeout > 0 && (d.ApprovalTimeout == 0 || cr.timeout < d.ApprovalTimeout) {
			d.ApprovalTimeout = cr.timeout
		}
		d.ApprovalsRequired = max(d.ApprovalsRequired, cr.approvals)
	}
	d.Notices = ps.notices(d.DecidingRuleIDs)
	rl := ruleList(d.DecidingRuleIDs)
	switch d.Mode {
	case ModeAuto:
		d.Reason = "approved automatically by " + rl
	case ModeRequire:
		noun := "reviewers"
		if d.ApprovalsRequired == 1 {
			noun = "reviewer"
		}
		d.Reason = fmt.Sprintf("requires approval by %d %s within %s (%s)", d.ApprovalsRequired, noun, FormatTimeout(d.ApprovalTimeout), rl)
	case ModeBreakGlass:
		d.Reason = "break-glass access permitted by " + rl
	default:
		d.Reason = "permitted by " + rl
	}
	return d
}

func (ps *PolicySet) notices(ids []string) []string {
	var out []string
	for _, id := range ids {
		n := ps.rules[ps.byID[cedar.PolicyID(id)]].notice
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func ruleList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	if len(ids) == 1 {
		return "rule " + q[0]
	}
	return "rules " + strings.Join(q, ", ")
}

// MayApprove asks whether reviewer may approve requester's request for
// resource (action approve_request; context.requester is the requester,
// context.mode the request's approval mode).
func (ps *PolicySet) MayApprove(reviewer Principal, requester Principal, resource Resource, mode string, now time.Time) Decision {
	return ps.Decide(Request{
		Principal: reviewer,
		Action:    ActionApproveRequest,
		Resource:  resource,
		Now:       now,
		Requester: &requester,
		Mode:      mode,
	})
}
