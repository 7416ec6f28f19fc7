// Package stepfunctions is the local stand-in for AWS Step Functions: the
// npm package aws-local-stepfunctions runs the real ASL files from
// statemachines/, and shim.mjs (beside this file) exposes the Step Functions
// JSON 1.0 API that aws-sdk-go-v2/service/sfn speaks (StartExecution,
// DescribeExecution, StopExecution, SendTaskSuccess, SendTaskFailure,
// SendTaskHeartbeat) and keeps the task tokens. Lambda Task states call a
// Lambda Invoke-compatible endpoint; LambdaInvokeHandler serves one from Go
// handlers.
//
// Node (>= 20) and npm must be on PATH. Install runs `npm ci` against the
// committed package-lock.json into node_modules/ beside this file.
package stepfunctions

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/jitsudo/jitsudo-serverless/infra/modroot"
	"github.com/jitsudo/jitsudo-serverless/infra/proclog"
)

// shimStartTimeout bounds the wait for the local Step Functions to start:
// node loading aws-local-stepfunctions takes a second on an idle machine,
// tens of seconds on a loaded 2-core one.
const shimStartTimeout = 90 * time.Second

// Region and Account are what the shim puts into ARNs.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// StateMachineARN is the ARN the shim gives the state machine loaded from
// statemachines/<name>.asl.json.
func StateMachineARN(name string) string {
	return "arn:aws:states:" + Region + ":" + Account + ":stateMachine:" + name
}

// FunctionARN is a local Lambda function ARN for name, the value to give a
// DefinitionSubstitutions placeholder; the shim invokes it as
// <LambdaEndpoint>/2015-03-31/functions/<name>/invocations.
func FunctionARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + Account + ":function:" + name
}

// Dir is the directory holding shim.mjs, package.json and package-lock.json:
// infra/stepfunctions under the module root (modroot.Find, from the
// working directory).
func Dir() (string, error) {
	root, err := modroot.Find()
	if err != nil {
		return "", fmt.Errorf("stepfunctions: %w", err)
	}
	return filepath.Join(root, "infra", "stepfunctions"), nil
}

var installMu sync.Mutex

// Install runs `npm ci` in dir when node_modules is missing or was
// installed from another package-lock.json (a stamp file records the
// lock's hash). It is safe to call from parallel tests of one process.
func Install(ctx context.Context, dir string) error {
	installMu.Lock()
	defer installMu.Unlock()
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("stepfunctions: %w", err)
	}
	sum := sha256.Sum256(lock)
	want := hex.EncodeToString(sum[:])
	stamp := filepath.Join(dir, "node_modules", ".jitsudo-lock-sha256")
	if got, err := os.ReadFile(stamp); err == nil && strings.TrimSpace(string(got)) == want {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("stepfunctions: npm is not on PATH (Node.js >= 20 with npm is needed for the local Step Functions)")
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("stepfunctions: npm ci in %s: %w\n%s", dir, err, out)
	}
	return os.WriteFile(stamp, []byte(want+"\n"), 0o644)
}

// Config of a local Step Functions shim.
type Config struct {
	// ASLFiles are the state machines to load (statemachines/*.asl.json).
	ASLFiles []string
	// Substitutions fill the DefinitionSubstitutions placeholders ${Name};
	// a placeholder left unfilled is an error.
	Substitutions map[string]string
	// LambdaEndpoint is the base URL of a Lambda Invoke-compatible API
	// (e.g. an httptest server around LambdaInvokeHandler, or the dev
	// stack's loopback Lambda listener).
	LambdaEndpoint string
	// LambdaSecret, when set, is sent with every invoke in the
	// LambdaSecretHeader header, for an endpoint guarded by
	// RequireLambdaSecret. It reaches the shim through its environment.
	LambdaSecret string
	// Dir is where shim.mjs and node_modules are; default: this package's
	// directory.
	Dir string
	// Log receives the shim's stderr (nil: kept for error messages only).
	Log io.Writer
	// Verbose makes the shim log every execution and task event.
	Verbose bool
	// TimeScale > 1 runs the shim's clock TimeScale times as fast as the
	// wall clock from TimeOrigin on: Date.now(), hence Wait states'
	// Timestamp/TimestampPath, and the delays of the engine's and the
	// shim's timers (Wait Seconds, task timeouts, retry intervals). Tests
	// of the local stack use it so that a one-minute timeout passes in a
	// few real seconds, with the caller's clock scaled the same way.
	TimeScale  float64
	TimeOrigin time.Time
}

