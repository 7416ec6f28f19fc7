package store

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

func sKey(kv ...string) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = &types.AttributeValueMemberS{Value: kv[i+1]}
	}
	return m
}

func TestValidTenantID(t *testing.T) {
	good := []string{"ab", "acme", "a-b", "0a", "acme-corp-1", strings.Repeat("a", 63)}
	bad := []string{"", "a", "-ab", "Acme", "ac#me", "ac me", "acme_", strings.Repeat("a", 64), "ümlaut", "a\x00"}
	for _, id := range good {
		if !ValidTenantID(id) {
			t.Errorf("ValidTenantID(%q) = false, want true", id)
		}
	}
	for _, id := range bad {
		if ValidTenantID(id) {
			t.Errorf("ValidTenantID(%q) = true, want false", id)
		}
	}
}

func TestPageLimit(t *testing.T) {
	for in, want := range map[int]int{0: 50, 1: 1, 250: 250} {
		got, err := pageLimit(Page{Limit: in})
		if err != nil || got != want {
			t.Errorf("pageLimit(%d) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []int{-1, 251, 1 << 30} {
		if _, err := pageLimit(Page{Limit: in}); !errors.Is(err, ErrBadPage) {
			t.Errorf("pageLimit(%d) err = %v, want ErrBadPage", in, err)
		}
	}
}

func testCodec(t testing.TB) *cursorCodec {
	c, err := newCursorCodec([]byte(strings.Repeat("k", MinCursorSecretLen)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCursorRoundTrip(t *testing.T) {
	cc := testCodec(t)
	key := sKey(AttrPK, rulesPK("acme"), AttrSK, ruleSK("r1"))
	c, err := cc.encode("acme", "alice", key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cc.decode("acme", "alice", c)
	if err != nil {
		t.Fatal(err)
	}
	if got[AttrPK].(*types.AttributeValueMemberS).Value != rulesPK("acme") || got[AttrSK].(*types.AttributeValueMemberS).Value != ruleSK("r1") {
		t.Fatalf("round trip: %v", got)
	}
	if err := cursorFitsQuery(got, "", rulesPK("acme")); err != nil {
		t.Fatalf("cursorFitsQuery: %v", err)
	}
	// Same tenant, other list: refused.
	if err := cursorFitsQuery(got, "", apiKeysPK("acme")); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("cursor replayed on another list: %v", err)
	}
	if err := cursorFitsQuery(got, IndexGSI1, "T#acme#X"); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("cursor replayed on an index: %v", err)
	}
	// Other tenant, other viewer, another deployment's key: refused.
	if _, err := cc.decode("acme2", "alice", c); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("other tenant: err = %v, want ErrBadCursor", err)
	}
	if _, err := cc.decode("acme", "bob", c); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("other viewer: err = %v, want ErrBadCursor", err)
	}
	if _, err := randomCursorCodec().decode("acme", "alice", c); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("other key: err = %v, want ErrBadCursor", err)
	}
	// Encoding refuses keys outside the tenant.
	if _, err := cc.encode("acme", "", sKey(AttrPK, rulesPK("evil"), AttrSK, "x")); err == nil {
		t.Fatal("encode accepted another tenant's key")
	}
	if _, err := newCursorCodec([]byte("short")); err == nil {
		t.Fatal("a short cursor secret was accepted")
	}
}

// TestCursorIsOpaque: a cursor does not show the key it holds (in a list
// filtered after the query that key may be an item the viewer may not
// see), and every altered byte makes it ErrBadCursor.
func TestCursorIsOpaque(t *testing.T) {
	cc := testCodec(t)
	secret := "req_01carolssecretrequest00"
	c, err := cc.encode("acme", "alice", sKey(AttrPK, requestPK("acme", secret), AttrSK, "META",
		AttrGSI3PK, allRequestsPK("acme"), AttrGSI3SK, secret))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c, string(raw)} {
		for _, leak := range []string{secret, "carol", "acme", "META", "REQ#"} {
			if strings.Contains(s, leak) {
				t.Fatalf("cursor shows %q", leak)
			}
		}
	}
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x01
		if _, err := cc.decode("acme", "alice", base64.RawURLEncoding.EncodeToString(bad)); !errors.Is(err, ErrBadCursor) {
			t.Fatalf("byte %d altered: err = %v, want ErrBadCursor", i, err)
		}
	}
	if _, err := cc.decode("acme", "alice", c[:len(c)-2]); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("truncated: err = %v", err)
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	cc := testCodec(t)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	// seal seals any plaintext as the codec would (what someone holding
	// the key could forge): the plaintext checks still apply.
	seal := func(s string) string {
		out := make([]byte, 1+cursorNonceLen)
		out[0] = cursorVersion
		return base64.RawURLEncoding.EncodeToString(cc.aead.Seal(out, out[1:], []byte(s), cursorAAD("acme", "")))
	}
	cases := map[string]string{
		"garbage":            "!!!not base64!!!",
		"not sealed":         enc("hello"),
		"old plaintext json": enc(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a"}}`),
		"not json":           seal("hello"),
		"wrong tenant":       seal(`{"v":1,"t":"other","k":{"PK":"T#other#RULES","SK":"RULE#a"}}`),
		"foreign partition":  seal(`{"v":1,"t":"acme","k":{"PK":"T#other#RULES","SK":"RULE#a"}}`),
		"prefix not tenant":  seal(`{"v":1,"t":"acme","k":{"PK":"T#acme-corp#RULES","SK":"RULE#a"}}`),
		"foreign gsi":        seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a","GSI1PK":"T#other#S","GSI1SK":"x"}}`),
		"half gsi":           seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a","GSI1PK":"T#acme#S"}}`),
		"unknown attr":       seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a","X":"y"}}`),
		"no sk":              seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R"}}`),
		"empty key":          seal(`{"v":1,"t":"acme","k":{}}`),
		"bad version":        seal(`{"v":2,"t":"acme","k":{"PK":"T#acme#R","SK":"a"}}`),
		"unknown field":      seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a"},"x":1}`),
		"trailing":           seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a"}}{}`),
		"too long":           strings.Repeat("A", maxCursorLen+1),
	}
	for name, c := range cases {
		if _, err := cc.decode("acme", "", c); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%s: err = %v, want ErrBadCursor", name, err)
		}
	}
	if _, err := cc.decode("acme", "", seal(`{"v":1,"t":"acme","k":{"PK":"T#acme#R","SK":"a"}}`)); err != nil {
		t.Errorf("valid cursor refused: %v", err)
	}
}

