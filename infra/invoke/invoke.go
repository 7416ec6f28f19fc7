// Package invoke runs built Lambda bootstraps under the AWS Lambda Runtime
// Interface Emulator (RIE) — what `sam local invoke` does, without SAM or
// Docker — against a local DynamoDB-API endpoint.
package invoke

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/proclog"
)

// RIEModule is the pinned emulator, installed into <repo>/.bin by EnsureRIE.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"

// EnsureRIE returns the path of the pinned aws-lambda-rie, installing it
// into <root>/.bin with `go install` when it is missing. AWS_LAMBDA_RIE
// overrides the path.
func EnsureRIE(ctx context.Context, root string) (string, error) {
	if p := os.Getenv("AWS_LAMBDA_RIE"); p != "" {
		return p, nil
	}
	bin := filepath.Join(root, ".bin")
	path := filepath.Join(bin, "aws-lambda-rie")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", RIEModule)
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("invoke: go install %s: %w\n%s", RIEModule, err, out)
	}
	return path, nil
}

// LocalTags are the build tags of local Lambda runs: production's
// lambda.norpc, and jitsudo_local.
const LocalTags = "lambda.norpc,jitsudo_local"

// Build compiles every named function as <outDir>/<fn>/bootstrap for the
// host (the RIE runs host binaries), with the flags of `make build` plus
// the jitsudo_local tag (LocalTags), which links the local stand-ins a
// local run may select (PROVIDER=recording) and nothing else.
//
// -trimpath, as make gives every go command (GOFLAGS), also when the suite
// runs under a plain go test: it makes every compiled package independent
// of the checkout's path, so a fresh clone at a new path — as CI makes —
// finds them in the build cache. Measured 2026-12-04 from fresh clones on
// two cores, before make set it for go test too: this suite took 79 s with
// it, 115–119 s without it (with cgo off for go test, to share its packages).
func Build(ctx context.Context, root, outDir string, functions ...string) error {
	functions = slices.Compact(slices.Sorted(slices.Values(functions))) // web serves two routes
	if len(functions) == 0 {
		return nil
	}
	// One go build for all of them: it links in parallel and loads the
	// package graph once (`-o dir/` names each binary after its directory).
	tmp, err := os.MkdirTemp(outDir, ".build-")
	if err != nil {
		return fmt.Errorf("invoke: build: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := []string{"build", "-tags", LocalTags, "-trimpath", "-ldflags=-s -w", "-o", tmp + string(filepath.Separator)}
	for _, fn := range functions {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("invoke: build %v: %w\n%s", functions, err, out)
	}
	for _, fn := range functions {
		if err := os.MkdirAll(filepath.Join(outDir, fn), 0o755); err != nil {
			return fmt.Errorf("invoke: build %s: %w", fn, err)
		}
		if err := os.Rename(filepath.Join(tmp, fn), filepath.Join(outDir, fn, "bootstrap")); err != nil {
			return fmt.Errorf("invoke: build %s: %w", fn, err)
		}
	}
	return nil
}

// RIE is one running emulator hosting one function.
type RIE struct {
	addr string
	cmd  *exec.Cmd
	logs *proclog.Buffer
	done chan struct{}
}

// Start runs bootstrap under the emulator at rie with env (besides a
// minimal base environment), on free loopback ports.
func Start(ctx context.Context, rie, bootstrap string, env []string) (*RIE, error) {
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	runtimePort, err := freePort()
	if err != nil {
		return nil, err
	}
	r := &RIE{addr: fmt.Sprintf("127.0.0.1:%d", apiPort), logs: &proclog.Buffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", r.addr,
		"--runtime-api-address", fmt.Sprintf("127.0.0.1:%d", runtimePort),
		"--log-level", "error",
		bootstrap)
	r.cmd.Dir = filepath.Dir(bootstrap)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the test process
	r.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TZ=UTC"}, env...)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("invoke: start RIE: %w", err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("invoke: RIE exited: %s", r.logs.String())
		case <-ctx.Done():
			r.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.Close()
			return nil, fmt.Errorf("invoke: RIE did not listen on %s: %s", r.addr, r.logs.String())
		}
	}
}

// Invoke sends one event and returns the function's response payload. The
// RIE serves one invocation at a time.
func (r *RIE) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+r.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(event))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w (logs: %s)", err, r.logs.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: RIE answered %d: %s (logs: %s)", resp.StatusCode, body, r.logs.String())
	}
	return body, nil
}

// Logs is what the function and the emulator printed so far.
func (r *RIE) Logs() string { return r.logs.String() }

// WaitLogs returns the logs once they contain every one of want, or what
// they hold after timeout: the function's output reaches the pipe a moment
// after the emulator answered.
func (r *RIE) WaitLogs(timeout time.Duration, want ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		logs := r.logs.String()
		missing := false
		for _, w := range want {
			if !strings.Contains(logs, w) {
				missing = true
				break
			}
		}
		if !missing || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops the emulator and its function.
func (r *RIE) Close() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	<-r.done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
