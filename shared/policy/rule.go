package policy

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	cedar "github.com/cedar-policy/cedar-go"
	publicast "github.com/cedar-policy/cedar-go/ast"
	"github.com/cedar-policy/cedar-go/types"
	ast "github.com/cedar-policy/cedar-go/x/exp/ast"

	"github.com/jitsudo/jitsudo-serverless/shared/freetext"
)

// Input bounds enforced by Normalize.
const (
	MaxNameLen                = 200
	MaxDescriptionLen         = 2000
	MaxNoticeLen              = 1000
	MaxNotificationChannelLen = 200
	MaxConditionsLen          = 4096
	MaxPolicyTextLen          = 16384
	MaxEntityIDLen            = 256
	MaxApprovalsRequired      = 20
	MaxPriority               = 1_000_000_000
	MaxImportRules            = 10_000
)

// DefaultForbidPriority is the priority a new forbid gets when its author
// gives none (no "priority" in the API body, no @priority in its Cedar
// text): above the permits' default of 0 and the usual 0..999 range, so a
// forbid written without thinking about tiers decides against every permit
// below 1000. A forbid that a higher-priority permit can pre-empt is
// reported by Shadowed. Stored rules keep the priority they were stored
// with; permits without a priority still get 0.
const DefaultForbidPriority = 1000

// Annotation keys of the Cedar text form, in the order CedarText writes them.
const (
	annID                  = "id"
	annName                = "name"
	annDescription         = "description"
	annPriority            = "priority"
	annEnabled             = "enabled"
	annApprovalMode        = "approval_mode"
	annApprovalTimeout     = "approval_timeout"
	annApprovalsRequired   = "approvals_required"
	annNotice              = "notice"
	annNotificationChannel = "notification_channel"
)

var knownAnnotations = map[string]bool{
	annID: true, annName: true, annDescription: true, annPriority: true, annEnabled: true,
	annApprovalMode: true, annApprovalTimeout: true, annApprovalsRequired: true, annNotice: true,
	annNotificationChannel: true,
}

var ruleIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Resource id formats that are checked beyond "printable".
var (
	accountIDPattern = regexp.MustCompile(`^[0-9]{12}$`)
	ouIDPattern      = regexp.MustCompile(`^(ou-[a-z0-9]{2,32}-[a-z0-9]{4,32}|r-[a-z0-9]{2,32})$`)
	ec2IDPattern     = regexp.MustCompile(`^i-[0-9a-f]{8,17}$`)
)

// Normalize validates a rule coming from an API caller and returns it in
// canonical decomposed form. See the package documentation for the rules.
// Every error is a *ValidationError.
func Normalize(r Rule) (Rule, error) {
	n, _, errs := normalize(r, "")
	if len(errs) > 0 {
		return Rule{}, errs.Err("policy rule")
	}
	return n, nil
}

// NormalizeInput is Normalize for a rule as an author wrote it, where
// priorityGiven says whether the author gave Priority (an API body with a
// "priority" field). A forbid with no priority, neither given nor as
// @priority in its PolicyText, gets DefaultForbidPriority.
func NormalizeInput(r Rule, priorityGiven bool) (Rule, error) {
	n, _, errs := normalizeOpt(r, "", !priorityGiven)
	if len(errs) > 0 {
		return Rule{}, errs.Err("policy rule")
	}
	return n, nil
}

// CedarText returns the annotated Cedar policy of a rule. The rule is
// normalized first, so an invalid rule yields a *ValidationError.
func CedarText(r Rule) (string, error) {
	_, p, errs := normalize(r, "")
	if len(errs) > 0 {
		return "", errs.Err("policy rule")
	}
	return marshalPolicy(p), nil
}

// ParseRule parses one annotated Cedar statement into a validated,
// normalized Rule. The statement must carry an @id annotation.
func ParseRule(text string) (Rule, error) {
	return Normalize(Rule{PolicyText: text})
}

// Export renders a rule set as one .cedar document: rules ordered by
// priority (highest first) then id, each with its annotations, separated by
// blank lines. Rules that do not validate are omitted (with a comment line
// saying so); stored rules are always normalized, so this does not happen in
// practice.
func Export(rules []Rule) string {
	sorted := slices.Clone(rules)
	sortRules(sorted)
	var b strings.Builder
	for _, r := range sorted {
		text, err := CedarText(r)
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		if err != nil {
			b.WriteString("// an invalid rule was omitted\n")
			continue
		}
		b.WriteString(text)
		b.WriteString("\n")
	}
	return b.String()
}

