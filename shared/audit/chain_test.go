package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

const tenant = "acme"

type fixture struct {
	st      *store.Store
	client  *dynamodb.Client
	table   string
	ext     *audit.Extender
	ver     *audit.Verifier
	anchors audit.DirAnchors
	ids     []string
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// newFixture commits n events (one per transaction, as requests do) and
// chains them in batches of batch, anchoring every anchorEvery entries.
func newFixture(t testing.TB, n, batch int, anchorEvery int64) *fixture {
	t.Helper()
	st, client, table := dynamotest.New(t)
	f := &fixture{st: st, client: client, table: table, anchors: audit.DirAnchors{Dir: t.TempDir()}}
	signer := audit.HMACSigner{Key: testKey}
	f.ext = &audit.Extender{Repo: st, Signer: signer, Anchors: f.anchors, AnchorEvery: anchorEvery, AnchorInterval: time.Hour}
	f.ver = &audit.Verifier{Repo: st, Signer: signer, Anchors: f.anchors}
	ctx := context.Background()
	var pending []access.AuditEvent
	for i := range n {
		ev := access.AuditEvent{ID: fmt.Sprintf("evt_%08d", i), TenantID: tenant, ActorID: "alice", ActorType: "user",
			Action: access.AuditMessagePosted, ResourceType: "request", ResourceID: fmt.Sprintf("req_%d", i%7),
			Severity: access.SeverityInfo, CreatedAt: time.Unix(1_800_000_000+int64(i), 0)}
		evs, err := st.Commit(ctx, tenant, access.Change{Audit: []access.AuditEvent{ev}})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, evs...)
		f.ids = append(f.ids, ev.ID)
		if len(pending) == batch || i == n-1 {
			if _, err := f.ext.Extend(ctx, tenant, pending); err != nil {
				t.Fatal(err)
			}
			pending = nil
		}
	}
	return f
}

func (f *fixture) verify(t testing.TB, o access.VerifyOptions) access.VerifyResult {
	t.Helper()
	res, err := audit.VerifyAll(context.Background(), f.ver, tenant, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
}

func (f *fixture) entry(t testing.TB, seq int64) store.ChainEntry {
	t.Helper()
	out, err := f.client.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(f.table),
		Key: f.key("T#"+tenant+"#CHAIN", fmt.Sprintf("SEQ#%020d", seq)), ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("entry %d: %v", seq, err)
	}
	var e store.ChainEntry
	if err := attributevalue.UnmarshalMap(out.Item, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) putEntry(t testing.TB, e store.ChainEntry) {
	t.Helper()
	item, err := attributevalue.MarshalMap(e)
	if err != nil {
		t.Fatal(err)
	}
	item["PK"], item["SK"] = &types.AttributeValueMemberS{Value: "T#" + tenant + "#CHAIN"}, &types.AttributeValueMemberS{Value: fmt.Sprintf("SEQ#%020d", e.Seq)}
	item["entity_type"] = &types.AttributeValueMemberS{Value: "CHAIN_ENTRY"}
	if _, err := f.client.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: item}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) del(t testing.TB, pk, sk string) {
	t.Helper()
	if _, err := f.client.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(f.table), Key: f.key(pk, sk)}); err != nil {
		t.Fatal(err)
	}
}

func TestChainVerifies(t *testing.T) {
	f := newFixture(t, 25, 4, 10)
	if v := f.verify(t, access.VerifyOptions{Genesis: true}); !v.Valid || v.Checked != 25 || v.HeadSeq != 25 {
		t.Fatalf("from genesis: %+v", v)
	}
	// Anchors at 4 (the first append) and 16 (10 past it, checked after
	// each append of 4). From the latest: only what follows it.
	latest, ok, err := f.anchors.Latest(context.Background(), tenant)
	if err != nil || !ok {
		t.Fatalf("no anchor: %v", err)
	}
	if v := f.verify(t, access.VerifyOptions{}); !v.Valid || v.AnchorSeq != latest.Seq || v.Checked != 25-latest.Seq+1 {
		t.Fatalf("from the latest anchor %d: %+v", latest.Seq, v)
	}
	if v := f.verify(t, access.VerifyOptions{FromSeq: 4}); !v.Valid || v.Checked != 22 {
		t.Fatalf("from the first anchor: %+v", v)
	}
	// Paginated: 3 entries per page.
	o := access.VerifyOptions{Genesis: true, Limit: 3}
	pages, checked := 0, int64(0)
	for {
		res, err := f.ver.Verify(context.Background(), tenant, o)
		if err != nil || !res.Valid {
			t.Fatalf("page %d: %+v %v", pages, res, err)
		}
		pages++
		checked += res.Checked
		if !res.HasMore {
			break
		}
		o.Cursor = res.NextCursor
	}
	if pages != 9 || checked != 25 {
		t.Fatalf("%d pages, %d checked", pages, checked)
	}
	// Redelivery (the stream is at least once) appends nothing.
	evs, err := f.st.GetAuditEvents(context.Background(), tenant, f.ids)
	if err != nil {
		t.Fatal(err)
	}
	again := make([]access.AuditEvent, 0, len(f.ids))
	for _, id := range f.ids {
		again = append(again, evs[id])
	}
	if n, err := f.ext.Extend(context.Background(), tenant, again); err != nil || n != 0 {
		t.Fatalf("redelivery appended %d: %v", n, err)
	}
}

