// Package goaws is the local stand-in for Amazon SNS: it builds and runs
// goaws (github.com/Admiral-Piett/goaws, pinned as a `tool` in go.mod) as a
// child process on a free port with a generated config, for tests and the
// local dev stack. The real aws-sdk-go-v2 SNS client talks to it through
// BaseEndpoint (Server.SNS, snspub.Open).
//
// What goaws v0.4.5 does and does not do, found by reading its source and
// pinned by this package's tests:
//
//   - It listens on 0.0.0.0:<port> whatever host is asked for (its main
//     hard-codes the wildcard address): the unauthenticated stand-in is
//     reachable from the network while it runs.
//   - Without -config it walks the working directory for any goaws.yaml;
//     Start always passes a generated config.
//   - Publish delivers synchronously: when the Publish call returns, every
//     HTTP endpoint has been called (with http.DefaultClient, no timeout)
//     and every SQS queue has the message.
//   - Subscription filter policies are applied to SQS subscriptions only,
//     and only as exact matches on String attributes ({"attr":["v1","v2"]},
//     AND across keys, OR within a key's list, a message lacking a
//     policy's attribute does not match. There are no prefix/anything-but/
//     numeric/exists operators: goaws decodes the policy as
//     map[string][]string, an operator object becomes "", and the
//     subscription silently receives nothing. HTTP and HTTPS
//     subscriptions receive every message whatever their policy. Email
//     subscriptions are stored but never delivered.
//   - Subscribe to an http(s) endpoint takes over a second: goaws sleeps
//     1s, then POSTs the SubscriptionConfirmation before it answers the
//     Subscribe call. Delivery does not wait for confirmation. Concurrent
//     Subscribe calls of http(s) endpoints race on an unguarded map in
//     goaws (it may crash): subscribe one at a time per server.
//   - Subscribing the same endpoint to a topic twice returns the first
//     subscription's ARN and keeps its filter policy.
//   - Queue URLs it returns name the host "<region>.<host>", which does not
//     resolve; Server's SQS helpers post to the server's own address and
//     pass the queue URL as a parameter, which goaws reduces to the queue
//     name.
//   - RawMessageDelivery to an http(s) endpoint posts the message as a JSON
//     string (quoted), not as is.
package goaws

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jitsudo/jitsudo-serverless/infra/modroot"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// Module is the goaws main package; ModulePath its module (go.mod pins the
// version).
const (
	Module     = "github.com/Admiral-Piett/goaws/app/cmd"
	ModulePath = "github.com/Admiral-Piett/goaws"
)

// Region and Account are what goaws puts into ARNs.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// EnvBinary overrides the goaws binary Ensure returns.
const EnvBinary = "GOAWS"

// PinnedVersion is the goaws version root's go.mod requires.
func PinnedVersion(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("goaws: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && fields[0] == "require" {
			fields = fields[1:]
		}
		if len(fields) >= 2 && fields[0] == ModulePath {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("goaws: read go.mod: %w", err)
	}
	return "", fmt.Errorf("goaws: go.mod in %s does not require %s", root, ModulePath)
}

var ensureMu sync.Mutex

// Ensure returns the path of <root>/.bin/goaws, building it with `go build`
// when it is missing or was built from another goaws version than go.mod
// pins. The binary is built under a temporary name and renamed into
// place, so parallel test processes never run a half-written file. $GOAWS
// overrides the path (no build).
func Ensure(ctx context.Context, root string) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, nil
	}
	ensureMu.Lock()
	defer ensureMu.Unlock()
	want, err := PinnedVersion(root)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".bin")
	path := filepath.Join(bin, "goaws")
	if builtVersion(path) == want {
		return path, nil
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return "", fmt.Errorf("goaws: %w", err)
	}
	tmp, err := os.CreateTemp(bin, ".goaws-*")
	if err != nil {
		return "", fmt.Errorf("goaws: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp.Name(), Module)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("goaws: go build %s: %w\n%s", Module, err, out)
	}
	if got := builtVersion(tmp.Name()); got != want {
		return "", fmt.Errorf("goaws: built %s reports goaws %q, go.mod pins %q", Module, got, want)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("goaws: %w", err)
	}
	return path, nil
}