func FuzzDecodeCursor(f *testing.F) {
	cc := testCodec(f)
	good, _ := cc.encode("acme", "", sKey(AttrPK, rulesPK("acme"), AttrSK, ruleSK("r1")))
	gsi, _ := cc.encode("acme", "", sKey(AttrPK, "T#acme#REQ#1", AttrSK, "META", AttrGSI1PK, "T#acme#REQSTATUS#pending", AttrGSI1SK, "2026"))
	other, _ := cc.encode("other", "", sKey(AttrPK, rulesPK("other"), AttrSK, ruleSK("r1")))
	viewer, _ := cc.encode("acme", "bob", sKey(AttrPK, rulesPK("acme"), AttrSK, ruleSK("r1")))
	for _, s := range []string{good, gsi, other, viewer, "", "x", "eyJ2IjoxfQ", "e30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := cc.decode("acme", "", s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v is not ErrBadCursor", err)
			}
			return
		}
		if s == "" {
			if key != nil {
				t.Fatal("empty cursor gave a key")
			}
			return
		}
		if _, ok := key[AttrPK]; !ok {
			t.Fatal("accepted cursor without PK")
		}
		for name, av := range key {
			sv, ok := av.(*types.AttributeValueMemberS)
			if !ok {
				t.Fatalf("attribute %s is not a string", name)
			}
			if keyAttrKinds[name] && sv.Value != "T#acme" && !strings.HasPrefix(sv.Value, "T#acme#") {
				t.Fatalf("accepted key outside the tenant: %s=%q", name, sv.Value)
			}
		}
		// Whatever is accepted re-encodes and decodes to the same key.
		again, err := cc.encode("acme", "", key)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := cc.decode("acme", "", again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if _, err := cc.decode("acmf", "", s); err == nil {
			t.Fatal("cursor accepted for two tenants")
		}
		if _, err := cc.decode("acme", "bob", s); err == nil {
			t.Fatal("cursor accepted for two viewers")
		}
	})
}

