package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
)

// BenchmarkVerify verifies a chain of AUDIT_BENCH_EVENTS events (default
// 100,000) from genesis, page by page (10,000 entries), on the embedded
// DynamoDB, and reports the read units the verification costs on
// DynamoDB (strongly consistent: chain entries by Query, 1 RCU per 4 KB of
// a page; events by BatchGetItem, 1 RCU per item up to 4 KB).
//
//	go test -run='^$' -bench=BenchmarkVerify -benchtime=1x -timeout=60m ./shared/audit/
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	st, _, _ := dynamotest.New(b)
	signer := audit.HMACSigner{Key: testKey}
	anchors := audit.DirAnchors{Dir: b.TempDir()}
	ext := &audit.Extender{Repo: st, Signer: signer, Anchors: anchors, AnchorEvery: 1000, AnchorInterval: time.Hour}
	setup := time.Now()
	const perTx = 100
	var eventBytes, entryBytes int
	for start := 0; start < n; start += perTx {
		var evs []access.AuditEvent
		for i := start; i < min(start+perTx, n); i++ {
			evs = append(evs, access.AuditEvent{ID: fmt.Sprintf("evt_%010d", i), TenantID: tenant, ActorID: "alice", ActorType: "user",
				Action: access.AuditMessagePosted, ResourceType: "request", ResourceID: fmt.Sprintf("req_%06d", i/10),
				Severity: access.SeverityInfo, CreatedAt: time.Unix(1_800_000_000+int64(i), 0),
				Metadata: map[string]any{"message_id": fmt.Sprintf("msg_%010d", i), "author_type": "requester", "length": 42}})
		}
		stored, err := st.Commit(ctx, tenant, access.Change{Audit: evs})
		if err != nil {
			b.Fatal(err)
		}
		if eventBytes == 0 {
			item, _ := attributevalue.MarshalMap(stored[0])
			eventBytes = itemBytes(item) + 60 // + keys, entity type, created_key
		}
		if _, err := ext.Extend(ctx, tenant, stored); err != nil {
			b.Fatal(err)
		}
	}
	head, _, _ := st.ChainHead(ctx, tenant)
	item, _ := attributevalue.MarshalMap(head)
	entryBytes = itemBytes(item) + 40
	b.Logf("setup: %d events committed and chained in %v", n, time.Since(setup).Round(time.Second))
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
	b.Logf("verified %d events (%d anchors); item sizes: event ~%d B, entry ~%d B; read units: events %.0f + chain %.0f",
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