// Import parses a .cedar document (as written by Export, or by hand) into
// rules, in document order. Every policy must carry @id; ids must be
// distinct; a forbid without @priority gets DefaultForbidPriority (Export
// always writes @priority). Errors are a *ValidationError with fields like
// "rules[3].conditions" ("document" when the text does not parse).
func Import(doc string) ([]Rule, error) {
	var errs errList
	if len(doc) > MaxImportRules*(MaxPolicyTextLen/4) {
		errs.Add("document", "document too large")
		return nil, errs.Err("policy rule")
	}
	if !utf8.ValidString(doc) {
		errs.Add("document", "not valid UTF-8")
		return nil, errs.Err("policy rule")
	}
	list, err := cedar.NewPolicyListFromBytes("", []byte(doc))
	if err != nil {
		errs.Add("document", "does not parse: "+err.Error())
		return nil, errs.Err("policy rule")
	}
	if len(list) > MaxImportRules {
		errs.Add("document", fmt.Sprintf("too many policies (max %d)", MaxImportRules))
		return nil, errs.Err("policy rule")
	}
	out := make([]Rule, 0, len(list))
	seen := make(map[string]int, len(list))
	for i, p := range list {
		prefix := fmt.Sprintf("rules[%d].", i)
		r, ferrs := decompose((*ast.Policy)(p.AST()), prefix)
		if len(ferrs) > 0 {
			errs = append(errs, ferrs...)
			continue
		}
		if !r.hasEnabled {
			r.Enabled = true
		}
		n, _, ferrs := normalizeOpt(r.Rule, prefix, !r.hasPriority)
		if len(ferrs) > 0 {
			errs = append(errs, ferrs...)
			continue
		}
		if j, dup := seen[n.ID]; dup {
			errs.Add(prefix+"id", fmt.Sprintf("duplicate id %q (also rules[%d])", n.ID, j))
			continue
		}
		seen[n.ID] = i
		out = append(out, n)
	}
	if len(errs) > 0 {
		return nil, errs.Err("policy rule")
	}
	return out, nil
}

// sortRules orders rules by priority desc, then id asc (evaluation and
// export order).
func sortRules(rs []Rule) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].Priority != rs[j].Priority {
			return rs[i].Priority > rs[j].Priority
		}
		return rs[i].ID < rs[j].ID
	})
}

// normalize is Normalize with a field prefix; it also returns the assembled
// and verified AST.
func normalize(r Rule, prefix string) (Rule, *ast.Policy, errList) {
	return normalizeOpt(r, prefix, false)
}

// normalizeOpt is normalize; defaultForbid gives a forbid without a
// priority (none in r, no @priority in its text) DefaultForbidPriority.
func normalizeOpt(r Rule, prefix string, defaultForbid bool) (Rule, *ast.Policy, errList) {
	var errs errList
	if r.PolicyText != "" {
		merged, hasPriority, ferrs := mergePolicyText(r, prefix)
		if len(ferrs) > 0 {
			return Rule{}, nil, ferrs
		}
		r = merged
		defaultForbid = defaultForbid && !hasPriority
	}
	if defaultForbid && r.Effect == EffectForbid && r.Priority == 0 {
		r.Priority = DefaultForbidPriority
	}
	n, p := validate(r, prefix, &errs)
	if len(errs) > 0 {
		return Rule{}, nil, errs
	}
	return n, p, nil
}

