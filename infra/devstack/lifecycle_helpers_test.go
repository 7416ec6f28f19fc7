package devstack_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/jitsudo/jitsudo-serverless/infra/devstack"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/infra/openapicheck"
	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/infra/testparallel"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
)

// minParallel is the default -test.parallel of this package. Its tests
// each run a whole stack and spend most of their time waiting on it — the
// lifecycle tests ~65 s on the workflow's timers (a 60 s grant, a 1 m
// approval timeout) — not on CPU. With go test's default (GOMAXPROCS, 2 on
// a small CI runner) those waits would run one after another.
const minParallel = 16

// TestMain raises -test.parallel to minParallel unless it was given.
func TestMain(m *testing.M) {
	testparallel.AtLeast(minParallel)
	os.Exit(openapicheck.RunValidated(m)) // every /v1 call through http.DefaultClient (env.do, listAll, …) validated
}

// newEnvWithDB is newEnv on a DynamoDB server the test holds a client of,
// for the tests that must reach around the API (tampering).
func newEnvWithDB(t *testing.T) (*env, *dynamodb.Client) {
	t.Helper()
	endpoint, stop := dynamolocal.Start()
	t.Cleanup(stop)
	keys, err := devstack.TestKeys()
	if err != nil {
		t.Fatal(err)
	}
	st, err := devstack.Start(t.Context(), devstack.Config{Addr: "127.0.0.1:0", DynamoDBEndpoint: endpoint, Logger: slog.New(slog.DiscardHandler),
		TimeScale: timeScale, SigningKeys: keys})
	if err != nil {
		t.Fatalf("devstack.Start: %v", err)
	}
	t.Cleanup(st.Close) // runs before stop
	demo, err := devstack.Seed(t.Context(), st)
	if err != nil {
		t.Fatalf("devstack.Seed: %v", err)
	}
	return &env{t: t, st: st, demo: demo}, dynamolocal.Client(endpoint)
}

// More of the seeded people.
func (e *env) bob() map[string]string {
	return devstack.BearerHeaders(e.demo.TenantID, e.demo.Reviewer.Token)
}
func (e *env) carol() map[string]string {
	return devstack.BearerHeaders(e.demo.TenantID, e.demo.Reviewer2.Token)
}

// mallory is globex's requester on her own tenant.
func (e *env) mallory() map[string]string {
	return devstack.BearerHeaders(e.demo.OtherTenantID, e.demo.OtherRequester.Token)
}

// user mints a JWT for an acme person the seed does not have.
func (e *env) user(id string, groups ...string) map[string]string {
	e.t.Helper()
	tok, err := e.st.Issuer.Mint(map[string]any{
		"sub": id, "aud": e.st.Audience, "tenant_id": e.demo.TenantID, "groups": groups, "email": id + "@acme.example",
	}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return devstack.BearerHeaders(e.demo.TenantID, tok)
}

// accessRequest is a POST /v1/requests body for an account.
func accessRequest(acct string, durationSeconds int, justification string) map[string]any {
	return map[string]any{"resource": account(acct), "duration_seconds": durationSeconds, "justification": justification}
}

// requireRule lets engineers request acct with approvals approvals within timeout.
func requireRule(id, acct, timeout string, approvals int) map[string]any {
	return map[string]any{
		"id": id, "name": "require " + id, "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": acct,
		"approval_mode": "require", "approval_timeout": timeout, "approvals_required": approvals,
	}
}

// reqOut is a request as the API returns it (with its grant on create).
type reqOut struct {
	access.Request
	Grant *access.Grant `json:"grant"`
}

// page is the list envelope.
type page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
	HasMore    bool   `json:"has_more"`
}

func decodeAs[T any](t testing.TB, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, r.Body)
	}
	return v
}

// errDetails is the details object of an error response.
func errDetails(t testing.TB, r resp) map[string]any {
	t.Helper()
	var v struct {
		Details map[string]any `json:"details"`
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("error body: %v: %s", err, r.Body)
	}
	return v.Details
}

// create POSTs an access request and wants 201.
func (e *env) create(h map[string]string, body any) reqOut {
	e.t.Helper()
	return decodeAs[reqOut](e.t, e.want(http.StatusCreated, "POST", "/v1/requests", h, body))
}

func (e *env) request(h map[string]string, id string) reqOut {
	e.t.Helper()
	return decodeAs[reqOut](e.t, e.want(http.StatusOK, "GET", "/v1/requests/"+id, h, nil))
}

func (e *env) grant(h map[string]string, id string) access.Grant {
	e.t.Helper()
	return decodeAs[access.Grant](e.t, e.want(http.StatusOK, "GET", "/v1/grants/"+id, h, nil))
}

// review POSTs approve/deny/cancel and wants 200.
func (e *env) review(h map[string]string, id, verb string, body any) reqOut {
	e.t.Helper()
	return decodeAs[reqOut](e.t, e.want(http.StatusOK, "POST", "/v1/requests/"+id+"/"+verb, h, body))
}

func (e *env) messages(h map[string]string, id string) []access.Message {
	e.t.Helper()
	p := decodeAs[page[access.Message]](e.t, e.want(http.StatusOK, "GET", "/v1/requests/"+id+"/messages?limit=250", h, nil))
	if p.HasMore {
		e.t.Fatalf("more than 250 messages on %s", id)
	}
	return p.Data
}

