package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

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

// Cursors are sealed: AES-256-GCM over the JSON of cursorWire, under a
// key derived (HKDF-SHA256) from the deployment's cursor secret, with the
// tenant and the viewer the page was read for as additional data. A client
// sees base64url(version || nonce || ciphertext): it cannot read the key
// inside (which, for a list filtered after the query, may name an item the
// viewer may not see), and it cannot forge, alter or replay a cursor on
// another tenant or for another viewer — every such cursor fails to open
// and is ErrBadCursor (an API 400). The decrypted key is still checked to
// lie inside the tenant and (cursorFitsQuery) to fit the list it is used
// with.
const (
	cursorVersion  = 2
	cursorNonceLen = 12
	// MinCursorSecretLen is the shortest cursor secret SetCursorSecret
	// accepts.
	MinCursorSecretLen = 32
)

// cursorCodec seals and opens cursors under one key.
type cursorCodec struct{ aead cipher.AEAD }

// newCursorCodec derives the cursor key from secret.
func newCursorCodec(secret []byte) (*cursorCodec, error) {
	if len(secret) < MinCursorSecretLen {
		return nil, fmt.Errorf("store: cursor secret must be at least %d bytes", MinCursorSecretLen)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "jitsudo-serverless cursor key v2", 32)
	if err != nil {
		return nil, fmt.Errorf("store: cursor key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("store: cursor key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("store: cursor key: %w", err)
	}
	return &cursorCodec{aead: aead}, nil
}

// randomCursorCodec is a codec under a fresh random key: cursors it issues
// open only in this process (tests, a single-process local stack).
func randomCursorCodec() *cursorCodec {
	secret := make([]byte, MinCursorSecretLen)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails (Go ≥ 1.24)
	c, err := newCursorCodec(secret)
	if err != nil {
		panic(err) // unreachable: the secret is long enough
	}
	return c
}

// cursorAAD binds a cursor to its tenant and viewer.
func cursorAAD(tenant, viewer string) []byte {
	return []byte("jitsudo-cursor\x00" + strconv.Itoa(cursorVersion) + "\x00" + tenant + "\x00" + viewer)
}

// encode seals a LastEvaluatedKey into a cursor for (tenant, viewer).
func (c *cursorCodec) encode(tenant, viewer string, key map[string]types.AttributeValue) (string, error) {
	plain, err := encodeCursor(tenant, key)
	if err != nil || plain == nil {
		return "", err
	}
	out := make([]byte, 1+cursorNonceLen, 1+cursorNonceLen+len(plain)+c.aead.Overhead())
	out[0] = cursorVersion
	_, _ = rand.Read(out[1:])
	out = c.aead.Seal(out, out[1:], plain, cursorAAD(tenant, viewer))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// decode opens a cursor issued to (tenant, viewer) and returns its
// ExclusiveStartKey, or nil for "". Anything else is ErrBadCursor.
func (c *cursorCodec) decode(tenant, viewer, cursor string) (map[string]types.AttributeValue, error) {
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
	if len(raw) < 1+cursorNonceLen+c.aead.Overhead() || raw[0] != cursorVersion {
		return nil, fmt.Errorf("%w: not a cursor", ErrBadCursor)
	}
	plain, err := c.aead.Open(nil, raw[1:1+cursorNonceLen], raw[1+cursorNonceLen:], cursorAAD(tenant, viewer))
	if err != nil {
		return nil, fmt.Errorf("%w: not issued for this tenant and caller, or altered", ErrBadCursor)
	}
	return decodeCursor(tenant, plain)
}

// cursorWire is what a sealed cursor holds: a format version, the tenant
// it was issued to and the primary (and index) key of the last item
// returned. All keys of the table are strings, so the key is a plain
// string map.
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

// encodeCursor turns a LastEvaluatedKey into the plaintext of a cursor for
// tenant (nil for an empty key). Only string key attributes are expected;
// anything else is a programming error.
func encodeCursor(tenant string, key map[string]types.AttributeValue) ([]byte, error) {
	if len(key) == 0 {
		return nil, nil
	}
	w := cursorWire{V: 1, T: tenant, K: make(map[string]string, len(key))}
	for name, av := range key {
		s, ok := av.(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("store: cursor: key attribute %s is not a string", name)
		}
		w.K[name] = s.Value
	}
	if _, err := validateCursorKey(tenant, w.K); err != nil {
		return nil, fmt.Errorf("store: cursor: refusing to encode key: %w", err)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("store: cursor: %w", err)
	}
	return b, nil
}

// decodeCursor returns the ExclusiveStartKey held by a cursor's plaintext.
// It fails with ErrBadCursor unless the cursor was issued to tenant and
// every partition key in it lies inside the tenant: never a key from
// elsewhere (a second line of defence behind the seal).
func decodeCursor(tenant string, raw []byte) (map[string]types.AttributeValue, error) {
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