// mergePolicyText parses r.PolicyText and merges it with the decomposed
// fields, which must be empty or agree; it also says whether either gave a
// priority (@priority, or a non-zero Priority).
func mergePolicyText(r Rule, prefix string) (Rule, bool, errList) {
	var errs errList
	f := prefix + "policy_text"
	if len(r.PolicyText) > MaxPolicyTextLen {
		errs.Add(f, fmt.Sprintf("too long (max %d bytes)", MaxPolicyTextLen))
		return Rule{}, false, errs
	}
	if !utf8.ValidString(r.PolicyText) {
		errs.Add(f, "not valid UTF-8")
		return Rule{}, false, errs
	}
	list, err := cedar.NewPolicyListFromBytes("", []byte(r.PolicyText))
	if err != nil {
		errs.Add(f, "does not parse: "+err.Error())
		return Rule{}, false, errs
	}
	if len(list) != 1 {
		errs.Add(f, fmt.Sprintf("must contain exactly one policy, found %d", len(list)))
		return Rule{}, false, errs
	}
	t, ferrs := decompose((*ast.Policy)(list[0].AST()), prefix)
	if len(ferrs) > 0 {
		return Rule{}, false, ferrs
	}
	conflict := func(field string, given, text any) {
		errs.Add(prefix+field, fmt.Sprintf("conflicts with policy_text (%v vs %v)", given, text))
	}
	str := func(field string, given string, text *string) {
		if given == "" {
			return
		}
		if *text == "" {
			*text = given
			return
		}
		if given != *text {
			conflict(field, strconv.Quote(given), strconv.Quote(*text))
		}
	}
	str("id", r.ID, &t.ID)
	str("name", r.Name, &t.Name)
	str("description", r.Description, &t.Description)
	str("effect", r.Effect, &t.Effect)
	str("principal_scope_type", r.PrincipalScopeType, &t.PrincipalScopeType)
	str("principal_entity_type", r.PrincipalEntityType, &t.PrincipalEntityType)
	str("principal_entity_id", r.PrincipalEntityID, &t.PrincipalEntityID)
	str("action_scope_type", r.ActionScopeType, &t.ActionScopeType)
	str("resource_scope_type", r.ResourceScopeType, &t.ResourceScopeType)
	str("resource_entity_type", r.ResourceEntityType, &t.ResourceEntityType)
	str("resource_entity_id", r.ResourceEntityID, &t.ResourceEntityID)
	str("approval_mode", r.ApprovalMode, &t.ApprovalMode)
	str("approval_timeout", r.ApprovalTimeout, &t.ApprovalTimeout)
	str("notice", r.Notice, &t.Notice)
	str("notification_channel", r.NotificationChannel, &t.NotificationChannel)
	if r.Conditions != "" {
		if c, ok := canonicalConditions(r.Conditions); !ok || c != t.Conditions {
			conflict("conditions", "conditions", "policy_text conditions")
		}
	}
	if len(r.ActionIDs) > 0 {
		a, b := slices.Clone(r.ActionIDs), slices.Clone(t.ActionIDs)
		slices.Sort(a)
		slices.Sort(b)
		if len(b) == 0 {
			t.ActionIDs = r.ActionIDs
		} else if !slices.Equal(slices.Compact(a), slices.Compact(b)) {
			conflict("action_ids", r.ActionIDs, t.ActionIDs)
		}
	}
	if r.Priority != 0 {
		if t.Priority == 0 && !t.hasPriority {
			t.Priority = r.Priority
		} else if t.Priority != r.Priority {
			conflict("priority", r.Priority, t.Priority)
		}
	}
	if r.ApprovalsRequired != 0 {
		if t.ApprovalsRequired == 0 {
			t.ApprovalsRequired = r.ApprovalsRequired
		} else if t.ApprovalsRequired != r.ApprovalsRequired {
			conflict("approvals_required", r.ApprovalsRequired, t.ApprovalsRequired)
		}
	}
	// enabled: a policy_text without @enabled is enabled; the decomposed
	// field's zero value (false) counts as "not given".
	if r.Enabled && t.hasEnabled && !t.Enabled {
		conflict("enabled", true, false)
	}
	if !t.hasEnabled {
		t.Enabled = true
	}
	if len(errs) > 0 {
		return Rule{}, false, errs
	}
	out := t.Rule
	out.PolicyText = ""
	return out, t.hasPriority || r.Priority != 0, nil
}

// parsedRule is a Rule decomposed from Cedar text plus presence flags.
type parsedRule struct {
	Rule
	hasPriority bool
	hasEnabled  bool
}