// Start installs the npm packages when needed and runs the shim on a free
// loopback port. It returns the endpoint to use as the sfn client's
// BaseEndpoint and a stop function that ends the process.
func Start(ctx context.Context, cfg Config) (endpoint string, stop func(), err error) {
	if cfg.Dir == "" {
		if cfg.Dir, err = Dir(); err != nil {
			return "", nil, err
		}
	}
	if len(cfg.ASLFiles) == 0 {
		return "", nil, errors.New("stepfunctions: no ASL files")
	}
	if err := Install(ctx, cfg.Dir); err != nil {
		return "", nil, err
	}
	subs, err := json.Marshal(cfg.Substitutions)
	if err != nil {
		return "", nil, err
	}
	args := []string{"--require", "./polyfill.cjs", "--require", "./lazy.cjs", "shim.mjs", "--port", "0",
		"--lambda-endpoint", cfg.LambdaEndpoint, "--substitutions", string(subs),
		"--region", Region, "--account", Account}
	if cfg.TimeScale > 1 {
		args = append(args, "--time-scale", strconv.FormatFloat(cfg.TimeScale, 'g', -1, 64),
			"--time-origin", strconv.FormatInt(cfg.TimeOrigin.UnixMilli(), 10))
	}
	if cfg.Verbose {
		args = append(args, "--verbose")
	}
	for _, f := range cfg.ASLFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			return "", nil, err
		}
		args = append(args, abs)
	}
	// Not CommandContext: the shim outlives Start's ctx, until stop.
	cmd := exec.Command("node", args...)
	cmd.Dir = cfg.Dir
	if cfg.LambdaSecret != "" {
		cmd.Env = append(os.Environ(), envLambdaSecret+"="+cfg.LambdaSecret)
	}
	// Own process group (stop kills the whole group); and the shim dies with
	// its parent even when the parent is killed outright (Linux).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stderr := &proclog.Buffer{}
	if cfg.Log != nil {
		cmd.Stderr = io.MultiWriter(stderr, cfg.Log)
	} else {
		cmd.Stderr = stderr
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("stepfunctions: start node: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		if cmd.Process != nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
	}()
	var line string
	select {
	case line = <-lines:
	case <-done:
		return "", nil, fmt.Errorf("stepfunctions: shim exited: %s", stderr.String())
	case <-ctx.Done():
		stop()
		return "", nil, ctx.Err()
	case <-time.After(shimStartTimeout):
		stop()
		return "", nil, fmt.Errorf("stepfunctions: shim did not start within %v: %s", shimStartTimeout, stderr.String())
	}
	var hello struct {
		Listening string `json:"listening"`
	}
	if err := json.Unmarshal([]byte(line), &hello); err != nil || hello.Listening == "" {
		stop()
		return "", nil, fmt.Errorf("stepfunctions: unexpected shim output %q: %s", line, stderr.String())
	}
	// It printed after listen(); make sure it answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(hello.Listening + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return hello.Listening, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("stepfunctions: shim at %s does not answer: %v %s", hello.Listening, err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Execution is the shim's debug view of one execution
// (GET <endpoint>/debug/executions/<name>).
type Execution struct {
	ExecutionARN string `json:"executionArn"`
	Name         string `json:"name"`
	Status       string `json:"status"`
	Input        string `json:"input"`
	Output       string `json:"output"`
	Error        string `json:"error"`
	Cause        string `json:"cause"`
	// StateTransitions counts states entered plus retries: what Step
	// Functions Standard bills.
	StateTransitions int      `json:"stateTransitions"`
	Retries          int      `json:"retries"`
	States           []string `json:"states"` // states entered, in order
}

// DebugExecution reads an execution's debug view by name or ARN.
func DebugExecution(ctx context.Context, endpoint, nameOrARN string) (Execution, error) {
	var e Execution
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/debug/executions/"+nameOrARN, nil)
	if err != nil {
		return e, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return e, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return e, fmt.Errorf("stepfunctions: debug %s: %d %s", nameOrARN, resp.StatusCode, body)
	}
	return e, json.Unmarshal(body, &e)
}

// LambdaSecretHeader carries the shared secret on the shim's invokes.
const LambdaSecretHeader = "X-Jitsudo-Lambda-Secret"

// envLambdaSecret hands Config.LambdaSecret to the shim (shim.mjs).
const envLambdaSecret = "JITSUDO_LAMBDA_SECRET"

// NewLambdaSecret returns a fresh random secret (256 bits, hex) for
// Config.LambdaSecret and RequireLambdaSecret: one per start.
func NewLambdaSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("stepfunctions: lambda secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// RequireLambdaSecret guards a Lambda Invoke endpoint (LambdaInvokeHandler)
// whose handlers run with no credentials of their own — the workers that
// expire requests and provision or revoke access — so that only the local
// Step Functions given the same secret (Config.LambdaSecret) can call it:
//
//   - the LambdaSecretHeader header must equal secret (an empty secret
//     refuses everything); a custom header is something a cross-site page
//     cannot send without a CORS preflight, which this endpoint never
//     answers;
//   - any browser marker is refused even with the secret: an Origin header,
//     or Sec-Fetch-Site other than none or same-origin;
//   - the body must be declared application/json (a cross-site form cannot
//     send that type).
//
// Refusals are 403 AccessDeniedException (415 for the content type), in
// the Lambda API's error shape; the handler is not reached.
func RequireLambdaSecret(secret string, h http.Handler) http.Handler {
	want := []byte(secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deny := func(msg string) {
			writeJSON(w, http.StatusForbidden, map[string]string{"Type": "User", "message": msg}, "AccessDeniedException")
		}
		if len(r.Header.Values("Origin")) > 0 { // even "Origin: null" or empty
			deny("browser requests are refused")
			return
		}
		switch r.Header.Get("Sec-Fetch-Site") {
		case "", "none", "same-origin":
		default:
			deny("browser requests are refused")
			return
		}
		got := r.Header.Values(LambdaSecretHeader)
		if len(want) == 0 || len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), want) != 1 {
			deny("missing or wrong " + LambdaSecretHeader)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"Type": "User", "message": "the payload must be sent as application/json"}, "UnsupportedMediaTypeException")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// LambdaFunc is a Lambda handler over raw JSON.
type LambdaFunc = func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error)

