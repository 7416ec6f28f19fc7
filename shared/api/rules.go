package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// ruleInput is a rule as API callers send it: `enabled` defaults to true
// when absent; `id` is generated when absent on create; a forbid without
// `priority` gets policy.DefaultForbidPriority (a permit 0).
type ruleInput struct {
	policy.Rule
	Enabled  *bool `json:"enabled"`
	Priority *int  `json:"priority"`
}

// rule returns the rule and whether its priority was given.
func (in ruleInput) rule() (policy.Rule, bool) {
	r := in.Rule
	r.Enabled = in.Enabled == nil || *in.Enabled
	if in.PolicyText != "" && in.Enabled == nil {
		// policy_text carries @enabled itself; Normalize reads it there.
		r.Enabled = false
	}
	if in.Priority != nil {
		r.Priority = *in.Priority
	}
	return r, in.Priority != nil
}

// ruleView is a stored rule as the API returns it, with its Cedar text and
// (when it is an enabled forbid that some enabled permit of higher priority
// may pre-empt, see policy.Shadowed) the ids of those permits.
type ruleView struct {
	store.RuleRecord
	CedarText  string   `json:"cedar_text"`
	ShadowedBy []string `json:"shadowed_by"`
	// ScopeNote says how a resource scope that names an account is
	// evaluated (policy.AccountScopeNote), so that the widening of
	// `== AwsAccount` and `is AwsAccount` is visible on every such rule.
	ScopeNote string `json:"scope_note,omitempty"`
}

// ruleWarning is a warning about the rule set a change left behind.
type ruleWarning struct {
	Code       string   `json:"code"` // shadowed_forbid
	RuleID     string   `json:"rule_id"`
	ShadowedBy []string `json:"shadowed_by"`
	Message    string   `json:"message"`
}

// ruleChangeView answers a create or an update: the rule and warnings.
type ruleChangeView struct {
	ruleView
	Warnings []ruleWarning `json:"warnings"`
}

// A stored rule was normalized when written, so a failure here means a
// corrupt item: it surfaces as a logged 500, never as a rule without text.
func viewRule(rec store.RuleRecord, shadows map[string][]string) (ruleView, error) {
	text, err := policy.CedarText(rec.Rule)
	if err != nil {
		return ruleView{}, fmt.Errorf("stored rule %q does not assemble: %w", rec.ID, err)
	}
	by := shadows[rec.ID]
	if by == nil {
		by = []string{}
	}
	return ruleView{RuleRecord: rec, CedarText: text, ShadowedBy: by, ScopeNote: policy.AccountScopeNote(rec.Rule)}, nil
}

// shadows computes policy.Shadowed over the tenant's whole rule set.
func (d Deps) shadows(r *http.Request, tenant string) (map[string][]string, error) {
	rules, _, err := d.Store.LoadRuleSet(r.Context(), tenant)
	if err != nil {
		return nil, err
	}
	return policy.Shadowed(rules), nil
}

// shadowWarnings lists the shadowed forbids that concern a change: those
// whose id or shadowing permits include one of ids, ordered by forbid id.
func shadowWarnings(shadows map[string][]string, ids ...string) []ruleWarning {
	concerned := make(map[string]bool, len(ids))
	for _, id := range ids {
		concerned[id] = true
	}
	out := []ruleWarning{}
	for _, f := range slices.Sorted(maps.Keys(shadows)) {
		by := shadows[f]
		if !concerned[f] && !slices.ContainsFunc(by, func(p string) bool { return concerned[p] }) {
			continue
		}
		out = append(out, ruleWarning{Code: "shadowed_forbid", RuleID: f, ShadowedBy: by,
			Message: fmt.Sprintf("forbid %q never decides against the higher-priority permit(s) %s where their scopes overlap: give it a priority above theirs", f, strings.Join(by, ", "))})
	}
	return out
}

// writeRuleChange answers a committed create or update with the rule, its
// shadowed_by and the warnings about it. The change is committed: if the
// rule set cannot be read back for the warnings, that is logged and the
// answer carries none rather than failing a change that happened.
func (d Deps) writeRuleChange(w http.ResponseWriter, r *http.Request, tenant string, status int, rec store.RuleRecord) error {
	shadows, err := d.shadows(r, tenant)
	if err != nil {
		httpapi.Logger(r.Context()).Error("reading the rule set for shadow warnings failed", "rule_id", rec.ID, "error", err.Error())
	}
	v, err := viewRule(rec, shadows)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, status, ruleChangeView{ruleView: v, Warnings: shadowWarnings(shadows, rec.ID)})
	return nil
}

var policyReaders = []string{auth.ScopePoliciesRead, auth.ScopePoliciesWrite}

// ruleEvent is the audit event of a rule change, written in the change's
// own transaction (the change fails if it cannot be written).
func (d Deps) ruleEvent(id auth.Identity, action, ruleID string, before, after *policy.Rule) access.AuditEvent {
	return d.privilegedEvent(id, id.TenantID, action, access.AuditResourcePolicyRule, ruleID, ruleSummary(before), ruleSummary(after))
}

