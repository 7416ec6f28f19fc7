package access_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The task token lives in its own item; StoreTaskToken writes it and then
// reads the request, deciders commit and then read it. Whatever the
// interleaving, a decided request's wait is resumed: by the decider (it
// saw the token) or by StoreTaskToken's caller (it saw the decision).

// hookRepo runs afterRead once, right after a decider read the request.
type hookRepo struct {
	*store.Store
	once      sync.Once
	afterRead func()
}

func (h *hookRepo) GetRequestWithToken(ctx context.Context, tenantID, id string) (access.Request, error) {
	r, err := h.Store.GetRequestWithToken(ctx, tenantID, id)
	h.once.Do(h.afterRead)
	return r, err
}

func TestTokenStoredBetweenDecisionReadAndCommit(t *testing.T) {
	ctx := context.Background()
	for _, decide := range []string{"approve", "deny", "cancel"} {
		t.Run(decide, func(t *testing.T) {
			e := newEnv(t)
			r := mustCreate(t, e, alice, psInput(acctProd)).Request
			var stored access.Request
			hr := &hookRepo{Store: e.store, afterRead: func() {
				var err error
				if stored, err = e.svc.StoreTaskToken(ctx, tenantA, r.ID, "tok-late"); err != nil {
					t.Error(err)
				}
			}}
			svc := *e.svc
			svc.Repo = hr
			var err error
			switch decide {
			case "approve":
				_, err = svc.Approve(ctx, bob, r.ID, "")
			case "deny":
				_, err = svc.Deny(ctx, bob, r.ID, "")
			case "cancel":
				_, err = svc.Cancel(ctx, alice, r.ID)
			}
			if err != nil {
				t.Fatal(err)
			}
			// StoreTaskToken saw the request pending, so its caller does
			// not resume: the decider must, with the token it read after
			// its commit.
			if stored.Status != access.StatusPending || stored.TaskToken != "tok-late" {
				t.Fatalf("StoreTaskToken returned %s %q", stored.Status, stored.TaskToken)
			}
			res := e.wf.Resumes()
			if len(res) != 1 || res[0].Token != "tok-late" {
				t.Fatalf("resumes: %+v", res)
			}
		})
	}
}

// afterTokenPut runs hook once, right after the PutItem of a task token
// item succeeded (before StoreTaskToken reads the request).
func afterTokenPut(hook func()) func(*middleware.Stack) error {
	var once sync.Once
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("after-token-put",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if p, ok := in.Parameters.(*dynamodb.PutItemInput); ok && err == nil {
					if sk, _ := p.Item["SK"].(*types.AttributeValueMemberS); sk != nil && sk.Value == "META#TOKEN" {
						once.Do(hook)
					}
				}
				return out, md, err
			}), middleware.After)
	}
}

func TestDecisionBetweenTokenWriteAndRead(t *testing.T) {
	ctx := context.Background()
	st, client, table := dynamotest.New(t)
	e := newEnvOn(t, st, table)
	r := mustCreate(t, e, alice, psInput(acctProd)).Request
	var decided access.Request
	hooked := dynamodb.New(client.Options(), func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, afterTokenPut(func() {
			var err error
			if decided, err = e.svc.Deny(ctx, bob, r.ID, "no"); err != nil {
				t.Error(err)
			}
		}))
	})
	svc := *e.svc
	svc.Repo = store.New(hooked, table)
	got, err := svc.StoreTaskToken(ctx, tenantA, r.ID, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if decided.Status != access.StatusDenied {
		t.Fatalf("deny: %s", decided.Status)
	}
	// The decider saw the token and resumed; StoreTaskToken saw the
	// decision (its caller resumes too: the second resume is refused by
	// Step Functions and harmless).
	if res := e.wf.Resumes(); len(res) != 1 || res[0].Token != "tok" || res[0].Outcome.Status != access.OutcomeDenied {
		t.Fatalf("resumes: %+v", res)
	}
	if got.Status != access.StatusDenied || got.TaskToken != "" {
		t.Fatalf("StoreTaskToken returned %s %q", got.Status, got.TaskToken)
	}
	// The left-over token is never used: later decisions find the request
	// decided.
	if _, err := e.svc.Approve(ctx, carol, r.ID, ""); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("approve after deny: %v", err)
	}
	if _, err := e.svc.Cancel(ctx, alice, r.ID); !errors.Is(err, access.ErrConflict) {
		t.Fatalf("cancel after deny: %v", err)
	}
	if n := len(e.wf.Resumes()); n != 1 {
		t.Fatalf("%d resumes", n)
	}
}

// TestTokenDecisionRace races StoreTaskToken with a decision, round after
// round: the wait is always resumed by one side or the other (or both).
func TestTokenDecisionRace(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	const rounds = 40
	for round := range rounds {
		requester := user(tenantA, fmt.Sprintf("racer%d", round), "engineering")
		r := mustCreate(t, e, requester, psInput(acctProd)).Request
		token := "tok-" + r.ID
		var (
			wg      sync.WaitGroup
			start   sync.WaitGroup
			stored  access.Request
			serr    error
			decided access.Request
			derr    error
		)
		start.Add(1)
		wg.Add(2)
		go func() {
			defer wg.Done()
			start.Wait()
			stored, serr = e.svc.StoreTaskToken(ctx, tenantA, r.ID, token)
		}()
		go func() {
			defer wg.Done()
			start.Wait()
			switch round % 3 {
			case 0:
				decided, derr = e.svc.Approve(ctx, bob, r.ID, "")
			case 1:
				decided, derr = e.svc.Deny(ctx, bob, r.ID, "")
			default:
				decided, derr = e.svc.Cancel(ctx, requester, r.ID)
			}
		}()
		start.Done()
		wg.Wait()
		if serr != nil || derr != nil {
			t.Fatalf("round %d: store %v, decide %v", round, serr, derr)
		}
		deciderResumed := false
		for _, rc := range e.wf.Resumes() {
			if rc.Token == token {
				deciderResumed = true
			}
		}
		callerResumes := stored.Status != access.StatusPending
		if !deciderResumed && !callerResumes {
			t.Fatalf("round %d: %s but the wait is never resumed (StoreTaskToken saw %s)", round, decided.Status, stored.Status)
		}
		if callerResumes && stored.Status != decided.Status {
			t.Fatalf("round %d: StoreTaskToken saw %s, decided %s", round, stored.Status, decided.Status)
		}
	}
	if v := verify(t, e, tenantA); !v.Valid {
		t.Fatalf("audit: %+v", v)
	}
}