// decompose turns a parsed Cedar policy into rule fields (not yet
// validated beyond what the AST shape requires).
func decompose(p *ast.Policy, prefix string) (parsedRule, errList) {
	var errs errList
	var r parsedRule
	f := prefix + "policy_text"
	for _, a := range p.Annotations {
		k, v := string(a.Key), string(a.Value)
		if !knownAnnotations[k] {
			errs.Add(f, fmt.Sprintf("unknown annotation @%s", truncate(k, 64)))
			continue
		}
		switch k {
		case annID:
			r.ID = v
		case annName:
			r.Name = v
		case annDescription:
			r.Description = v
		case annPriority:
			n, err := strconv.Atoi(v)
			if err != nil || strconv.Itoa(n) != v {
				errs.Add(prefix+"priority", "@priority must be an integer")
				continue
			}
			r.Priority, r.hasPriority = n, true
		case annEnabled:
			switch v {
			case "true":
				r.Enabled = true
			case "false":
				r.Enabled = false
			default:
				errs.Add(prefix+"enabled", `@enabled must be "true" or "false"`)
			}
			r.hasEnabled = true
		case annApprovalMode:
			r.ApprovalMode = v
		case annApprovalTimeout:
			r.ApprovalTimeout = v
		case annApprovalsRequired:
			n, err := strconv.Atoi(v)
			if err != nil || strconv.Itoa(n) != v || n <= 0 {
				errs.Add(prefix+"approvals_required", "@approvals_required must be a positive integer")
				continue
			}
			r.ApprovalsRequired = n
		case annNotice:
			r.Notice = v
		case annNotificationChannel:
			r.NotificationChannel = v
		}
	}
	if p.Effect == ast.EffectPermit {
		r.Effect = EffectPermit
	} else {
		r.Effect = EffectForbid
	}
	var ok bool
	r.PrincipalScopeType, r.PrincipalEntityType, r.PrincipalEntityID, ok = decomposeScope(p.Principal)
	if !ok {
		errs.Add(prefix+"principal_scope_type", "unsupported principal scope")
	}
	switch s := p.Action.(type) {
	case ast.ScopeTypeAll:
		r.ActionScopeType = ScopeAny
	case ast.ScopeTypeEq:
		r.ActionScopeType, r.ActionIDs = ScopeEq, []string{actionID(s.Entity, prefix, &errs)}
	case ast.ScopeTypeIn:
		r.ActionScopeType, r.ActionIDs = ScopeIn, []string{actionID(s.Entity, prefix, &errs)}
	case ast.ScopeTypeInSet:
		r.ActionScopeType = ScopeIn
		for _, e := range s.Entities {
			r.ActionIDs = append(r.ActionIDs, actionID(e, prefix, &errs))
		}
		if len(r.ActionIDs) == 0 {
			errs.Add(prefix+"action_ids", "empty action list")
		}
	default:
		errs.Add(prefix+"action_scope_type", "unsupported action scope")
	}
	r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID, ok = decomposeScope(p.Resource)
	if !ok {
		errs.Add(prefix+"resource_scope_type", "unsupported resource scope")
	}
	if len(p.Conditions) > 0 {
		r.Conditions = marshalConditions(p.Conditions)
	}
	return r, errs
}

func actionID(e types.EntityUID, prefix string, errs *errList) string {
	if e.Type != EntityAction {
		errs.Add(prefix+"action_ids", fmt.Sprintf("action entity must be of type Action, got %s", truncate(string(e.Type), 64)))
	}
	return string(e.ID)
}

func decomposeScope(s ast.IsScopeNode) (kind, typ, id string, ok bool) {
	switch s := s.(type) {
	case ast.ScopeTypeAll:
		return ScopeAny, "", "", true
	case ast.ScopeTypeEq:
		return ScopeEq, string(s.Entity.Type), string(s.Entity.ID), true
	case ast.ScopeTypeIn:
		return ScopeIn, string(s.Entity.Type), string(s.Entity.ID), true
	case ast.ScopeTypeIs:
		return ScopeIs, string(s.Type), "", true
	case ast.ScopeTypeIsIn:
		return ScopeIsIn, string(s.Type), string(s.Entity.Type) + "::" + string(s.Entity.ID), true
	}
	return "", "", "", false
}

// validate checks every field of a decomposed rule, fills defaults, and
// assembles + verifies the Cedar AST. Errors go to errs.
func validate(r Rule, prefix string, errs *errList) (Rule, *ast.Policy) {
	return validateOpt(r, prefix, errs, true)
}

