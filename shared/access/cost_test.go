package access_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// meter computes the capacity units of every successful call by DynamoDB's
// rules, from the real item sizes (read through an unmetered client before
// and after each write): a transactional write item costs 2 WCU per KB of
// the larger of the old and new item, a standard write 1 WCU per KB, a
// strongly consistent read 1 RCU per 4 KB (a Query: of the summed items).
// GSI propagation is not included.
type meter struct {
	mu       sync.Mutex
	raw      *dynamodb.Client
	table    string
	wcu, rcu float64
	calls    []string
}

func attrSize(av types.AttributeValue) int {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += attrSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += len(k) + attrSize(e) + 1
		}
		return n
	}
	return 0
}

func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + attrSize(v)
	}
	return n
}

func (m *meter) size(ctx context.Context, key map[string]types.AttributeValue) int {
	out, err := m.raw.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(m.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		return 0
	}
	return itemSize(out.Item)
}

func keyOfItem(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": item["PK"], "SK": item["SK"]}
}

func units(size, per int) float64 { return math.Max(1, math.Ceil(float64(size)/float64(per))) }

func (m *meter) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("meter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			type write struct {
				key    map[string]types.AttributeValue
				put    map[string]types.AttributeValue
				before int
			}
			var writes []write
			per := 1.0
			switch p := in.Parameters.(type) {
			case *dynamodb.TransactWriteItemsInput:
				per = 2
				for _, it := range p.TransactItems {
					switch {
					case it.Put != nil:
						writes = append(writes, write{key: keyOfItem(it.Put.Item), put: it.Put.Item})
					case it.Update != nil:
						writes = append(writes, write{key: it.Update.Key})
					case it.Delete != nil:
						writes = append(writes, write{key: it.Delete.Key})
					case it.ConditionCheck != nil:
						writes = append(writes, write{key: it.ConditionCheck.Key})
					}
				}
			case *dynamodb.UpdateItemInput:
				writes = append(writes, write{key: p.Key})
			case *dynamodb.PutItemInput:
				writes = append(writes, write{key: keyOfItem(p.Item), put: p.Item})
			case *dynamodb.DeleteItemInput:
				writes = append(writes, write{key: p.Key})
			}
			for i := range writes {
				writes[i].before = m.size(ctx, writes[i].key)
			}
			out, md, err := next.HandleInitialize(ctx, in)
			if err != nil {
				return out, md, err
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			var w, r float64
			name := fmt.Sprintf("%T", in.Parameters)
			for _, wr := range writes {
				after := m.size(ctx, wr.key)
				if wr.put != nil {
					after = itemSize(wr.put)
				}
				w += per * units(max(after, wr.before), 1024)
			}
			switch o := out.Result.(type) {
			case *dynamodb.GetItemOutput:
				r = units(itemSize(o.Item), 4096)
			case *dynamodb.QueryOutput:
				n := 0
				for _, it := range o.Items {
					n += itemSize(it)
				}
				r = units(n, 4096)
				if q, ok := in.Parameters.(*dynamodb.QueryInput); ok && !aws.ToBool(q.ConsistentRead) {
					r /= 2
				}
			}
			m.wcu += w
			m.rcu += r
			m.calls = append(m.calls, fmt.Sprintf("%s w=%.0f r=%.1f", strings.TrimPrefix(name, "*dynamodb."), w, r))
			return out, md, err
		}), middleware.After)
}

func (m *meter) take() (float64, float64, []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, r, c := m.wcu, m.rcu, m.calls
	m.wcu, m.rcu, m.calls = 0, 0, nil
	return w, r, c
}

