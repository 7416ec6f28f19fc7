// Package mototest gives tests a moto server (github.com/getmoto/moto,
// `moto_server`, Python): a maintained, independent implementation of the
// AWS APIs the tests check our code against where the embedded stand-ins
// have none (DynamoDB Streams, SNS filter policies on http subscriptions).
//
// Endpoint returns $JITSUDO_TEST_MOTO_ENDPOINT when it is set (make test's
// moto step starts one moto for all packages: infra/moto/with-moto.sh), or
// else starts one moto per test process, on a free loopback port, on first
// use. That moto reads its stdin and exits when it closes, so it never
// outlives the test process, however that ends. moto is not optional: when
// moto_server cannot be run the test fails with the install hint (no test
// is skipped for a missing tool).
//
// Tests share the server: each one names its resources uniquely (Name).
package mototest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// EnvEndpoint names the environment variable with an external moto's URL.
const EnvEndpoint = "JITSUDO_TEST_MOTO_ENDPOINT"

// Region is the region the tests' clients use.
const Region = "us-east-1"

// Install is the hint shown when moto cannot be started.
const Install = "pip install 'moto[server]==5.2.1'"

var (
	once     sync.Once
	endpoint string
	startErr error
	stdin    io.WriteCloser // moto's stdin; moto exits when it closes
)

// Endpoint returns the moto server's base URL (http://127.0.0.1:<port>).
func Endpoint(t testing.TB) string {
	t.Helper()
	e, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Start is Endpoint for a program (infra/invoke's fixtures): the moto
// server's base URL, or why it could not be started.
func Start() (string, error) {
	once.Do(func() {
		if e := os.Getenv(EnvEndpoint); e != "" {
			endpoint = strings.TrimRight(e, "/")
			return
		}
		endpoint, startErr = start(90 * time.Second)
	})
	if startErr != nil {
		return "", fmt.Errorf("mototest: %w (%s)", startErr, Install)
	}
	return endpoint, nil
}

// Config is an aws.Config for moto: region Region and static test
// credentials (moto does not check signatures). Point clients at
// Endpoint with BaseEndpoint.
func Config() aws.Config {
	return aws.Config{Region: Region, Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
}

// Name returns prefix + "-" + 12 random hex digits: a resource name no
// other test on the shared server uses.
func Name(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// server runs moto's server in-process of a python3 that exits as soon as
// its stdin reaches EOF (the test process, holding the other end, ended).
const server = `import os, sys, threading
from moto.server import main
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
main(sys.argv[1:])`

func start(timeout time.Duration) (string, error) {
	if _, err := exec.LookPath("moto_server"); err != nil {
		return "", fmt.Errorf("moto_server not found: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("python3", "-c", server, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	// Held (a package variable: a collected *os.File would be closed by
	// its finalizer) for the life of the process.
	if stdin, err = cmd.StdinPipe(); err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start moto: %w", err)
	}
	var logMu sync.Mutex
	var log strings.Builder
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			logMu.Lock()
			if log.Len() < 8192 {
				log.WriteString(sc.Text() + "\n")
			}
			logMu.Unlock()
		}
		_ = cmd.Wait()
		close(exited)
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		if ready(ctx, url) {
			return url, nil
		}
		select {
		case <-exited:
			logMu.Lock()
			defer logMu.Unlock()
			return "", fmt.Errorf("moto exited before it served: %s", log.String())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			return "", errors.New("moto did not start within " + timeout.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ready(ctx context.Context, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/moto-api/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