// TestRewriteWithRecomputedHashesIsDetected: someone with write access to
// the table edits an event and recomputes its entry's event hash and every
// later entry's links and hashes, consistently. Without the chain key the
// MACs cannot follow: verify reports the chain invalid — from genesis and
// from the anchor before the edit.
func TestRewriteWithRecomputedHashesIsDetected(t *testing.T) {
	f := newFixture(t, 25, 4, 10)
	ctx := context.Background()
	const victim = 14
	e := f.entry(t, victim)
	evs, err := f.st.GetAuditEvents(ctx, tenant, []string{e.EventID})
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[e.EventID]
	ev.ActorID, ev.Reasoning = "someone-else", "rewritten"
	ev.Hash = access.AuditHash(ev)
	item, err := attributevalue.MarshalMap(ev)
	if err != nil {
		t.Fatal(err)
	}
	item["PK"], item["SK"] = &types.AttributeValueMemberS{Value: "T#" + tenant + "#AUDIT"}, &types.AttributeValueMemberS{Value: "EVT#" + ev.ID}
	item["entity_type"] = &types.AttributeValueMemberS{Value: "AUDIT"}
	if _, err := f.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(f.table), Item: item}); err != nil {
		t.Fatal(err)
	}
	prev := f.entry(t, victim-1).Hash
	for seq := int64(victim); seq <= 25; seq++ {
		x := f.entry(t, seq)
		if seq == victim {
			x.EventHash = ev.Hash
		}
		x.PrevHash = prev
		x.Hash = audit.EntryHash(x)
		prev = x.Hash
		f.putEntry(t, x)
	}
	for _, o := range []access.VerifyOptions{{Genesis: true}, {FromSeq: 4}} {
		v := f.verify(t, o)
		if v.Valid || v.FirstBrokenSeq < victim || !strings.Contains(v.Reason, "MAC") {
			t.Fatalf("%+v: rewrite not detected: %+v", o, v)
		}
	}
	// The extender refuses to build on the forged head.
	if _, err := f.ext.Extend(ctx, tenant, []access.AuditEvent{{ID: "evt_new", TenantID: tenant, Hash: "x"}}); err == nil {
		t.Fatal("extended a forged chain")
	}
}

// TestEditedEventIsDetected: an event changed without touching the chain.
func TestEditedEventIsDetected(t *testing.T) {
	f := newFixture(t, 8, 8, 100)
	ctx := context.Background()
	_, err := f.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(f.table), Key: f.key("T#"+tenant+"#AUDIT", "EVT#"+f.ids[2]),
		UpdateExpression:          aws.String("SET actor_id = :a"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":a": &types.AttributeValueMemberS{Value: "mallory"}}})
	if err != nil {
		t.Fatal(err)
	}
	if v := f.verify(t, access.VerifyOptions{Genesis: true}); v.Valid || v.FirstBrokenSeq != 3 {
		t.Fatalf("edit not detected: %+v", v)
	}
}

// TestDeletedTailIsDetected: the newest entries and their events removed,
// back to before the latest anchor: the chain no longer reaches the
// anchor, which lives outside the table.
func TestDeletedTailIsDetected(t *testing.T) {
	f := newFixture(t, 25, 5, 10)
	latest, _, _ := f.anchors.Latest(context.Background(), tenant)
	if latest.Seq < 20 {
		t.Fatalf("latest anchor %d", latest.Seq)
	}
	for seq := latest.Seq - 2; seq <= 25; seq++ {
		e := f.entry(t, seq)
		f.del(t, "T#"+tenant+"#CHAIN", fmt.Sprintf("SEQ#%020d", seq))
		f.del(t, "T#"+tenant+"#CHAIN", "REF#"+e.EventID)
		f.del(t, "T#"+tenant+"#AUDIT", "EVT#"+e.EventID)
	}
	for _, o := range []access.VerifyOptions{{Genesis: true}, {}, {FromSeq: 15}} {
		if v := f.verify(t, o); v.Valid || !strings.Contains(v.Reason, "removed") {
			t.Fatalf("%+v: deleted tail not detected: %+v", o, v)
		}
	}
}

// TestDeletedEventIsDetected: an event removed from the events partition
// (its entry kept) is reported at its entry.
func TestDeletedEventIsDetected(t *testing.T) {
	f := newFixture(t, 6, 6, 100)
	f.del(t, "T#"+tenant+"#AUDIT", "EVT#"+f.ids[4])
	if v := f.verify(t, access.VerifyOptions{Genesis: true}); v.Valid || v.FirstBrokenSeq != 5 {
		t.Fatalf("deleted event not detected: %+v", v)
	}
}

// TestForgedAnchorIsDetected: an anchor not MACed with the chain key.
func TestForgedAnchorIsDetected(t *testing.T) {
	f := newFixture(t, 6, 6, 100)
	head := f.entry(t, 6)
	forged := audit.Checkpoint{TenantID: tenant, Seq: 9, Head: head.Hash, Time: time.Now(), MAC: strings.Repeat("ab", 32)}
	if err := f.anchors.Put(context.Background(), forged); err != nil {
		t.Fatal(err)
	}
	if v := f.verify(t, access.VerifyOptions{}); v.Valid || !strings.Contains(v.Reason, "MAC") {
		t.Fatalf("forged anchor accepted: %+v", v)
	}
}
