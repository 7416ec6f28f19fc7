package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Pagination limits (DESIGN §3).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 250
	maxCursorLen     = 4096
)

// pageLimit validates p.Limit and applies the default.
func pageLimit(p Page) (int, error) {
	switch {
	case p.Limit < 0 || p.Limit > MaxPageLimit:
		return 0, fmt.Errorf("%w: limit must be between 1 and %d", ErrBadPage, MaxPageLimit)
	case p.Limit == 0:
		return DefaultPageLimit, nil
	}
	return p.Limit, nil
}

// cursorWire is what a cursor holds: a format version, the tenant it was
// issued to and the primary (and index) key of the last item returned. All
// keys of the table are strings, so the key is a plain string map. The cursor
// is base64url(JSON); it is opaque to clients but not secret. It needs no
// signature: decodeCursor only accepts keys inside the caller's tenant, so a
// forged cursor can at most skip within the tenant's own data.
type cursorWire struct {
	V int               `json:"v"`
	T string            `json:"t"`
	K map[string]string `json:"k"`
}

// keyAttrKinds lists every key attribute a cursor may carry; true marks the
// partition keys, which must lie inside the tenant.
var keyAttrKinds = map[string]bool{
	AttrPK: true, AttrSK: false,
	AttrGSI1PK: true, AttrGSI1SK: false,
	AttrGSI2PK: true, AttrGSI2SK: false,
	AttrGSI3PK: true, AttrGSI3SK: false,
	AttrGSI4PK: true, AttrGSI4SK: false,
}

// encodeCursor turns a LastEvaluatedKey into a cursor for tenant. Only string
// key attributes are expected; anything else is a programming error.
func encodeCursor(tenant string, key map[string]types.AttributeValue) (string, error) {
	if len(key) == 0 {
		return "", nil
	}
	w := cursorWire{V: 1, T: tenant, K: make(map[string]string, len(key))}
	for name, av := range key {
		s, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("store: cursor: key attribute %s is not a string", name)
		}
		w.K[name] = s.Value
	}
	if _, err := validateCursorKey(tenant, w.K); err != nil {
		return "", fmt.Errorf("store: cursor: refusing to encode key: %w", err)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("store: cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor returns the ExclusiveStartKey held by cursor, or nil for "".
// It fails with ErrBadCursor unless the cursor was issued to tenant and every
// partition key in it lies inside the tenant: never a key from elsewhere.
func decodeCursor(tenant, cursor string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	if !ValidTenantID(tenant) {
		return nil, ErrInvalidTenant
	}
	if len(cursor) > maxCursorLen {
		return nil, fmt.Errorf("%w: too long", ErrBadCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var w cursorWire
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: not a cursor", ErrBadCursor)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data", ErrBadCursor)
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: unknown version", ErrBadCursor)
	}
	if w.T != tenant {
		return nil, fmt.Errorf("%w: issued to another tenant", ErrBadCursor)
	}
	return validateCursorKey(tenant, w.K)
}

// validateCursorKey checks a decoded key and converts it to attribute values.
func validateCursorKey(tenant string, k map[string]string) (map[string]types.AttributeValue, error) {
	if k[AttrPK] == "" || k[AttrSK] == "" {
		return nil, fmt.Errorf("%w: missing table key", ErrBadCursor)
	}
	out := make(map[string]types.AttributeValue, len(k))
	for name, v := range k {
		isPartition, known := keyAttrKinds[name]
		if !known {
			return nil, fmt.Errorf("%w: unknown key attribute", ErrBadCursor)
		}
		if v == "" || len(v) > 2048 {
			return nil, fmt.Errorf("%w: bad key value", ErrBadCursor)
		}
		if isPartition && !partitionOwnedBy(tenant, v) {
			return nil, fmt.Errorf("%w: key outside the tenant", ErrBadCursor)
		}
		out[name] = &types.AttributeValueMemberS{Value: v}
	}
	// An index key comes as a pair or not at all.
	for _, idx := range []string{IndexGSI1, IndexGSI2, IndexGSI3, IndexGSI4} {
		a := indexKeyAttrs[idx]
		_, hasPK := k[a[0]]
		_, hasSK := k[a[1]]
		if hasPK != hasSK {
			return nil, fmt.Errorf("%w: incomplete index key", ErrBadCursor)
		}
	}
	return out, nil
}

// cursorFitsQuery checks that a decoded start key belongs to the query it is
// used with: the same index's key attributes and the same partition. Without
// this a cursor from one list of the tenant could be replayed on another.
func cursorFitsQuery(start map[string]types.AttributeValue, index, partition string) error {
	if start == nil {
		return nil
	}
	want := map[string]bool{AttrPK: true, AttrSK: true}
	ia := indexKeyAttrs[index]
	want[ia[0]], want[ia[1]] = true, true
	if len(start) != len(want) {
		return fmt.Errorf("%w: not a cursor for this list", ErrBadCursor)
	}
	for name := range start {
		if !want[name] {
			return fmt.Errorf("%w: not a cursor for this list", ErrBadCursor)
		}
	}
	pk, _ := start[ia[0]].(*types.AttributeValueMemberS)
	if pk == nil || pk.Value != partition {
		return fmt.Errorf("%w: not a cursor for this list", ErrBadCursor)
	}
	return nil
}