// validateOpt is validate; verify=false (Compile of stored, already
// normalized rules) skips re-canonicalizing the conditions text and the
// print/parse round trip, which were done when the rule was stored.
func validateOpt(r Rule, prefix string, errs *errList, verify bool) (Rule, *ast.Policy) {
	n := r
	n.PolicyText = ""
	fld := func(name string) string { return prefix + name }
	checkMeta(r, fld, errs)

	p := &ast.Policy{}
	switch r.Effect {
	case EffectPermit:
		p.Effect = ast.EffectPermit
	case EffectForbid:
		p.Effect = ast.EffectForbid
	case "":
		errs.Add(fld("effect"), "required (permit or forbid)")
	default:
		errs.Add(fld("effect"), "must be permit or forbid")
	}

	n.PrincipalEntityType, n.PrincipalEntityID = principalEntity(r)
	if sc, ok := buildScope("principal", prefix, r.PrincipalScopeType, n.PrincipalEntityType, n.PrincipalEntityID, isPrincipalType, "User, Group", errs); ok {
		p.Principal = sc.(ast.IsPrincipalScopeNode)
	}
	p.Action, n.ActionIDs = actionScope(r, fld, errs)
	if sc, ok := buildScope("resource", prefix, r.ResourceScopeType, r.ResourceEntityType, r.ResourceEntityID, isResourceType,
		"AwsAccount, AwsPermissionSet, AwsOrganizationalUnit, AwsS3Bucket, AwsRdsInstance, AwsEc2Instance", errs); ok {
		p.Resource = sc.(ast.IsResourceScopeNode)
	}
	n.ApprovalTimeout, n.ApprovalsRequired = approvalFields(r, n.ActionIDs, fld, errs)

	n.Conditions = ""
	if strings.TrimSpace(r.Conditions) != "" {
		conds, canon, msg := parseConditionsOpt(r.Conditions, verify)
		if msg != "" {
			errs.Add(fld("conditions"), msg)
		} else {
			p.Conditions = conds
			n.Conditions = canon
		}
	}

	if len(*errs) > 0 {
		return Rule{}, nil
	}
	p.Annotations = annotations(n)

	// Escape check: the assembled text must parse back to exactly this one
	// policy (effect, scope, annotations, conditions).
	if !verify {
		return n, p
	}
	if msg := verifyRoundTrip(p); msg != "" {
		errs.Add(fld("conditions"), msg)
		return Rule{}, nil
	}
	return n, p
}