// listAll pages through a list route (path may carry a query) with limit.
func listAll[T any](e *env, h map[string]string, path string, limit int) []T {
	e.t.Helper()
	var out []T
	cursor := ""
	for n := 0; ; n++ {
		if n > 200 {
			e.t.Fatalf("%s: the list never ends", path)
		}
		u, err := url.Parse(path)
		if err != nil {
			e.t.Fatal(err)
		}
		q := u.Query()
		q.Set("limit", fmt.Sprint(limit))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		u.RawQuery = q.Encode()
		p := decodeAs[page[T]](e.t, e.want(http.StatusOK, "GET", u.String(), h, nil))
		if p.Data == nil || len(p.Data) > limit || p.HasMore != (p.NextCursor != "") {
			e.t.Fatalf("%s: bad page: %+v", u, p)
		}
		out = append(out, p.Data...)
		if !p.HasMore {
			return out
		}
		cursor = p.NextCursor
	}
}

// audit lists the tenant's audit events matching query (url.Values
// encoded, "" for all), newest first, with the admin key h.
func (e *env) audit(h map[string]string, query url.Values) []access.AuditEvent {
	e.t.Helper()
	return listAll[access.AuditEvent](e, h, "/v1/audit-log?"+query.Encode(), 250)
}

func actions(evs []access.AuditEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Action
	}
	return out
}

// findEvent returns the first event with action, or fails.
func findEvent(t testing.TB, evs []access.AuditEvent, action string) access.AuditEvent {
	t.Helper()
	for _, ev := range evs {
		if ev.Action == action {
			return ev
		}
	}
	t.Fatalf("no %s event among %v", action, actions(evs))
	return access.AuditEvent{}
}

// holders are the grants holding g's assignment in the recording provider.
func (e *env) holders(g access.Grant) []string {
	e.t.Helper()
	hs, err := recording.New(e.st.Store).Holders(e.t.Context(), access.AssignmentOf(g))
	if err != nil {
		e.t.Fatalf("assignment holders of %s: %v", g.ID, err)
	}
	return hs
}

// execution is the local Step Functions' view of a request's workflow.
func (e *env) execution(requestID string) stepfunctions.Execution {
	e.t.Helper()
	x, err := stepfunctions.DebugExecution(e.t.Context(), e.st.Workflow.Endpoint, requestID)
	if err != nil {
		e.t.Fatalf("execution %s: %v", requestID, err)
	}
	return x
}

const pollEvery = 200 * time.Millisecond

// eventually polls cond until it holds or timeout passes (then fails with
// cond's description of the last state).
func (e *env) eventually(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within %s; last seen: %s", what, timeout, last)
		}
		select {
		case <-e.t.Context().Done():
			e.t.Fatalf("%s: %v", what, e.t.Context().Err())
		case <-time.After(pollEvery):
		}
	}
}

func (e *env) waitGrant(h map[string]string, id, status string, timeout time.Duration) access.Grant {
	e.t.Helper()
	var g access.Grant
	e.eventually(timeout, "grant "+id+" "+status, func() (bool, string) {
		g = e.grant(h, id)
		return g.Status == status, fmt.Sprintf("%+v", g)
	})
	return g
}

func (e *env) waitRequest(h map[string]string, id, status string, timeout time.Duration) reqOut {
	e.t.Helper()
	var r reqOut
	e.eventually(timeout, "request "+id+" "+status, func() (bool, string) {
		r = e.request(h, id)
		return r.Status == status, fmt.Sprintf("%+v", r.Request)
	})
	return r
}

// waitExecution waits until the request's execution has finished.
func (e *env) waitExecution(requestID string, timeout time.Duration) stepfunctions.Execution {
	e.t.Helper()
	var x stepfunctions.Execution
	e.eventually(timeout, "execution "+requestID+" finished", func() (bool, string) {
		x = e.execution(requestID)
		return x.Status != "RUNNING", fmt.Sprintf("%+v", x)
	})
	return x
}

// waitState waits until the request's execution has entered state.
func (e *env) waitState(requestID, state string, timeout time.Duration) stepfunctions.Execution {
	e.t.Helper()
	var x stepfunctions.Execution
	e.eventually(timeout, "execution "+requestID+" in "+state, func() (bool, string) {
		x = e.execution(requestID)
		return slices.Contains(x.States, state), fmt.Sprintf("%+v", x)
	})
	return x
}

// waitToken waits until the approval wait's task token is stored, so a
// decision resumes the execution through SendTaskSuccess/Failure.
func (e *env) waitToken(requestID string) {
	e.t.Helper()
	e.eventually(30*time.Second, "task token of "+requestID, func() (bool, string) {
		tok, err := e.st.Store.GetTaskToken(e.t.Context(), e.demo.TenantID, requestID)
		if err != nil {
			return false, err.Error()
		}
		return tok != "", "no token"
	})
}

// systemMessages are the bodies of a conversation's system messages.
func systemMessages(msgs []access.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.AuthorType == "system" {
			out = append(out, m.Body)
		}
	}
	return out
}

func hasPrefix(ss []string, prefix string) bool {
	return slices.ContainsFunc(ss, func(s string) bool { return strings.HasPrefix(s, prefix) })
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}