// ruleSummary is what the audit log records of a rule (nil: none).
func ruleSummary(r *policy.Rule) map[string]any {
	if r == nil {
		return nil
	}
	return map[string]any{"name": r.Name, "effect": r.Effect, "priority": r.Priority, "enabled": r.Enabled,
		"approval_mode": r.ApprovalMode, "principal": r.PrincipalScopeType + " " + r.PrincipalEntityType + " " + r.PrincipalEntityID,
		"resource": r.ResourceScopeType + " " + r.ResourceEntityType + " " + r.ResourceEntityID, "actions": r.ActionIDs,
		"conditions_sha256": sha256Hex(r.Conditions)}
}

// ListRules serves GET /v1/policy-rules.
func ListRules(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, policyReaders...)
		if err != nil {
			return err
		}
		limit, cursor, err := httpapi.PageParams(r)
		if err != nil {
			return err
		}
		recs, next, err := d.Store.ListRules(r.Context(), id.TenantID, store.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			return apiError(err, "policy rules")
		}
		shadows, err := d.shadows(r, id.TenantID)
		if err != nil {
			return apiError(err, "policy rules")
		}
		views := make([]ruleView, len(recs))
		for i, rec := range recs {
			if views[i], err = viewRule(rec, shadows); err != nil {
				return err
			}
		}
		httpapi.WriteJSON(w, http.StatusOK, httpapi.NewList(views, next))
		return nil
	})
}

// GetRule serves GET /v1/policy-rules/{id}.
func GetRule(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, policyReaders...)
		if err != nil {
			return err
		}
		rec, err := d.Store.GetRule(r.Context(), id.TenantID, r.PathValue("id"))
		if err != nil {
			return apiError(err, "policy rule")
		}
		shadows, err := d.shadows(r, id.TenantID)
		if err != nil {
			return apiError(err, "policy rules")
		}
		v, err := viewRule(rec, shadows)
		if err != nil {
			return err
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	})
}

// CreateRule serves POST /v1/policy-rules.
func CreateRule(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopePoliciesWrite)
		if err != nil {
			return err
		}
		var in ruleInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		rule, priorityGiven := in.rule()
		if rule.ID == "" && rule.PolicyText == "" {
			rule.ID = newID("rule-")
		}
		rule, err = policy.NormalizeInput(rule, priorityGiven)
		if err != nil {
			return apiError(err, "policy rule")
		}
		rec, err := d.Store.CreateRule(r.Context(), id.TenantID, rule, d.now(), d.ruleEvent(id, access.AuditRuleCreated, rule.ID, nil, &rule))
		if err != nil {
			return apiError(err, named("policy rule", rule.ID))
		}
		httpapi.Logger(r.Context()).Info("policy rule created", "rule_id", rule.ID)
		w.Header().Set("Location", "/v1/policy-rules/"+rule.ID)
		return d.writeRuleChange(w, r, id.TenantID, http.StatusCreated, rec)
	})
}

// UpdateRule serves PUT /v1/policy-rules/{id}: a full replacement. An
// `If-Match: <revision>` header makes it conditional on the stored revision
// (409 if it moved).
func UpdateRule(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopePoliciesWrite)
		if err != nil {
			return err
		}
		expected, err := ifMatch(r, "a rule revision")
		if err != nil {
			return err
		}
		var in ruleInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		pathID := r.PathValue("id")
		rule, priorityGiven := in.rule()
		if rule.PolicyText == "" && rule.ID == "" {
			rule.ID = pathID
		}
		rule, err = policy.NormalizeInput(rule, priorityGiven)
		if err != nil {
			return apiError(err, "policy rule")
		}
		if rule.ID != pathID {
			return httpapi.Invalid("the rule id in the body differs from the path",
				httpapi.FieldError{Field: "id", Message: "must equal " + strconv.Quote(httpapi.ClipID(pathID))})
		}
		// The audit event's "before" is the revision the update replaces:
		// without If-Match the update is conditional on the one read here
		// (a concurrent change is a 409, not a wrong "before").
		cur, err := d.Store.GetRule(r.Context(), id.TenantID, rule.ID)
		if err != nil {
			return apiError(err, named("policy rule", rule.ID))
		}
		if expected == 0 {
			expected = cur.Revision
		}
		before := &cur.Rule
		rec, err := d.Store.UpdateRule(r.Context(), id.TenantID, rule, expected, d.now(), d.ruleEvent(id, access.AuditRuleUpdated, rule.ID, before, &rule))
		if err != nil {
			return apiError(err, named("policy rule", rule.ID))
		}
		httpapi.Logger(r.Context()).Info("policy rule updated", "rule_id", rule.ID, "revision", rec.Revision)
		return d.writeRuleChange(w, r, id.TenantID, http.StatusOK, rec)
	})
}