// TestRequireLifecycleCost: create (with Idempotency-Key) → task token →
// approve → provision → expire stays within maxLifecycleWCU (30) and maxLifecycleRCU (10), counting
// the policy source's rule-set-version read like the API's cache does.
func TestRequireLifecycleCost(t *testing.T) {
	ctx := context.Background()
	raw, rawClient, table := dynamotest.New(t)
	if err := raw.CreateTenant(ctx, store.Tenant{ID: tenantA, Name: "Acme"}, store.APIKey{ID: "k", Name: "k", Hash: strings.Repeat("a", 64), Scopes: []string{"admin"}}); err != nil {
		t.Fatal(err)
	}
	m := &meter{raw: rawClient, table: table}
	// The same client (endpoint, credentials) with the meter added, so the
	// test runs against whatever endpoint the suite targets.
	counted := dynamodb.New(rawClient.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, m.middleware)
	})
	st := store.New(counted, table)
	ps, err := policy.Compile(testRules(t))
	if err != nil {
		t.Fatal(err)
	}
	wf := &recWorkflow{}
	svc := &access.Service{
		Repo: st,
		Policies: func(ctx context.Context, tenant string) (*policy.PolicySet, error) {
			if _, err := st.RuleSetVersion(ctx, tenant); err != nil { // what the API's cache does per call
				return nil, err
			}
			return ps, nil
		},
		Workflow: wf,
		Provider: recording.New(raw), // the Identity Center provider writes nothing to the table
	}
	token := strings.Repeat("T", 1024) // Step Functions task tokens are long
	var totalW, totalR float64
	phase := func(name string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w, r, calls := m.take()
		totalW += w
		totalR += r
		t.Logf("%-15s WCU %4.1f  RCU %4.1f  %v", name, w, r, calls)
	}
	var r access.Request
	var g access.Grant
	phase("create", func() error {
		res, err := svc.Create(ctx, alice, psInput(acctProd), "idem-1")
		r = res.Request
		return err
	})
	phase("task token", func() error { _, err := svc.StoreTaskToken(ctx, tenantA, r.ID, token); return err })
	phase("approve", func() error { _, err := svc.Approve(ctx, bob, r.ID, "ok, JIRA-42 checked"); return err })
	phase("provision", func() error {
		var err error
		g, err = svc.ProvisionGrant(ctx, tenantA, access.GrantIDFor(r.ID))
		return err
	})
	svc.Now = func() time.Time { return g.ExpiresAt.Add(time.Second) } // the workflow's wait is over
	phase("expire", func() error { var err error; g, err = svc.ExpireGrant(ctx, tenantA, g.ID); return err })
	t.Logf("require lifecycle total: %.1f WCU, %.1f RCU", totalW, totalR)
	if g.Status != access.GrantExpired {
		t.Fatalf("grant %s", g.Status)
	}
	if totalW > maxLifecycleWCU || totalR > maxLifecycleRCU {
		t.Fatalf("lifecycle costs %.1f WCU / %.1f RCU, ceiling %d / %d", totalW, totalR, maxLifecycleWCU, maxLifecycleRCU)
	}
	// The token is beside the request item, not in it.
	pk := &types.AttributeValueMemberS{Value: "T#" + tenantA + "#REQ#" + r.ID}
	get := func(sk string) map[string]types.AttributeValue {
		out, err := rawClient.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"PK": pk, "SK": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Item
	}
	meta, tok := get("META"), get("META#TOKEN")
	if _, ok := meta["task_token"]; ok || meta == nil {
		t.Fatalf("request item holds the task token (or is missing): %d bytes", itemSize(meta))
	}
	if v, ok := tok["task_token"].(*types.AttributeValueMemberS); !ok || v.Value != token {
		t.Fatal("task token item missing")
	}
	t.Logf("item sizes: request %d B (approved), token %d B", itemSize(meta), itemSize(tok))
}

// The lifecycle's ceilings. The task token (1024 characters here) lives in
// its own item under the request's partition (SK META#TOKEN), so the
// approve transaction rewrites a request item under 2 KB; the decision
// reads the request and the token with one Query (one read of the combined
// size).
const (
	maxLifecycleWCU = 30
	maxLifecycleRCU = 10
)
