package stepfunctions_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

const repoRoot = "../.."

func install(t *testing.T) string {
	t.Helper()
	dir, err := stepfunctions.Dir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := stepfunctions.Install(ctx, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPlaceholdersAreWorkers: the ASL's ${...} placeholders are exactly the
// workers' <LogicalID>Arn (what template.yaml substitutes).
func TestPlaceholdersAreWorkers(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "statemachines", "access-request.asl.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range routes.Workers {
		if !strings.Contains(string(data), "${"+routes.LogicalID(w)+"Arn}") {
			t.Errorf("worker %s is not referenced as ${%sArn}", w, routes.LogicalID(w))
		}
	}
}

type Throttled struct{}

func (Throttled) Error() string { return "slow down" }

type Retryable struct{ msg string }

func (r *Retryable) Error() string { return r.msg }

func TestLambdaInvokeHandler(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/lambda", stepfunctions.LambdaInvokeHandler(map[string]stepfunctions.LambdaFunc{
		"echo":  func(_ context.Context, p json.RawMessage) (json.RawMessage, error) { return p, nil },
		"retry": func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, &Retryable{"try again"} },
		"value": func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, Throttled{} },
		"wrapped": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, fmt.Errorf("x: %w", Throttled{})
		},
		"panics": func(context.Context, json.RawMessage) (json.RawMessage, error) { panic("boom") },
	})))
	defer srv.Close()
	cases := []struct {
		fn, body  string
		status    int
		errorType string
		contains  string
	}{
		{"echo", `{"a":1}`, 200, "", `{"a":1}`},
		{stepfunctions.FunctionARN("echo"), `{"b":2}`, 200, "", `{"b":2}`},
		{"retry", `{}`, 200, "Retryable", `"errorMessage":"try again"`},
		{"value", `{}`, 200, "Throttled", `slow down`},
		{"wrapped", `{}`, 200, "wrapError", `x: slow down`},
		{"panics", `{}`, 200, "string", `boom`},
		{"nobody", `{}`, 404, "", `Function not found`},
	}
	for _, c := range cases {
		resp, err := http.Post(srv.URL+"/lambda/2015-03-31/functions/"+c.fn+"/invocations", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.contains) {
			t.Errorf("%s: %d %s, want %d containing %s", c.fn, resp.StatusCode, body, c.status, c.contains)
		}
		fe := resp.Header.Get("X-Amz-Function-Error")
		if (fe != "") != (c.errorType != "") {
			t.Errorf("%s: X-Amz-Function-Error %q", c.fn, fe)
		}
		if c.errorType != "" {
			var e struct{ ErrorType, ErrorMessage string }
			if err := json.Unmarshal(body, &e); err != nil || e.ErrorType != c.errorType {
				t.Errorf("%s: errorType %q (%v), want %q", c.fn, e.ErrorType, err, c.errorType)
			}
		}
	}
}