// checkMeta checks the fields that are not part of the Cedar policy's
// scope: id, the free texts and the priority.
func checkMeta(r Rule, fld func(string) string, errs *errList) {
	switch {
	case r.ID == "":
		errs.Add(fld("id"), "required")
	case !ruleIDPattern.MatchString(r.ID):
		errs.Add(fld("id"), "must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
	case strings.EqualFold(r.ID, "export") || strings.EqualFold(r.ID, "import"):
		errs.Add(fld("id"), fmt.Sprintf("%q is reserved", r.ID))
	}
	checkText(fld("name"), r.Name, MaxNameLen, false, errs)
	checkText(fld("description"), r.Description, MaxDescriptionLen, true, errs)
	checkText(fld("notice"), r.Notice, MaxNoticeLen, true, errs)
	checkText(fld("notification_channel"), r.NotificationChannel, MaxNotificationChannelLen, false, errs)
	if r.Priority > MaxPriority || r.Priority < -MaxPriority {
		errs.Add(fld("priority"), fmt.Sprintf("must be between %d and %d", -MaxPriority, MaxPriority))
	}
}

// principalEntity is the rule's principal type and id, accepting the
// original's spelling: principal_entity_id "group:engineering" without a
// type.
func principalEntity(r Rule) (typ, id string) {
	typ, id = r.PrincipalEntityType, r.PrincipalEntityID
	if typ == "" && (r.PrincipalScopeType == ScopeEq || r.PrincipalScopeType == ScopeIn) {
		if rest, ok := strings.CutPrefix(id, "group:"); ok {
			return EntityGroup, rest
		} else if rest, ok := strings.CutPrefix(id, "user:"); ok {
			return EntityUser, rest
		}
	}
	return typ, id
}

// actionScope is the rule's action scope and its sorted, de-duplicated
// action ids (none for scope any).
func actionScope(r Rule, fld func(string) string, errs *errList) (ast.IsActionScopeNode, []string) {
	actions := slices.Clone(r.ActionIDs)
	slices.Sort(actions)
	actions = slices.Compact(actions)
	for _, a := range actions {
		if !knownActions[a] {
			errs.Add(fld("action_ids"), fmt.Sprintf("unknown action %q (known: request_access, approve_request, extend_grant)", truncate(a, 64)))
		}
	}
	switch r.ActionScopeType {
	case ScopeAny:
		if len(actions) > 0 {
			errs.Add(fld("action_ids"), "must be empty when action_scope_type is any")
		}
		return ast.ScopeTypeAll{}, nil
	case ScopeEq:
		if len(actions) != 1 {
			errs.Add(fld("action_ids"), "exactly one action required when action_scope_type is eq")
			return nil, actions
		}
		return ast.ScopeTypeEq{Entity: types.NewEntityUID(EntityAction, types.String(actions[0]))}, actions
	case ScopeIn:
		if len(actions) == 0 {
			errs.Add(fld("action_ids"), "at least one action required when action_scope_type is in")
			return nil, actions
		}
		set := make([]types.EntityUID, len(actions))
		for i, a := range actions {
			set[i] = types.NewEntityUID(EntityAction, types.String(a))
		}
		return ast.ScopeTypeInSet{Entities: set}, actions
	case "":
		errs.Add(fld("action_scope_type"), "required (any, eq, in)")
	default:
		errs.Add(fld("action_scope_type"), "must be any, eq or in")
	}
	return nil, actions
}

// approvalFields checks approval_mode, approval_timeout and
// approvals_required against the effect and mode, and returns the
// normalized timeout and count (defaults filled for require; empty and 0
// otherwise).
func approvalFields(r Rule, actions []string, fld func(string) string, errs *errList) (timeout string, required int) {
	coversRequest := r.ActionScopeType == ScopeAny || slices.Contains(actions, ActionRequestAccess)
	switch {
	case r.Effect == EffectForbid:
		if r.ApprovalMode != "" {
			errs.Add(fld("approval_mode"), "not allowed on a forbid rule")
		}
		if r.ApprovalTimeout != "" {
			errs.Add(fld("approval_timeout"), "not allowed on a forbid rule")
		}
		if r.ApprovalsRequired != 0 {
			errs.Add(fld("approvals_required"), "not allowed on a forbid rule")
		}
	case r.ApprovalMode == ModeRequire:
		d := DefaultApprovalTimeout
		if r.ApprovalTimeout != "" {
			var err error
			d, err = ParseTimeout(r.ApprovalTimeout)
			if err != nil {
				errs.Add(fld("approval_timeout"), err.Error())
			} else if d < MinApprovalTimeout || d > MaxApprovalTimeout {
				errs.Add(fld("approval_timeout"), "must be between 1m and 30d")
			}
		}
		switch {
		case r.ApprovalsRequired == 0:
			required = 1
		case r.ApprovalsRequired < 0 || r.ApprovalsRequired > MaxApprovalsRequired:
			errs.Add(fld("approvals_required"), fmt.Sprintf("must be between 1 and %d", MaxApprovalsRequired))
		default:
			required = r.ApprovalsRequired
		}
		return FormatTimeout(d), required
	case r.ApprovalMode == ModeAuto || r.ApprovalMode == ModeBreakGlass || r.ApprovalMode == "":
		if r.ApprovalMode == "" && coversRequest && r.Effect == EffectPermit {
			errs.Add(fld("approval_mode"), "required (auto, require, break_glass) on a permit that covers request_access")
		}
		if r.ApprovalTimeout != "" {
			errs.Add(fld("approval_timeout"), "only allowed with approval_mode require")
		}
		if r.ApprovalsRequired != 0 {
			errs.Add(fld("approvals_required"), "only allowed with approval_mode require")
		}
	default:
		errs.Add(fld("approval_mode"), "must be auto, require or break_glass")
	}
	return "", 0
}

// annotations are a normalized rule's fields as Cedar annotations, in
// canonical order.
func annotations(n Rule) []ast.AnnotationType {
	var out []ast.AnnotationType
	add := func(k, v string) {
		out = append(out, ast.AnnotationType{Key: types.AnnotationKey(k), Value: types.String(v)})
	}
	add(annID, n.ID)
	if n.Name != "" {
		add(annName, n.Name)
	}
	if n.Description != "" {
		add(annDescription, n.Description)
	}
	add(annPriority, strconv.Itoa(n.Priority))
	add(annEnabled, strconv.FormatBool(n.Enabled))
	if n.ApprovalMode != "" {
		add(annApprovalMode, n.ApprovalMode)
	}
	if n.ApprovalTimeout != "" {
		add(annApprovalTimeout, n.ApprovalTimeout)
	}
	if n.ApprovalsRequired != 0 {
		add(annApprovalsRequired, strconv.Itoa(n.ApprovalsRequired))
	}
	if n.Notice != "" {
		add(annNotice, n.Notice)
	}
	if n.NotificationChannel != "" {
		add(annNotificationChannel, n.NotificationChannel)
	}
	return out
}

func buildScope(which, prefix, kind, typ, id string, typeOK func(string) bool, allowed string, errs *errList) (ast.IsScopeNode, bool) {
	fScope, fType, fID := prefix+which+"_scope_type", prefix+which+"_entity_type", prefix+which+"_entity_id"
	before := len(*errs)
	needType := func() {
		switch {
		case typ == "":
			errs.Add(fType, fmt.Sprintf("required when %s_scope_type is %s", which, kind))
		case !typeOK(typ):
			errs.Add(fType, fmt.Sprintf("unknown entity type %q (allowed: %s)", truncate(typ, 64), allowed))
		}
	}
	switch kind {
	case ScopeAny:
		if typ != "" {
			errs.Add(fType, fmt.Sprintf("must be empty when %s_scope_type is any", which))
		}
		if id != "" {
			errs.Add(fID, fmt.Sprintf("must be empty when %s_scope_type is any", which))
		}
		if len(*errs) == before {
			return ast.ScopeTypeAll{}, true
		}
	case ScopeEq, ScopeIn:
		needType()
		if id == "" {
			errs.Add(fID, fmt.Sprintf("required when %s_scope_type is %s", which, kind))
		} else if msg := checkEntityID(typ, id); msg != "" {
			errs.Add(fID, msg)
		}
		if len(*errs) == before {
			uid := types.NewEntityUID(types.EntityType(typ), types.String(id))
			if kind == ScopeEq {
				return ast.ScopeTypeEq{Entity: uid}, true
			}
			return ast.ScopeTypeIn{Entity: uid}, true
		}
	case ScopeIs:
		needType()
		if id != "" {
			errs.Add(fID, fmt.Sprintf("must be empty when %s_scope_type is is", which))
		}
		if len(*errs) == before {
			return ast.ScopeTypeIs{Type: types.EntityType(typ)}, true
		}
	case ScopeIsIn:
		needType()
		inType, inID, ok := strings.Cut(id, "::")
		switch {
		case id == "":
			errs.Add(fID, fmt.Sprintf(`required when %s_scope_type is is_in: the container as Type::id, e.g. "Group::engineering" or "AwsAccount::123456789012"`, which))
		case !ok || !typeOK(inType):
			errs.Add(fID, fmt.Sprintf("must name the container as Type::id with Type one of %s", allowed))
		default:
			if msg := checkEntityID(inType, inID); msg != "" {
				errs.Add(fID, msg)
			}
		}
		if len(*errs) == before {
			return ast.ScopeTypeIsIn{Type: types.EntityType(typ), Entity: types.NewEntityUID(types.EntityType(inType), types.String(inID))}, true
		}
	case "":
		errs.Add(fScope, "required (any, eq, in, is, is_in)")
	default:
		errs.Add(fScope, "must be any, eq, in, is or is_in")
	}
	return nil, false
}

// checkEntityID validates an entity id: 1..256 bytes of printable UTF-8
// without leading/trailing spaces; AwsAccount ids are 12 digits,
// AwsOrganizationalUnit ids ou-…/r-…, AwsEc2Instance ids i-….
func checkEntityID(typ, id string) string {
	if msg := printable(id, MaxEntityIDLen, false); msg != "" {
		return "malformed id: " + msg
	}
	if id == "" {
		return "malformed id: empty"
	}
	if strings.TrimSpace(id) != id {
		return "malformed id: leading or trailing space"
	}
	switch typ {
	case EntityAwsAccount:
		if !accountIDPattern.MatchString(id) {
			return "malformed id: an AWS account id is 12 digits"
		}
	case EntityAwsOrganizationalUnit:
		if !ouIDPattern.MatchString(id) {
			return "malformed id: an organizational unit id looks like ou-xxxx-xxxxxxxx (or r-xxxx for a root)"
		}
	case EntityAwsEc2Instance:
		if !ec2IDPattern.MatchString(id) {
			return "malformed id: an EC2 instance id looks like i-0123456789abcdef0"
		}
	}
	return ""
}

func checkText(field, s string, max int, multiline bool, errs *errList) {
	if msg := printable(s, max, multiline); msg != "" {
		errs.Add(field, msg)
	}
}

// printable reports why s is not acceptable text ("" when it is): at most
// max bytes of free text (freetext.Problem: no control or format
// characters such as bidi overrides; \n, \t and \r\n only when multiline).
func printable(s string, max int, multiline bool) string {
	if len(s) > max {
		return fmt.Sprintf("too long (max %d bytes)", max)
	}
	return freetext.Problem(s, multiline)
}

var allScopePrefix = func() string {
	return marshalPolicy(&ast.Policy{Effect: ast.EffectPermit, Principal: ast.ScopeTypeAll{}, Action: ast.ScopeTypeAll{}, Resource: ast.ScopeTypeAll{}})
}()

// parseConditions parses raw when/unless clauses in isolation (wrapped in an
// annotation-free, unscoped permit) and returns their AST and canonical text,
// or a message saying why they are rejected.
func parseConditions(raw string) ([]ast.ConditionType, string, string) {
	return parseConditionsOpt(raw, true)
}

func parseConditionsOpt(raw string, canonicalize bool) ([]ast.ConditionType, string, string) {
	if len(raw) > MaxConditionsLen {
		return nil, "", fmt.Sprintf("too long (max %d bytes)", MaxConditionsLen)
	}
	if !utf8.ValidString(raw) {
		return nil, "", "not valid UTF-8"
	}
	list, err := cedar.NewPolicyListFromBytes("", []byte("permit (principal, action, resource)\n"+raw+"\n;"))
	if err != nil || len(list) != 1 {
		// Say what is wrong in the caller's terms.
		if l2, err2 := cedar.NewPolicyListFromBytes("", []byte("permit (principal, action, resource) when {\n"+raw+"\n};")); err2 == nil && len(l2) == 1 {
			return nil, "", "must consist only of when { … } / unless { … } clauses; wrap the expression: when { " + truncate(raw, 200) + " }"
		}
		if err != nil {
			return nil, "", "must consist only of when { … } / unless { … } clauses; does not parse: " + err.Error()
		}
		return nil, "", "must consist only of when { … } / unless { … } clauses (found more than one policy)"
	}
	p := (*ast.Policy)(list[0].AST())
	_, pa := p.Principal.(ast.ScopeTypeAll)
	_, aa := p.Action.(ast.ScopeTypeAll)
	_, ra := p.Resource.(ast.ScopeTypeAll)
	if p.Effect != ast.EffectPermit || !pa || !aa || !ra || len(p.Annotations) != 0 {
		return nil, "", "must consist only of when { … } / unless { … } clauses"
	}
	if len(p.Conditions) == 0 {
		return nil, "", ""
	}
	if !canonicalize {
		return p.Conditions, raw, ""
	}
	canon := marshalConditions(p.Conditions)
	if len(canon) > MaxConditionsLen {
		return nil, "", fmt.Sprintf("too long (max %d bytes)", MaxConditionsLen)
	}
	return p.Conditions, canon, ""
}

// canonicalConditions is the canonical text of raw conditions.
func canonicalConditions(raw string) (string, bool) {
	_, c, msg := parseConditions(raw)
	return c, msg == ""
}

// marshalConditions prints condition clauses the way cedar-go prints them
// ("when { … }\nunless { … }").
func marshalConditions(conds []ast.ConditionType) string {
	text := marshalPolicy(&ast.Policy{Effect: ast.EffectPermit, Principal: ast.ScopeTypeAll{}, Action: ast.ScopeTypeAll{}, Resource: ast.ScopeTypeAll{}, Conditions: conds})
	text = strings.TrimPrefix(text, strings.TrimSuffix(allScopePrefix, ";"))
	text = strings.TrimPrefix(text, "\n")
	return strings.TrimSuffix(text, ";")
}

func marshalPolicy(p *ast.Policy) string {
	return string(cedar.NewPolicyFromAST((*publicast.Policy)(p)).MarshalCedar())
}

// verifyRoundTrip prints p, parses the text back and checks it is exactly
// one policy equal to p. It returns "" when it is.
func verifyRoundTrip(p *ast.Policy) string {
	text := marshalPolicy(p)
	list, err := cedar.NewPolicyListFromBytes("", []byte(text))
	if err != nil {
		return "assembled policy does not parse: " + err.Error()
	}
	if len(list) != 1 {
		return fmt.Sprintf("assembled text is %d policies, not one", len(list))
	}
	q := (*ast.Policy)(list[0].AST())
	switch {
	case q.Effect != p.Effect:
		return "conditions change the effect of the rule"
	case !reflect.DeepEqual(q.Principal, p.Principal) || !reflect.DeepEqual(q.Action, p.Action) || !reflect.DeepEqual(q.Resource, p.Resource):
		return "conditions change the scope of the rule"
	case !slices.Equal(q.Annotations, p.Annotations):
		return "conditions change the annotations of the rule"
	case len(q.Conditions) != len(p.Conditions):
		return "conditions do not survive printing and parsing"
	}
	for i := range q.Conditions {
		if q.Conditions[i].Condition != p.Conditions[i].Condition || !ast.Equal(ast.NewNode(q.Conditions[i].Body), ast.NewNode(p.Conditions[i].Body)) {
			return "conditions do not survive printing and parsing"
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// validateForCompile is validate for Compile: rules are already normalized,
// so a failure here means a stored rule is corrupt.
func validateForCompile(r Rule, errs *errList) (Rule, *ast.Policy) {
	if r.PolicyText != "" {
		merged, _, ferrs := mergePolicyText(r, "")
		if len(ferrs) > 0 {
			*errs = append(*errs, ferrs...)
			return Rule{}, nil
		}
		r = merged
	}
	return validateOpt(r, "", errs, false)
}