// DeleteRule serves DELETE /v1/policy-rules/{id}.
func DeleteRule(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopePoliciesWrite)
		if err != nil {
			return err
		}
		ruleID := r.PathValue("id")
		cur, err := d.Store.GetRule(r.Context(), id.TenantID, ruleID)
		if err != nil {
			return apiError(err, named("policy rule", ruleID))
		}
		before := &cur.Rule
		if err := d.Store.DeleteRule(r.Context(), id.TenantID, ruleID, d.ruleEvent(id, access.AuditRuleDeleted, ruleID, before, nil)); err != nil {
			return apiError(err, named("policy rule", ruleID))
		}
		httpapi.Logger(r.Context()).Info("policy rule deleted", "rule_id", ruleID)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// ExportRules serves GET /v1/policy-rules/export: the whole rule set as one
// Cedar document (text/plain), ordered by priority, annotations included.
func ExportRules(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, policyReaders...)
		if err != nil {
			return err
		}
		rules, version, err := d.Store.LoadRuleSet(r.Context(), id.TenantID)
		if err != nil {
			return apiError(err, "policy rules")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+id.TenantID+`.cedar"`)
		w.Header().Set("X-Rule-Set-Version", strconv.FormatInt(version, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(policy.Export(rules)))
		return nil
	})
}

// MaxImportBytes bounds an imported Cedar document.
const MaxImportBytes = 1 << 20

// ImportRules serves POST /v1/policy-rules/import: the body is a Cedar
// document as exported (text/plain). Every rule in it is created or replaced
// by id; with ?replace=true rules not in the document are deleted. The
// document is validated whole before anything is written. A document
// without a single rule (an empty body is what `curl --data-binary
// @missing-file` sends) is a 400: there is nothing to import, and with
// replace=true it would delete every rule, which takes ?confirm=all.
func ImportRules(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopePoliciesWrite)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		replace, err := boolParam(q, "replace")
		if err != nil {
			return err
		}
		confirmAll := false
		switch c := q.Get("confirm"); {
		case c == "all" && replace:
			confirmAll = true
		case c == "all":
			return httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: "confirm", Message: "confirm=all only goes with replace=true"})
		case c != "" || q.Has("confirm"):
			return httpapi.Invalid("invalid query parameter", httpapi.FieldError{Field: "confirm", Message: "must be all"})
		}
		body, err := httpapi.ReadBody(r, MaxImportBytes)
		if err != nil {
			return err
		}
		rules, err := policy.Import(string(body))
		if err != nil {
			return apiError(err, "policy document")
		}
		switch {
		case len(rules) > 0 || confirmAll:
		case replace:
			return httpapi.Invalid("the document holds no rule: replacing with it would delete every rule; add confirm=all if that is what you want",
				httpapi.FieldError{Field: "document", Message: "holds no rule (confirm=all deletes every rule)"})
		default:
			return httpapi.Invalid("the document holds no rule: nothing to import",
				httpapi.FieldError{Field: "document", Message: "holds no rule"})
		}
		ruleIDs := make([]string, len(rules)) // the audit event's and the warnings' (the document's rules)
		for i, rule := range rules {
			ruleIDs[i] = rule.ID
		}
		ev := d.privilegedEvent(id, id.TenantID, access.AuditRulesImported, access.AuditResourcePolicyRule, "*", nil,
			importSummary(ruleIDs, replace))
		version, err := d.Store.ImportRules(r.Context(), id.TenantID, rules, replace, d.now(), ev)
		if err != nil {
			return apiError(err, "policy rules")
		}
		httpapi.Logger(r.Context()).Info("policy rules imported", "count", len(rules), "replace", replace, "rule_set_version", version)
		shadows, err := d.shadows(r, id.TenantID)
		if err != nil {
			httpapi.Logger(r.Context()).Error("reading the rule set for shadow warnings failed", "error", err.Error())
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"imported": len(rules), "replace": replace, "rule_set_version": version,
			"warnings": shadowWarnings(shadows, ruleIDs...)})
		return nil
	})
}

func sha256Hex(s string) string {
	if s == "" {
		return ""
	}
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// maxAuditedRuleIDs is how many imported rule ids the rules.imported event
// lists; beyond it the event carries their digest. Every chunk of a large
// import commits a copy of the event, and 10,000 ids of 64 characters
// (MaxImportRules) would make it ~650 KB: over DynamoDB's 400 KB item.
const maxAuditedRuleIDs = 200

// importSummary is the rules.imported event's metadata: the count, the
// mode and the rule ids, or for more than maxAuditedRuleIDs their SHA-256
// (of the ids, newline-separated, in document order), which the exported
// document reproduces.
func importSummary(ids []string, replace bool) map[string]any {
	md := map[string]any{"count": len(ids), "replace": replace}
	if len(ids) <= maxAuditedRuleIDs {
		md["rule_ids"] = ids
		return md
	}
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	md["rule_ids_sha256"] = hex.EncodeToString(sum[:])
	return md
}