// A policy.Rule field whose json tag collides with a key or bookkeeping
// attribute would silently corrupt stored rules; catch it when the policy
// package grows.
func TestRuleAttributesDoNotCollide(t *testing.T) {
	r := policy.Rule{
		ID: "r", Name: "n", Description: "d", Priority: 1, Enabled: true, Effect: "permit",
		PrincipalScopeType: "eq", PrincipalEntityType: "User", PrincipalEntityID: "u",
		ActionScopeType: "in", ActionIDs: []string{"a"}, ResourceScopeType: "eq",
		ResourceEntityType: "AwsAccount", ResourceEntityID: "1", Conditions: "when { true }",
		ApprovalMode: "auto", ApprovalTimeout: "1h", ApprovalsRequired: 2, Notice: "x", NotificationChannel: "c",
	}
	if _, err := ruleItem("acme", RuleRecord{Rule: r}); err != nil {
		t.Fatal(err)
	}
	rr := r
	rr.PolicyText = "permit(principal, action, resource);"
	if err := checkRule(rr); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("rule with policy_text: err = %v", err)
	}
}

func TestKeysStartWithTenant(t *testing.T) {
	for _, pk := range []string{tenantPK("acme"), rulesPK("acme"), apiKeysPK("acme"), apiKeyHashPK("acme", strings.Repeat("a", 64))} {
		if !partitionOwnedBy("acme", pk) {
			t.Errorf("%s not owned by acme", pk)
		}
		if partitionOwnedBy("acm", pk) || partitionOwnedBy("acme-x", pk) {
			t.Errorf("%s owned by another tenant", pk)
		}
	}
}

func TestTableSchema(t *testing.T) {
	in := TableSchema("t")
	if in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %s", in.BillingMode)
	}
	if len(in.AttributeDefinitions) != 12 || len(in.GlobalSecondaryIndexes) != 5 {
		t.Fatalf("schema: %d attributes, %d GSIs", len(in.AttributeDefinitions), len(in.GlobalSecondaryIndexes))
	}
	for i, g := range in.GlobalSecondaryIndexes {
		want := []string{IndexGSI1, IndexGSI2, IndexGSI3, IndexGSI4, IndexGSI5}[i]
		proj := types.ProjectionTypeAll
		if want == IndexGSI4 || want == IndexGSI5 {
			proj = types.ProjectionTypeKeysOnly // sparse, read for keys only
		}
		if *g.IndexName != want || g.Projection.ProjectionType != proj ||
			*g.KeySchema[0].AttributeName != want+"PK" || *g.KeySchema[1].AttributeName != want+"SK" {
			t.Errorf("GSI %d: %+v", i, g)
		}
	}
}

func tce(codes ...string) error {
	e := &types.TransactionCanceledException{}
	for _, c := range codes {
		e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: &c})
	}
	return fmt.Errorf("wrapped: %w", e)
}

// minidyn serializes everything, so it never reports contention; the
// classification of real DynamoDB's cancellation reasons is tested here.
func TestCancellationClassification(t *testing.T) {
	cases := []struct {
		err     error
		retry   bool
		failIdx int
	}{
		{tce("None", "ConditionalCheckFailed"), false, 1},
		{tce("ConditionalCheckFailed", "None"), false, 0},
		{tce("None", "TransactionConflict"), true, -1},
		{tce("ThrottlingError", "None"), true, -1},
		{tce("TransactionConflict", "ConditionalCheckFailed"), false, 1},
		{tce("ValidationError"), false, -1},
		{&types.ConditionalCheckFailedException{}, false, 0},
		{errors.New("boom"), false, -1},
	}
	for i, c := range cases {
		if got := contentionOnly(c.err); got != c.retry {
			t.Errorf("case %d: contentionOnly = %v", i, got)
		}
		if got := failedAt(c.err); got != c.failIdx {
			t.Errorf("case %d: failedAt = %d, want %d", i, got, c.failIdx)
		}
	}
}
