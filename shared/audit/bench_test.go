package audit_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// BenchmarkVerify verifies a chain of AUDIT_BENCH_EVENTS events (default
// 100,000) from genesis, page by page (10,000 entries), on the embedded
// DynamoDB, and reports the verification's time and the read units it
// costs on DynamoDB.
//
//	go test -run='^$' -bench=BenchmarkVerify -benchtime=1x -timeout=120m ./shared/audit/
//
// The chain is generated, not extended event by event: the events and
// the entries the extender would write (hash links, a MAC on the last
// entry of every store.MaxChainAppend, as its appends do; an anchor every
// 1,000 entries) are computed here and bulk-loaded with BatchWriteItem.
// The extender's REF# items are left out: verify does not read them. The
// embedded DynamoDB re-sorts its whole key list on every new item, so the
// load is quadratic in the table's size and dominates the run; only the
// verification is timed.
//
// Read units are computed from item sizes (the embedded DynamoDB reports
// no ConsumedCapacity): strongly consistent, chain entries by Query (1 RCU
// per 4 KB of a page's items), events by BatchGetItem (1 RCU per item,
// each rounded up to 4 KB).
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	st, client, table := dynamotest.New(b)
	signer := audit.HMACSigner{Key: testKey}
	anchors := audit.DirAnchors{Dir: b.TempDir()}
	t0 := time.Unix(1_800_000_000, 0).UTC()
	ext := &audit.Extender{Repo: st, Signer: signer, Anchors: anchors, Now: func() time.Time { return t0 }}
	setup := time.Now()
	var (
		batch                  []types.WriteRequest
		eventBytes, entryBytes int
		prev                   = access.GenesisHash
	)
	flush := func() {
		req := map[string][]types.WriteRequest{table: batch}
		for len(req[table]) > 0 {
			out, err := client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: req})
			if err != nil {
				b.Fatal(err)
			}
			req = out.UnprocessedItems
		}
		batch = batch[:0]
	}
	put := func(item map[string]types.AttributeValue) {
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == 25 {
			flush()
		}
	}
	for i := range n {
		e, item, err := store.AuditEventItem(tenant, access.AuditEvent{ID: fmt.Sprintf("evt_%010d", i), TenantID: tenant, ActorID: "alice", ActorType: "user",
			Action: access.AuditMessagePosted, ResourceType: "request", ResourceID: fmt.Sprintf("req_%06d", i/10),
			Severity: access.SeverityInfo, CreatedAt: t0.Add(time.Duration(i) * time.Second),
			Metadata: map[string]any{"message_id": fmt.Sprintf("msg_%010d", i), "author_type": "requester", "length": 42}})
		if err != nil {
			b.Fatal(err)
		}
		eventBytes = max(eventBytes, itemBytes(item))
		put(item)
		seq := int64(i + 1)
		en := store.ChainEntry{TenantID: tenant, Seq: seq, EventID: e.ID, EventHash: e.Hash, PrevHash: prev, ChainedAt: t0}
		en.Hash = audit.EntryHash(en)
		prev = en.Hash
		if seq%store.MaxChainAppend == 0 || seq == int64(n) {
			mac, err := signer.MAC(ctx, audit.EntryMACInput(tenant, seq, en.Hash))
			if err != nil {
				b.Fatal(err)
			}
			en.MAC, en.KeyID = hex.EncodeToString(mac), signer.KeyID()
		}
		entry, _, err := store.ChainEntryItems(tenant, en)
		if err != nil {
			b.Fatal(err)
		}
		entryBytes = max(entryBytes, itemBytes(entry))
		put(entry)
		if seq%1000 == 0 || seq == int64(n) {
			if err := ext.Anchor(ctx, tenant, en); err != nil {
				b.Fatal(err)
			}
		}
	}
	flush()
	b.Logf("setup: %d events and chain entries generated and loaded in %v", n, time.Since(setup).Round(time.Second))
	v := &audit.Verifier{Repo: st, Signer: signer, Anchors: anchors}
	b.ResetTimer()
	var res access.VerifyResult
	for range b.N {
		var err error
		res, err = audit.VerifyAll(ctx, v, tenant, access.VerifyOptions{Genesis: true, Limit: audit.MaxVerifyLimit})
		if err != nil || !res.Valid || res.Checked != int64(n) {
			b.Fatalf("%+v %v", res, err)
		}
	}
	b.StopTimer()
	perEventRCU := float64((eventBytes + 4095) / 4096)
	chainRCU := float64(n*entryBytes) / 4096
	b.ReportMetric(float64(n), "events")
	b.ReportMetric(perEventRCU*float64(n)+chainRCU, "RCU/verify")
	b.Logf("verified %d events (%d anchors); item sizes: event ≤ %d B, entry ≤ %d B; read units: events %.0f + chain %.0f",
		res.Checked, res.Anchors, eventBytes, entryBytes, perEventRCU*float64(n), chainRCU)
}

// itemBytes is DynamoDB's item size, roughly: names plus values.
func itemBytes(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + avBytes(v)
	}
	return n
}

func avBytes(v types.AttributeValue) int {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return len(x.Value)
	case *types.AttributeValueMemberN:
		return len(x.Value)/2 + 1
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range x.Value {
			n += len(k) + avBytes(e) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range x.Value {
			n += avBytes(e) + 1
		}
		return n
	}
	return 1
}