// TestRequireLambdaSecret: the guarded endpoint answers only a request
// with the secret, no browser markers and a JSON body; everything else is
// refused before the function runs.
func TestRequireLambdaSecret(t *testing.T) {
	secret, err := stepfunctions.NewLambdaSecret()
	if err != nil || len(secret) != 64 {
		t.Fatalf("secret %q, %v", secret, err)
	}
	if other, _ := stepfunctions.NewLambdaSecret(); other == secret {
		t.Fatal("two secrets are equal")
	}
	var calls atomic.Int32
	fns := map[string]stepfunctions.LambdaFunc{
		"expire": func(_ context.Context, p json.RawMessage) (json.RawMessage, error) { calls.Add(1); return p, nil },
	}
	guarded := httptest.NewServer(stepfunctions.RequireLambdaSecret(secret, stepfunctions.LambdaInvokeHandler(fns)))
	defer guarded.Close()
	unset := httptest.NewServer(stepfunctions.RequireLambdaSecret("", stepfunctions.LambdaInvokeHandler(fns)))
	defer unset.Close()
	cases := []struct {
		name    string
		srv     *httptest.Server
		headers map[string]string
		status  int
	}{
		{"the shim", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret}, 200},
		{"with charset", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Content-Type": "application/json; charset=utf-8"}, 200},
		{"no secret", guarded, nil, 403},
		{"wrong secret", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret[:63] + "x"}, 403},
		{"secret prefix", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret[:32]}, 403},
		{"empty secret configured", unset, map[string]string{stepfunctions.LambdaSecretHeader: ""}, 403},
		{"Origin", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Origin": "https://evil.example"}, 403},
		{"Origin null", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Origin": "null"}, 403},
		{"cross-site fetch", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Sec-Fetch-Site": "cross-site"}, 403},
		{"same-site fetch", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Sec-Fetch-Site": "same-site"}, 403},
		{"form post", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Content-Type": "application/x-www-form-urlencoded"}, 415},
		{"text/plain", guarded, map[string]string{stepfunctions.LambdaSecretHeader: secret, "Content-Type": "text/plain"}, 415},
		{"browser form without secret", guarded, map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
	}
	want := int32(0)
	for _, c := range cases {
		req, err := http.NewRequest(http.MethodPost, c.srv.URL+"/2015-03-31/functions/expire/invocations", strings.NewReader(`{"request_id":"r1"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c.status == 200 {
			want++
		}
		if resp.StatusCode != c.status || calls.Load() != want {
			t.Errorf("%s: %d %s (function ran %d times, want %d), want %d", c.name, resp.StatusCode, body, calls.Load(), want, c.status)
		}
	}
}

// TestShimAPI drives the shim with the real sfn client: name idempotency,
// the SDK's typed errors, StopExecution closing the wait, and lambda
// errors surfacing under their errorType.
func TestShimAPI(t *testing.T) {
	install(t)
	var mu sync.Mutex
	tokens := map[string]string{}
	// The workers are guarded as the dev stack guards them: the shim
	// must send the secret it was given.
	secret, err := stepfunctions.NewLambdaSecret()
	if err != nil {
		t.Fatal(err)
	}
	lambdas := httptest.NewServer(stepfunctions.RequireLambdaSecret(secret, stepfunctions.LambdaInvokeHandler(map[string]stepfunctions.LambdaFunc{
		"store-task-token": func(_ context.Context, p json.RawMessage) (json.RawMessage, error) {
			var in struct {
				RequestID string `json:"request_id"`
				TaskToken string `json:"task_token"`
			}
			if err := json.Unmarshal(p, &in); err != nil {
				return nil, err
			}
			mu.Lock()
			tokens[in.RequestID] = in.TaskToken
			mu.Unlock()
			return json.RawMessage(`{}`), nil
		},
		"provision-grant": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, errors.New("no provider") // errorType errorString → FailGrant
		},
		"fail-grant": func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, &Retryable{"table busy"} // retried, then the execution fails with it
		},
	})))
	defer lambdas.Close()
	subs := map[string]string{}
	for _, w := range routes.Workers {
		subs[routes.LogicalID(w)+"Arn"] = stepfunctions.FunctionARN(w)
	}
	ctx := context.Background()
	endpoint, stop, err := stepfunctions.Start(ctx, stepfunctions.Config{
		ASLFiles:       []string{filepath.Join(repoRoot, "statemachines", "access-request.asl.json")},
		Substitutions:  subs,
		LambdaEndpoint: lambdas.URL,
		LambdaSecret:   secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := sfn.NewFromConfig(wiring.AWSConfig(endpoint, "us-east-1"))
	arn := stepfunctions.StateMachineARN("access-request")

	start := func(name, input string) (*sfn.StartExecutionOutput, error) {
		return client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn), Name: aws.String(name), Input: aws.String(input)})
	}
	in := `{"tenant_id":"acme","request_id":"r1","mode":"require","approval_timeout_seconds":60}`
	first, err := start("r1", in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := start("r1", in)
	if err != nil || aws.ToString(again.ExecutionArn) != aws.ToString(first.ExecutionArn) {
		t.Errorf("same name and input while running: %v %v, want the same execution", again, err)
	}
	var exists *types.ExecutionAlreadyExists
	if _, err := start("r1", `{"tenant_id":"acme","request_id":"r1","mode":"auto"}`); !errors.As(err, &exists) {
		t.Errorf("same name, other input: %v, want ExecutionAlreadyExists", err)
	}
	var noMachine *types.StateMachineDoesNotExist
	if _, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(arn + "x"), Name: aws.String("r2")}); !errors.As(err, &noMachine) {
		t.Errorf("unknown state machine: %v, want StateMachineDoesNotExist", err)
	}

	var token string
	deadline := time.Now().Add(10 * time.Second)
	for token == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		token = tokens["r1"]
		mu.Unlock()
	}
	if token == "" {
		t.Fatal("store-task-token never got a token")
	}
	if _, err := client.SendTaskHeartbeat(ctx, &sfn.SendTaskHeartbeatInput{TaskToken: aws.String(token)}); err != nil {
		t.Errorf("heartbeat of a waiting task: %v", err)
	}
	var invalid *types.InvalidToken
	if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String("garbage"), Output: aws.String("{}")}); !errors.As(err, &invalid) {
		t.Errorf("malformed token: %v, want InvalidToken", err)
	}
	var missing *types.TaskDoesNotExist
	if _, err := client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String("lsfn1.nope")}); !errors.As(err, &missing) {
		t.Errorf("unknown token: %v, want TaskDoesNotExist", err)
	}
	var badOutput *types.InvalidOutput
	if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String("{not json")}); !errors.As(err, &badOutput) {
		t.Errorf("output not JSON: %v, want InvalidOutput", err)
	}

	if _, err := client.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: first.ExecutionArn, Error: aws.String("Test")}); err != nil {
		t.Fatal(err)
	}
	d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: first.ExecutionArn})
	if err != nil || d.Status != types.ExecutionStatusAborted {
		t.Errorf("after StopExecution: %v %v, want ABORTED", d, err)
	}
	var timedOut *types.TaskTimedOut
	if _, err := client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String("{}")}); !errors.As(err, &timedOut) {
		t.Errorf("token of a stopped execution: %v, want TaskTimedOut", err)
	}
	var noExec *types.ExecutionDoesNotExist
	if _, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(strings.Replace(aws.ToString(first.ExecutionArn), ":r1", ":r9", 1))}); !errors.As(err, &noExec) {
		t.Errorf("unknown execution: %v, want ExecutionDoesNotExist", err)
	}

	// auto: provision fails (errorString) → FailGrant, which keeps failing
	// with Retryable → retried 5 times (backoff 2s, 4s, ...): too slow to
	// wait for here, so stop it after the first retry and check the debug view.
	if _, err := start("r3", `{"tenant_id":"acme","request_id":"r3","grant_id":"g3","mode":"auto"}`); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	var e stepfunctions.Execution
	for time.Now().Before(deadline) {
		if e, err = stepfunctions.DebugExecution(ctx, endpoint, "r3"); err != nil {
			t.Fatal(err)
		}
		if e.Retries >= 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if want := []string{"ChooseMode", "Provision", "FailGrant"}; strings.Join(e.States, ",") != strings.Join(want, ",") || e.Retries < 1 {
		t.Errorf("r3: states %v retries %d, want %v with FailGrant retried", e.States, e.Retries, want)
	}
	if e.StateTransitions != len(e.States)+e.Retries {
		t.Errorf("r3: %d transitions, want states entered + retries = %d", e.StateTransitions, len(e.States)+e.Retries)
	}

	// An unknown mode fails the execution at once.
	out, err := start("r4", `{"tenant_id":"acme","request_id":"r4","mode":"sometimes"}`)
	if err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		d, err = client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil || d.Status != types.ExecutionStatusRunning || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "InvalidMode" {
		t.Errorf("r4: %v %v, want FAILED with InvalidMode", d, err)
	}
}

// TestShimTimeScale: with TimeScale 30 the shim's clock runs 30 times as
// fast from TimeOrigin: a 30-second Wait and a Wait until a timestamp a
// minute after the origin end together after two real seconds, and the
// execution's dates are business time (a minute apart).
func TestShimTimeScale(t *testing.T) {
	install(t)
	asl := filepath.Join(t.TempDir(), "waits.asl.json")
	def := `{"StartAt":"Pause","States":{"Pause":{"Type":"Wait","Seconds":30,"Next":"Until"},"Until":{"Type":"Wait","TimestampPath":"$.until","End":true}}}`
	if err := os.WriteFile(asl, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	const scale = 30
	// The shim takes the origin and parses timestamps in milliseconds (as
	// JavaScript's Date does): a sub-millisecond origin would make the
	// "until" timestamp end up to 1 ms before what Go computes here.
	origin := time.Now().Truncate(time.Millisecond)
	ctx := context.Background()
	endpoint, stop, err := stepfunctions.Start(ctx, stepfunctions.Config{
		ASLFiles: []string{asl}, Substitutions: map[string]string{}, LambdaEndpoint: "http://127.0.0.1:9", TimeScale: scale, TimeOrigin: origin,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	client := sfn.NewFromConfig(wiring.AWSConfig(endpoint, "us-east-1"))
	until := origin.Add(time.Minute).UTC().Format(time.RFC3339Nano)
	out, err := client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(stepfunctions.StateMachineARN("waits")),
		Name: aws.String("w1"), Input: aws.String(`{"until":"` + until + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		real := time.Since(origin)
		if d.Status == types.ExecutionStatusSucceeded {
			// Business time: the start near the origin, the end at or past
			// origin + 1 minute (the timestamp), which is 2 s of real time.
			if d.StopDate.Before(origin.Add(time.Minute)) || real < time.Minute/scale {
				t.Errorf("ended at %s (business), %s real after the origin: want >= %s and >= %s",
					d.StopDate.Sub(origin), real, time.Minute, time.Minute/scale)
			}
			return
		}
		if d.Status != types.ExecutionStatusRunning || real > 30*time.Second {
			t.Fatalf("execution %s after %s real: the waits were not scaled", d.Status, real)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInvalidDefinitionRefused: a definition asl-validator refuses stops
// the shim at start — every time: only definitions that validated are
// remembered (and skip validation on the next start).
func TestInvalidDefinitionRefused(t *testing.T) {
	install(t)
	asl := filepath.Join(t.TempDir(), "bad.asl.json")
	// A Pass state whose Next names no state.
	def := `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"Nowhere"}}}`
	if err := os.WriteFile(asl, []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		_, stop, err := stepfunctions.Start(context.Background(), stepfunctions.Config{
			ASLFiles: []string{asl}, Substitutions: map[string]string{}, LambdaEndpoint: "http://127.0.0.1:9",
		})
		if err == nil {
			stop()
			t.Fatalf("start %d: an invalid definition was accepted", i+1)
		}
		if !strings.Contains(err.Error(), "Nowhere") {
			t.Fatalf("start %d: %v, want the validator's complaint about the missing state", i+1, err)
		}
	}
}
