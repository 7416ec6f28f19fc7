package audit_test

import (
	"context"
	"errors"
	"fmt"
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

// Scheduled anchoring of idle tenants (issue 11, item 4): a tenant whose
// chain advanced after its last anchor and then fell silent still gets an
// anchor once AnchorInterval has passed, found through the anchor-due
// markers (not by listing tenants), on the embedded DynamoDB with the
// extender's clock injected.

type idleStack struct {
	st      *store.Store
	client  *dynamodb.Client
	table   string
	anchors audit.DirAnchors
	ext     *audit.Extender
	now     time.Time
	seq     map[string]int
}

func newIdleStack(t *testing.T) *idleStack {
	st, client, table := dynamotest.New(t)
	s := &idleStack{st: st, client: client, table: table, anchors: audit.DirAnchors{Dir: t.TempDir()},
		now: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC), seq: map[string]int{}}
	s.ext = &audit.Extender{Repo: st, Signer: audit.HMACSigner{Key: testKey}, Anchors: s.anchors,
		AnchorEvery: 100, AnchorInterval: time.Minute, Now: func() time.Time { return s.now }}
	return s
}

// events commits n events of tenant t and chains them (as the stream
// would, at once).
func (s *idleStack) events(t *testing.T, tenant string, n int) {
	t.Helper()
	ctx := context.Background()
	var evs []access.AuditEvent
	for range n {
		s.seq[tenant]++
		evs = append(evs, access.AuditEvent{ID: fmt.Sprintf("evt_%08d", s.seq[tenant]), TenantID: tenant, ActorID: "alice", ActorType: "user",
			Action: access.AuditMessagePosted, ResourceType: "request", ResourceID: "req_1", Severity: access.SeverityInfo, CreatedAt: s.now})
	}
	stored, err := s.st.Commit(ctx, tenant, access.Change{Audit: evs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ext.Extend(ctx, tenant, stored); err != nil {
		t.Fatal(err)
	}
}

func (s *idleStack) latest(t *testing.T, tenant string) int64 {
	t.Helper()
	cp, ok, err := s.anchors.Latest(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return cp.Seq
}

func (s *idleStack) due(t *testing.T) []string {
	t.Helper()
	list, err := s.st.ListOverdue(context.Background(), store.DueAnchor, s.now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range list {
		out = append(out, d.TenantID)
	}
	return out
}

func (s *idleStack) anchorIdle(t *testing.T, want int) {
	t.Helper()
	n, err := s.ext.AnchorIdle(context.Background())
	if err != nil || n != want {
		t.Fatalf("AnchorIdle at %v: %d anchors, %v; want %d", s.now.Format(time.TimeOnly), n, err, want)
	}
}

func TestIdleTenantsGetAnchored(t *testing.T) {
	s := newIdleStack(t)
	// acme's first events are anchored at once (no anchor yet); busy and
	// quiet likewise.
	s.events(t, "acme", 3)
	s.events(t, "quiet", 2)
	if got := s.latest(t, "acme"); got != 3 {
		t.Fatalf("acme's first anchor at %d, want 3", got)
	}
	if d := s.due(t); len(d) != 0 {
		t.Fatalf("due right after anchoring: %v", d)
	}
	// 10 s later acme writes 2 more and falls silent: below AnchorEvery
	// and the latest anchor is younger than AnchorInterval, so the
	// extender does not anchor them; quiet writes nothing more.
	s.now = s.now.Add(10 * time.Second)
	s.events(t, "acme", 2)
	if got := s.latest(t, "acme"); got != 3 {
		t.Fatalf("acme anchored at %d on the stream, want still 3", got)
	}
	// Not due yet: the schedule does nothing and reads nothing but the
	// (empty) due range.
	s.now = s.now.Add(30 * time.Second)
	if d := s.due(t); len(d) != 0 {
		t.Fatalf("due 30 s after the append: %v", d)
	}
	s.anchorIdle(t, 0)
	// AnchorInterval after the unanchored append: due, and anchored.
	s.now = s.now.Add(31 * time.Second)
	if d := s.due(t); len(d) != 1 || d[0] != "acme" {
		t.Fatalf("due: %v, want [acme] (quiet has no unanchored head)", d)
	}
	s.anchorIdle(t, 1)
	if got := s.latest(t, "acme"); got != 5 {
		t.Fatalf("acme's latest anchor %d, want the head 5", got)
	}
	if d := s.due(t); len(d) != 0 {
		t.Fatalf("still due after the anchor: %v", d)
	}
	s.now = s.now.Add(time.Hour)
	s.anchorIdle(t, 0) // nothing new: no anchor, no write
	// Verify from the latest anchor covers the head: removing the
	// events it covers is now detected.
	v := &audit.Verifier{Repo: s.st, Signer: audit.HMACSigner{Key: testKey}, Anchors: s.anchors}
	res, err := audit.VerifyAll(context.Background(), v, "acme", access.VerifyOptions{})
	if err != nil || !res.Valid || res.LatestAnchor != 5 || res.AnchorSeq != 5 {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

func TestAnchorDueSurvivesARacingAppend(t *testing.T) {
	s := newIdleStack(t)
	ctx := context.Background()
	s.events(t, "acme", 1) // anchored at 1
	s.now = s.now.Add(time.Second)
	s.events(t, "acme", 1) // head 2, due at +1m
	// An anchor of seq 1 (written before the append was seen) must not
	// clear the marker of head 2.
	if err := s.st.AnchoredChain(ctx, "acme", 1); err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(2 * time.Minute)
	if d := s.due(t); len(d) != 1 {
		t.Fatalf("the marker of head 2 went with an anchor of 1: due %v", d)
	}
	s.anchorIdle(t, 1)
	if got := s.latest(t, "acme"); got != 2 {
		t.Fatalf("latest anchor %d, want 2", got)
	}
	// Appends 10 s and 40 s after the anchor (both too soon for the
	// extender to anchor): due AnchorInterval after the last one.
	s.now = s.now.Add(10 * time.Second)
	s.events(t, "acme", 1)
	s.now = s.now.Add(30 * time.Second)
	s.events(t, "acme", 1)
	s.now = s.now.Add(59 * time.Second)
	s.anchorIdle(t, 0)
	s.now = s.now.Add(time.Second)
	s.anchorIdle(t, 1)
	if got := s.latest(t, "acme"); got != 4 {
		t.Fatalf("latest anchor %d, want 4", got)
	}
}

func TestIdleAnchoringRefusesAnUnauthenticatedHead(t *testing.T) {
	s := newIdleStack(t)
	ctx := context.Background()
	s.events(t, "acme", 2)
	s.events(t, "other", 2)
	s.now = s.now.Add(5 * time.Second)
	s.events(t, "acme", 1)
	s.events(t, "other", 1)
	// Someone with table access plants a head after acme's (no MAC).
	head, _, err := s.st.ChainHead(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	forged := store.ChainEntry{TenantID: "acme", Seq: head.Seq + 1, EventID: "evt_forged", EventHash: head.EventHash, PrevHash: head.Hash, ChainedAt: s.now}
	forged.Hash = audit.EntryHash(forged)
	item, err := attributevalue.MarshalMap(forged)
	if err != nil {
		t.Fatal(err)
	}
	item["PK"], item["SK"] = &types.AttributeValueMemberS{Value: "T#acme#CHAIN"}, &types.AttributeValueMemberS{Value: fmt.Sprintf("SEQ#%020d", forged.Seq)}
	if _, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		t.Fatal(err)
	}
	s.now = s.now.Add(2 * time.Minute)
	n, err := s.ext.AnchorIdle(ctx)
	if n != 1 || !errors.Is(err, audit.ErrHeadUnauthenticated) {
		t.Fatalf("AnchorIdle: %d anchors, %v; want other's anchor and acme's head refused", n, err)
	}
	if got := s.latest(t, "acme"); got != 2 {
		t.Fatalf("the forged head was anchored: latest %d", got)
	}
	if got := s.latest(t, "other"); got != 3 {
		t.Fatalf("other not anchored: latest %d", got)
	}
	if d := s.due(t); len(d) != 1 || d[0] != "acme" {
		t.Fatalf("acme must stay due (an operator investigates): %v", d)
	}
}

func TestHandleDispatchesTheSchedule(t *testing.T) {
	s := newIdleStack(t)
	s.events(t, "acme", 1)
	s.now = s.now.Add(time.Second)
	s.events(t, "acme", 1)
	s.now = s.now.Add(2 * time.Minute)
	out, err := s.ext.Handle(context.Background(), []byte(`{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-12-03T12:02:01Z","region":"us-east-1","resources":["arn:aws:events:us-east-1:123456789012:rule/x"],"detail":{}}`))
	if err != nil || fmt.Sprint(out) != "map[anchored:1]" {
		t.Fatalf("scheduled invocation: %v %v", out, err)
	}
	if _, err := s.ext.Handle(context.Background(), []byte(`{"Records":[]}`)); err != nil {
		t.Fatalf("an empty stream batch: %v", err)
	}
}