// LambdaInvokeHandler serves the Lambda Invoke API
// (POST .../2015-03-31/functions/<name>/invocations) for Go handlers, with
// any prefix before /2015-03-31/ (so it can be mounted at e.g. /lambda/). A
// handler's error is answered as Lambda does for a function error: 200 with
// X-Amz-Function-Error: Unhandled and {errorType, errorMessage}, errorType
// being the error's Go type name as aws-lambda-go reports it. An unknown
// function is 404 ResourceNotFoundException.
func LambdaInvokeHandler(fns map[string]LambdaFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, rest, ok := strings.Cut(r.URL.Path, "/2015-03-31/functions/")
		name, tail, _ := strings.Cut(rest, "/")
		if !ok || tail != "invocations" || r.Method != http.MethodPost {
			writeJSON(w, http.StatusNotFound, map[string]string{"Type": "User", "message": "unknown Lambda API path " + r.URL.Path}, "ResourceNotFoundException")
			return
		}
		if i := strings.LastIndex(name, ":function:"); i >= 0 { // an ARN
			name = name[i+len(":function:"):]
			name, _, _ = strings.Cut(name, ":")
		}
		fn, ok := fns[name]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"Type": "User", "message": "Function not found: " + name}, "ResourceNotFoundException")
			return
		}
		payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": err.Error()}, "InvalidRequestContentException")
			return
		}
		if len(bytes.TrimSpace(payload)) == 0 {
			payload = []byte("null")
		}
		out, err := callSafely(r.Context(), fn, payload)
		if err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			writeJSON(w, http.StatusOK, map[string]string{"errorType": ErrorType(err), "errorMessage": err.Error()}, "")
			return
		}
		if out == nil {
			out = json.RawMessage("null")
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		_, _ = w.Write(out)
	})
}

func callSafely(ctx context.Context, fn LambdaFunc, payload json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError{p}
		}
	}()
	return fn(ctx, payload)
}

// panicError carries a handler's panic value; aws-lambda-go reports the
// value's type name as the errorType.
type panicError struct{ value any }

func (p panicError) Error() string { return fmt.Sprint(p.value) }

// ErrorType is the errorType aws-lambda-go (lambda.Start) reports for an
// error a handler returns: a messages.InvokeResponse_Error's own Type,
// otherwise the name of the error's dynamic type, dereferenced once
// (*Retryable and Retryable are both "Retryable"; an fmt.Errorf wrapper is
// "wrapError"). For a panic it is the panic value's type name.
func ErrorType(err error) string {
	var v any = err
	switch e := err.(type) {
	case panicError:
		v = e.value
	case messages.InvokeResponse_Error:
		return e.Type
	case *messages.InvokeResponse_Error:
		return e.Type
	}
	t := reflect.TypeOf(v)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func writeJSON(w http.ResponseWriter, status int, v any, errType string) {
	w.Header().Set("Content-Type", "application/json")
	if errType != "" {
		w.Header().Set("X-Amzn-ErrorType", errType)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
