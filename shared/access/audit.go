package access

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Audit actions.
const (
	AuditRequestCreated     = "request.created"
	AuditRequestReviewed    = "request.reviewed" // one approval of several required
	AuditRequestApproved    = "request.approved"
	AuditRequestDenied      = "request.denied"
	AuditRequestCancelled   = "request.cancelled"
	AuditRequestExpired     = "request.expired"
	AuditRequestBreakGlass  = "request.break_glass"
	AuditGrantActive        = "grant.active"
	AuditGrantFailed        = "grant.failed"
	AuditGrantExpired       = "grant.expired"
	AuditGrantRevoked       = "grant.revoked"
	AuditGrantExtended      = "grant.extended"
	AuditGrantRevokeFailed  = "grant.revoke_failed"
	AuditWorkflowStepFailed = "workflow.step_failed"
	AuditMessagePosted      = "message.posted"
	AuditRuleCreated        = "rule.created"
	AuditRuleUpdated        = "rule.updated"
	AuditRuleDeleted        = "rule.deleted"
	AuditRulesImported      = "rules.imported"
	AuditSettingsUpdated    = "settings.updated"
	AuditChannelCreated     = "channel.created"
	AuditChannelUpdated     = "channel.updated"
	AuditChannelDeleted     = "channel.deleted"
	AuditDriftDetected      = "drift.detected"
	AuditAPIKeyCreated      = "api_key.created"
	AuditAPIKeyRevoked      = "api_key.revoked"
	AuditTenantCreated      = "tenant.created"
	AuditChannelTested      = "channel.tested"
	AuditResourceAPIKey     = "api_key"
	AuditResourceTenant     = "tenant"
	AuditResourcePolicyRule = auditResourcePolicyRule
	SeverityInfo            = "info"
	SeverityCritical        = "critical"
	SeverityWarning         = "warning"
	ActorTypeUser           = "user"
	ActorTypeAPIKey         = "api_key"
	ActorTypeSystem         = "system"
	ActorTypePolicy         = "policy"
	auditResourceRequest    = "request"
	auditResourceGrant      = "grant"
	auditResourcePolicyRule = "policy_rule"
)

// GenesisHash is the prev_hash of a tenant's first chain entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// AuditHash is the content hash of an event: lowercase hex SHA-256 of its
// canonical encoding, which is the JSON object (keys sorted, as
// encoding/json writes maps) of every field except hash (stored events
// have seq 0 and prev_hash "": their place in the tenant's chain is the
// chain entry's, shared/audit):
//
//	action, actor_id, actor_type, created_at (RFC3339Nano, UTC), id,
//	metadata (object or null), prev_hash, reasoning, resource_id,
//	resource_type, seq, severity, tenant_id
//
// Metadata must be normalized (NormalizeMetadata) before the event is
// stored, so that what is read back hashes the same.
func AuditHash(e AuditEvent) string {
	h := sha256.Sum256(auditCanonical(e))
	return hex.EncodeToString(h[:])
}

func auditCanonical(e AuditEvent) []byte {
	var md any
	if len(e.Metadata) > 0 {
		md = e.Metadata
	}
	m := map[string]any{
		"action":        e.Action,
		"actor_id":      e.ActorID,
		"actor_type":    e.ActorType,
		"created_at":    e.CreatedAt.UTC().Format(time.RFC3339Nano),
		"id":            e.ID,
		"metadata":      md,
		"prev_hash":     e.PrevHash,
		"reasoning":     e.Reasoning,
		"resource_id":   e.ResourceID,
		"resource_type": e.ResourceType,
		"seq":           e.Seq,
		"severity":      e.Severity,
		"tenant_id":     e.TenantID,
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Metadata that cannot be encoded never reaches here (it was
		// normalized through JSON); hash its printed form instead.
		m["metadata"] = fmt.Sprint(md)
		b, _ = json.Marshal(m)
	}
	return b
}

// VerifyOptions selects what VerifyAudit checks. By default it starts at
// the tenant's latest anchor (the newest checkpoint written outside the
// table); FromSeq names an older anchor; Genesis starts at the first
// event. Cursor continues a previous call (its NextCursor); Limit bounds
// the entries checked per call (default 1000, at most 10000).
type VerifyOptions struct {
	FromSeq int64
	Genesis bool
	Cursor  string
	Limit   int
}

// VerifyResult is the outcome of VerifyAudit, one page of it: Valid and
// the first broken seq with the reason, the entries checked in this call,
// where the walk started (FromSeq, the anchor it started from), the
// chain's head seen, and NextCursor/HasMore when the chain continues
// beyond this page (Valid then covers the pages so far).
type VerifyResult struct {
	Valid          bool   `json:"valid"`
	Checked        int64  `json:"checked"`
	FirstBrokenSeq int64  `json:"first_broken_seq,omitempty"`
	Reason         string `json:"reason,omitempty"`
	FromSeq        int64  `json:"from_seq"`
	AnchorSeq      int64  `json:"anchor_seq,omitempty"`
	LatestAnchor   int64  `json:"latest_anchor_seq,omitempty"`
	HeadSeq        int64  `json:"head_seq"`
	Anchors        int    `json:"anchors_checked"`
	NextCursor     string `json:"next_cursor,omitempty"`
	HasMore        bool   `json:"has_more"`
}

// AuditVerifier checks a tenant's chain against its anchors
// (shared/audit's Verifier).
type AuditVerifier interface {
	Verify(ctx context.Context, tenantID string, o VerifyOptions) (VerifyResult, error)
}
