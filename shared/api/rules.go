package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// ruleInput is a rule as API callers send it: `enabled` defaults to true
// when absent; `id` is generated when absent on create.
type ruleInput struct {
	policy.Rule
	Enabled *bool `json:"enabled"`
}

func (in ruleInput) rule() policy.Rule {
	r := in.Rule
	r.Enabled = in.Enabled == nil || *in.Enabled
	if in.PolicyText != "" && in.Enabled == nil {
		// policy_text carries @enabled itself; Normalize reads it there.
		r.Enabled = false
	}
	return r
}

// ruleView is a stored rule as the API returns it, with its Cedar text.
type ruleView struct {
	store.RuleRecord
	CedarText string `json:"cedar_text"`
}

// A stored rule was normalized when written, so a failure here means a
// corrupt item: it surfaces as a logged 500, never as a rule without text.
func viewRule(rec store.RuleRecord) (ruleView, error) {
	text, err := policy.CedarText(rec.Rule)
	if err != nil {
		return ruleView{}, fmt.Errorf("stored rule %q does not assemble: %w", rec.ID, err)
	}
	return ruleView{RuleRecord: rec, CedarText: text}, nil
}

// writeRule answers with one rule and its Cedar text.
func writeRule(w http.ResponseWriter, status int, rec store.RuleRecord) error {
	v, err := viewRule(rec)
	if err != nil {
		return err
	}
	httpapi.WriteJSON(w, status, v)
	return nil
}

var policyReaders = []string{auth.ScopePoliciesRead, auth.ScopePoliciesWrite}

// auditRuleChange appends the rule change to the tenant's audit log. The
// change itself is already committed (its own transaction with the
// rule-set version bump), so a failure here is logged, not returned: the
// caller's change happened and must not be retried as if it had not.
func (d Deps) auditRuleChange(r *http.Request, id auth.Identity, action, ruleID string, meta map[string]any) {
	if d.Access == nil {
		return
	}
	if err := d.Access.RecordRuleChange(r.Context(), caller(id), action, ruleID, meta); err != nil {
		httpapi.Logger(r.Context()).Error("audit of a rule change failed", "action", action, "rule_id", ruleID, "error", err.Error())
	}
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
		views := make([]ruleView, len(recs))
		for i, rec := range recs {
			if views[i], err = viewRule(rec); err != nil {
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
		return writeRule(w, http.StatusOK, rec)
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
		rule := in.rule()
		if rule.ID == "" && rule.PolicyText == "" {
			rule.ID = newID("rule-")
		}
		rule, err = policy.Normalize(rule)
		if err != nil {
			return apiError(err, "policy rule")
		}
		rec, err := d.Store.CreateRule(r.Context(), id.TenantID, rule, d.now())
		if err != nil {
			return apiError(err, named("policy rule", rule.ID))
		}
		httpapi.Logger(r.Context()).Info("policy rule created", "rule_id", rule.ID)
		d.auditRuleChange(r, id, access.AuditRuleCreated, rule.ID, map[string]any{"revision": rec.Revision})
		w.Header().Set("Location", "/v1/policy-rules/"+rule.ID)
		return writeRule(w, http.StatusCreated, rec)
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
		rule := in.rule()
		if rule.PolicyText == "" && rule.ID == "" {
			rule.ID = pathID
		}
		rule, err = policy.Normalize(rule)
		if err != nil {
			return apiError(err, "policy rule")
		}
		if rule.ID != pathID {
			return httpapi.Invalid("the rule id in the body differs from the path",
				httpapi.FieldError{Field: "id", Message: "must equal " + strconv.Quote(httpapi.ClipID(pathID))})
		}
		rec, err := d.Store.UpdateRule(r.Context(), id.TenantID, rule, expected, d.now())
		if err != nil {
			return apiError(err, named("policy rule", rule.ID))
		}
		httpapi.Logger(r.Context()).Info("policy rule updated", "rule_id", rule.ID, "revision", rec.Revision)
		d.auditRuleChange(r, id, access.AuditRuleUpdated, rule.ID, map[string]any{"revision": rec.Revision})
		return writeRule(w, http.StatusOK, rec)
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
		if err := d.Store.DeleteRule(r.Context(), id.TenantID, ruleID); err != nil {
			return apiError(err, named("policy rule", ruleID))
		}
		httpapi.Logger(r.Context()).Info("policy rule deleted", "rule_id", ruleID)
		d.auditRuleChange(r, id, access.AuditRuleDeleted, ruleID, nil)
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
// document is validated whole before anything is written.
func ImportRules(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopePoliciesWrite)
		if err != nil {
			return err
		}
		replace, err := boolParam(r.URL.Query(), "replace")
		if err != nil {
			return err
		}
		body, err := httpapi.ReadBody(r, MaxImportBytes)
		if err != nil {
			return err
		}
		rules, err := policy.Import(string(body))
		if err != nil {
			return apiError(err, "policy document")
		}
		version, err := d.Store.ImportRules(r.Context(), id.TenantID, rules, replace, d.now())
		if err != nil {
			return apiError(err, "policy rules")
		}
		httpapi.Logger(r.Context()).Info("policy rules imported", "count", len(rules), "replace", replace, "rule_set_version", version)
		d.auditRuleChange(r, id, access.AuditRulesImported, "*", map[string]any{"count": len(rules), "replace": replace, "rule_set_version": version})
		httpapi.WriteJSON(w, http.StatusOK, map[string]any{"imported": len(rules), "replace": replace, "rule_set_version": version})
		return nil
	})
}