// builtVersion is the goaws module version a binary was built from ("" if
// it is missing or not a Go binary with goaws in it).
func builtVersion(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	if info.Main.Path == ModulePath {
		return info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == ModulePath {
			if d.Replace != nil {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}

// Options of StartWithOptions.
type Options struct {
	// Binary is the goaws executable; default: Ensure on RepoRoot.
	Binary string
	// Log also receives goaws's output (JSON lines; every publish is
	// logged at info level, with the message).
	Log io.Writer
	// Debug turns on goaws's debug logging.
	Debug bool
	// Topics are created at startup.
	Topics []string
}

// Server is one running goaws.
type Server struct {
	// Endpoint is the base URL for SDK clients (http://127.0.0.1:<port>).
	Endpoint string
	// Addr is host:port of Endpoint.
	Addr string

	cmd      *exec.Cmd
	dir      string
	logs     *tailBuffer
	done     chan struct{}
	stopOnce sync.Once
	client   *sns.Client
}

// Start runs goaws on addr ("" or "127.0.0.1:0": a free loopback port;
// goaws binds every interface regardless, see the package doc) and waits
// until it answers. The config holds one queue, goaws-start-<random>, by
// which Start recognizes its own process on the port. Stop ends it.
func Start(ctx context.Context, addr string) (*Server, error) {
	return StartWithOptions(ctx, addr, Options{})
}

// StartWithOptions is Start with options.
func StartWithOptions(ctx context.Context, addr string, o Options) (*Server, error) {
	if o.Binary == "" {
		root, err := modroot.Find()
		if err != nil {
			return nil, err
		}
		if o.Binary, err = Ensure(ctx, root); err != nil {
			return nil, err
		}
	}
	host, port := "127.0.0.1", 0
	if addr != "" {
		h, p, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("goaws: address %q: %w", addr, err)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("goaws: address %q: bad port", addr)
		}
		if h != "" && h != "0.0.0.0" && h != "::" {
			host = h
		}
	}
	// A free port is found by binding and closing it, which races with
	// other processes: retry with another port when goaws cannot bind.
	attempts := 1
	if port == 0 {
		attempts = 5
	}
	var lastErr error
	for range attempts {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(host); err != nil {
				return nil, err
			}
		}
		s, err := start(ctx, o, host, p)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil || !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return nil, lastErr
}

var errAddrInUse = errors.New("goaws: address in use")

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("goaws: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// envConfig is goaws's per-environment config (app.Environment; goaws
// reads YAML, of which JSON is a subset).
type envConfig struct {
	Host                   string
	Port                   string
	Region                 string
	AccountID              string `json:"AccountId"`
	LogToFile              bool
	QueueAttributeDefaults struct {
		VisibilityTimeout             int
		ReceiveMessageWaitTimeSeconds int
		MaximumMessageSize            int
	}
	Topics []struct{ Name string } `json:",omitempty"`
	Queues []struct{ Name string } `json:",omitempty"`
}

func start(ctx context.Context, o Options, host string, port int) (*Server, error) {
	dir, err := os.MkdirTemp("", "goaws-")
	if err != nil {
		return nil, fmt.Errorf("goaws: %w", err)
	}
	cfg := envConfig{Host: host, Port: strconv.Itoa(port), Region: Region, AccountID: Account}
	cfg.QueueAttributeDefaults.VisibilityTimeout = 30
	cfg.QueueAttributeDefaults.MaximumMessageSize = 262144
	for _, t := range o.Topics {
		cfg.Topics = append(cfg.Topics, struct{ Name string }{t})
	}
	// A queue only this process has: proof that what answers on the port
	// is this goaws, not another server that got there first.
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	marker := "goaws-start-" + hex.EncodeToString(nonce[:])
	cfg.Queues = append(cfg.Queues, struct{ Name string }{marker})
	data, err := json.MarshalIndent(map[string]envConfig{"Local": cfg}, "", "  ")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := filepath.Join(dir, "goaws.yaml")
	if err := os.WriteFile(conf, data, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("goaws: %w", err)
	}
	args := []string{"-config", conf}
	if o.Debug {
		args = append(args, "-debug")
	}
	args = append(args, "Local")
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	s := &Server{Endpoint: "http://" + addr, Addr: addr, dir: dir, logs: &tailBuffer{}, done: make(chan struct{})}
	// Not CommandContext: goaws outlives ctx, until Stop.
	s.cmd = exec.Command(o.Binary, args...)
	s.cmd.Dir = dir
	// Its own process group; and it dies with its parent even when the
	// parent is killed outright (Linux).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out io.Writer = s.logs
	if o.Log != nil {
		out = io.MultiWriter(s.logs, o.Log)
	}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("goaws: start %s: %w", o.Binary, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	deadline := time.Now().Add(15 * time.Second)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.done:
			s.Stop()
			if strings.Contains(s.logs.String(), "address already in use") {
				return nil, fmt.Errorf("%w: %s", errAddrInUse, addr)
			}
			return nil, fmt.Errorf("goaws: exited during startup: %s", s.logs.String())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		default:
		}
		if healthy(ctx, hc, s.Endpoint) {
			var q struct {
				URL string `xml:"GetQueueUrlResult>QueueUrl"`
			}
			if err := s.query(ctx, url.Values{"Action": {"GetQueueUrl"}, "QueueName": {marker}}, &q); err != nil || !strings.HasSuffix(q.URL, "/"+marker) {
				// Another server has the port (this goaws exits once its
				// listen fails).
				s.Stop()
				return nil, fmt.Errorf("%w: %s answers, but it is not this goaws", errAddrInUse, addr)
			}
			s.client = sns.New(sns.Options{
				Region:       Region,
				BaseEndpoint: aws.String(s.Endpoint),
				Credentials:  wiring.LocalCredentials,
			})
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("goaws: %s does not answer: %s", s.Endpoint, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func healthy(ctx context.Context, hc *http.Client, endpoint string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && string(body) == "OK"
}

// Stop ends goaws (SIGTERM, then SIGKILL after 3s) and removes its config.
// It may be called more than once.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-s.done:
		case <-time.After(3 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
		os.RemoveAll(s.dir)
	})
}

// Logs is the tail of goaws's output.
func (s *Server) Logs() string { return s.logs.String() }

// SNS is an SNS client for this server (dummy credentials).
func (s *Server) SNS() *sns.Client { return s.client }

// TopicARN is the ARN goaws gives topic name.
func TopicARN(name string) string { return "arn:aws:sns:" + Region + ":" + Account + ":" + name }

// QueueARN is the ARN goaws gives queue name (the Endpoint of an sqs
// subscription).
func QueueARN(name string) string { return "arn:aws:sqs:" + Region + ":" + Account + ":" + name }

// CreateTopic creates topic name (an existing one is returned as is) and
// returns its ARN.
func (s *Server) CreateTopic(ctx context.Context, name string) (string, error) {
	out, err := s.client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("goaws: create topic %s: %w", name, err)
	}
	return aws.ToString(out.TopicArn), nil
}

// ---------------------------------------------------------------- SQS

// The SQS side is for observing filter policies (goaws applies them to
// SQS subscriptions only). go.mod has no SQS client, so these speak
// goaws's query API directly.

// CreateQueue creates queue name and returns its URL and ARN.
func (s *Server) CreateQueue(ctx context.Context, name string) (queueURL, queueARN string, err error) {
	var out struct {
		QueueURL string `xml:"CreateQueueResult>QueueUrl"`
	}
	if err := s.query(ctx, url.Values{"Action": {"CreateQueue"}, "QueueName": {name}}, &out); err != nil {
		return "", "", fmt.Errorf("goaws: create queue %s: %w", name, err)
	}
	return out.QueueURL, QueueARN(name), nil
}

// QueueMessage is one message received from a queue. For a non-raw SNS
// subscription Body is the SNS envelope (JSON, as Notification decodes).
type QueueMessage struct {
	MessageID     string `xml:"MessageId"`
	ReceiptHandle string `xml:"ReceiptHandle"`
	Body          string `xml:"Body"`
}

// ReceiveMessages receives up to 10 messages from queueURL, waiting up to
// wait (whole seconds; 0: return at once) for the first. Received
// messages stay invisible for the visibility timeout (30s).
func (s *Server) ReceiveMessages(ctx context.Context, queueURL string, wait time.Duration) ([]QueueMessage, error) {
	var out struct {
		Messages []QueueMessage `xml:"ReceiveMessageResult>Message"`
	}
	v := url.Values{
		"Action": {"ReceiveMessage"}, "QueueUrl": {queueURL},
		"MaxNumberOfMessages": {"10"}, "WaitTimeSeconds": {strconv.Itoa(int(wait / time.Second))},
	}
	if err := s.query(ctx, v, &out); err != nil {
		return nil, fmt.Errorf("goaws: receive from %s: %w", queueURL, err)
	}
	return out.Messages, nil
}

// query posts one query-protocol call to goaws and decodes the XML answer.
func (s *Server) query(ctx context.Context, v url.Values, out any) error {
	v.Set("Version", "2012-11-05")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Endpoint+"/", strings.NewReader(v.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return xml.Unmarshal(body, out)
}

// tailBuffer keeps the last 64 KiB written to it (goaws logs every
// message it publishes; a long dev session must not grow without bound).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

const tailKeep = 64 << 10

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*tailKeep {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-tailKeep:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) > tailKeep {
		return string(b.buf[len(b.buf)-tailKeep:])
	}
	return string(b.buf)
}
