package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

// Errors every store method maps DynamoDB outcomes onto. Callers test them
// with errors.Is.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrConflict  = errors.New("store: conflict") // a condition failed: exists already, or changed meanwhile
	ErrBadCursor = errors.New("store: bad cursor")
	// ErrBadPage: a Page.Limit outside 0..250 (an API 400).
	ErrBadPage = errors.New("store: bad page limit")
	// ErrInvalidTenant: a tenant id that fails ValidTenantID. Every method
	// checks it before touching the table.
	ErrInvalidTenant = errors.New("store: invalid tenant id")
	// ErrInvalidInput: an argument the store cannot key or store (empty
	// id, malformed key hash, duplicate ids in an import, ...). An API 400.
	ErrInvalidInput = errors.New("store: invalid input")
)

// ConflictError is an ErrConflict that says what the state is now, in
// words fit for an API client (Message, no package prefix) and as data
// (Current: e.g. {"revision": 3}).
type ConflictError struct {
	Message string
	Current map[string]any
}

func (e *ConflictError) Error() string { return "store: " + e.Message }

// Unwrap makes a ConflictError an ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// conflict builds a *ConflictError.
func conflict(current map[string]any, format string, args ...any) error {
	return &ConflictError{Message: fmt.Sprintf(format, args...), Current: current}
}

// Tenant is one customer organisation. RuleSetVersion grows by one with every
// change to the tenant's policy rules, so warm Lambdas know when to recompile.
type Tenant struct {
	ID             string    `json:"id" dynamodbav:"tenant_id"`
	Name           string    `json:"name" dynamodbav:"name"`
	CreatedAt      time.Time `json:"created_at" dynamodbav:"created_at"`
	RuleSetVersion int64     `json:"rule_set_version" dynamodbav:"rule_set_version"`
}

// APIKey is a tenant credential for automation. Only the SHA-256 of the raw
// key is stored (Hash, lowercase hex); Prefix is the first characters of the
// raw key, for people to recognise it.
type APIKey struct {
	ID        string     `json:"id" dynamodbav:"key_id"`
	TenantID  string     `json:"tenant_id" dynamodbav:"tenant_id"`
	Name      string     `json:"name" dynamodbav:"name"`
	Hash      string     `json:"-" dynamodbav:"key_hash"`
	Prefix    string     `json:"prefix" dynamodbav:"prefix"`
	Scopes    []string   `json:"scopes" dynamodbav:"scopes"`
	CreatedBy string     `json:"created_by" dynamodbav:"created_by"`
	CreatedAt time.Time  `json:"created_at" dynamodbav:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty" dynamodbav:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty" dynamodbav:"revoked_at,omitempty"`
	// LastUsedAt is when the key last authenticated a call, to within
	// the authorizer's touch interval (auth.Config.KeyTouchEvery); nil
	// if never (or not since tracking began). Kept on the id item only.
	LastUsedAt *time.Time `json:"last_used_at,omitempty" dynamodbav:"last_used_at,omitempty"`
}

// RuleRecord is a stored policy rule with its bookkeeping.
type RuleRecord struct {
	policy.Rule
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Revision grows with every update of this rule (optimistic locking).
	Revision int64 `json:"revision"`
}

// Page asks for one page of a list.
type Page struct {
	Limit  int    // 1..250; 0 means 50
	Cursor string // opaque, from a previous page's NextCursor
	// Viewer is who the page is read for (the caller's principal id, or ""
	// for a tenant-wide list): a cursor is sealed to its tenant and viewer
	// and refused (ErrBadCursor) for any other.
	Viewer string
}
