package devstack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/jitsudo/jitsudo-serverless/infra/ddbstream"
	"github.com/jitsudo/jitsudo-serverless/infra/devidp"
	"github.com/jitsudo/jitsudo-serverless/infra/devissuer"
	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/lambdaapp"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// Config of a local stack. Zero values are the embedded defaults.
type Config struct {
	Addr             string // listen address; default 127.0.0.1:8080 ("127.0.0.1:0" picks a port)
	DynamoDBEndpoint string // external DynamoDB-API endpoint; empty: the embedded server
	Table            string // default "jitsudo-dev"
	PlatformAdminKey string // default: a random key for this run
	Audience         string // default "jitsudo-dev"
	Logger           *slog.Logger
	ShimLog          io.Writer // the local Step Functions' stderr (nil: discarded)
	Console          io.Writer // every notification event, one line each (nil: not printed)
	// SweepEvery runs the sweeper (sweep-overdue) on this period, as its
	// EventBridge schedule does on AWS (0: not scheduled; tests run it
	// themselves with their own clock).
	SweepEvery time.Duration
	// AuditKey is the audit chain's MAC key (default: random for this
	// run); AuditAnchorDir holds the chain's anchors (default: a
	// temporary directory removed on Close).
	AuditKey       []byte
	AuditAnchorDir string
	// Limits, if set, are the API functions' abuse limits (default:
	// access.DefaultLimits, as deployed; jitsudo-dev reads the same
	// environment variables as the functions, wiring.Limits).
	Limits *access.Limits
	// Wrap, when set, wraps the HTTP API's handler (a test's OpenAPI
	// validator of what a browser sends and gets).
	Wrap func(http.Handler) http.Handler
	// TimeScale > 1 runs the stack's business time (Clock) that many times
	// as fast as the wall clock — the API, the workers, the sweeper and the
	// local Step Functions' timers alike — so tests see grants end and
	// approvals time out without waiting for them (0 or 1: real time, as
	// make dev runs).
	TimeScale float64
	// SigningKeys, if set, sign the tokens of the dev issuer (the first
	// key) and of the tenants' identity providers (one key each after it,
	// tenants in name order): at least 1 + len(DemoUsers) distinct keys.
	// Default: fresh 2048-bit RSA keys, about 0.2 s of CPU each; test
	// suites that start many stacks pass one set generated once (TestKeys).
	SigningKeys []*rsa.PrivateKey
}

// TestKeys returns a set of SigningKeys generated once per process.
func TestKeys() ([]*rsa.PrivateKey, error) {
	testKeysOnce.Do(func() {
		for range 1 + len(DemoUsers) {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				testKeysErr = err
				return
			}
			testKeys = append(testKeys, k)
		}
	})
	return testKeys, testKeysErr
}

var (
	testKeysOnce sync.Once
	testKeys     []*rsa.PrivateKey
	testKeysErr  error
)

// Stack is a running local system.
type Stack struct {
	URL string // e.g. http://127.0.0.1:8080
	// LambdaURL is the workers' Lambda Invoke endpoint, on a loopback
	// port of its own; only the local Step Functions can call it
	// (Workflow).
	LambdaURL string
	Issuer    *devissuer.Issuer // the deployment's default issuer (<URL>/dev-idp)
	// TenantIdPs are the demo tenants' own identity providers, at
	// <URL>/idp/<tenant> (sign-in page, PKCE token endpoint); Seed saves
	// them as the tenants' identity settings.
	TenantIdPs       map[string]*devidp.Provider
	UIClientID       string
	Store            *store.Store
	Workflow         *Workflow
	Notifications    *Notifications
	OutboxStream     *ddbstream.Stream // the stream feeding the relay-outbox consumer (Workflow.Driver and Notifications.Relay)
	PlatformAdminKey string
	Audience         string
	srv, lambdaSrv   *http.Server
	stops            []func()
}

// Start brings up the whole system: DynamoDB, the OIDC issuer at
// <URL>/dev-idp, the authorizer and every function behind the gateway.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8080"
	}
	if cfg.Table == "" {
		cfg.Table = "jitsudo-dev"
	}
	if cfg.Audience == "" {
		cfg.Audience = "jitsudo-dev"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PlatformAdminKey == "" {
		raw, _, _, err := auth.GenerateKey()
		if err != nil {
			return nil, err
		}
		cfg.PlatformAdminKey = "platform_" + strings.TrimPrefix(raw, auth.KeyPrefix)
	}
	st := &Stack{PlatformAdminKey: cfg.PlatformAdminKey, Audience: cfg.Audience}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()

	// The table's DynamoDB API goes through two streams emulators, as
	// the table's stream has two consumers on AWS: the audit chain
	// (Notifications.Tap) and the outbox (OutboxTap: the workflow driver
	// and the notification relay, bound below).
	notifs, err := StartNotifications(ctx, cfg.Console, cfg.Logger)
	if err != nil {
		return nil, err
	}
	st.Notifications = notifs
	st.stops = append(st.stops, notifs.Close)
	var ddb http.Handler
	if cfg.DynamoDBEndpoint == "" {
		ddb = dynamolocal.Handler()
	} else {
		target, err := url.Parse(cfg.DynamoDBEndpoint)
		if err != nil {
			return nil, fmt.Errorf("devstack: DynamoDB endpoint: %w", err)
		}
		ddb = httputil.NewSingleHostReverseProxy(target)
	}
	outboxTap := &OutboxTap{}
	st.stops = append(st.stops, outboxTap.Close)
	ddbSrv := httptest.NewServer(outboxTap.Tap(notifs.Tap(ddb), cfg.Logger))
	st.stops = append(st.stops, ddbSrv.Close)
	client := dynamolocal.Client(ddbSrv.URL)
	if cfg.DynamoDBEndpoint != "" {
		client = store.NewClient(wiring.AWSConfig(ddbSrv.URL, ""))
	}
	if err := store.CreateTable(ctx, client, cfg.Table); err != nil {
		return nil, fmt.Errorf("devstack: create table: %w", err)
	}
	st.Store = store.New(client, cfg.Table)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: listen on %s: %w", cfg.Addr, err)
	}
	st.URL = "http://" + ln.Addr().String()
	notifs.Bind(st.Store, st.URL)
	if len(cfg.AuditKey) == 0 {
		cfg.AuditKey = make([]byte, 32)
		_, _ = rand.Read(cfg.AuditKey)
	}
	if cfg.AuditAnchorDir == "" {
		dir, err := os.MkdirTemp("", "jitsudo-audit-anchors-")
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("devstack: audit anchors: %w", err)
		}
		st.stops = append(st.stops, func() { _ = os.RemoveAll(dir) })
		cfg.AuditAnchorDir = dir
	}
	notifs.BindAudit(st.Store, audit.HMACSigner{Key: cfg.AuditKey}, audit.DirAnchors{Dir: cfg.AuditAnchorDir})
	keys := make([]*rsa.PrivateKey, 1+len(DemoUsers)) // nil: fresh
	if cfg.SigningKeys != nil {
		if len(cfg.SigningKeys) < len(keys) {
			ln.Close()
			return nil, fmt.Errorf("devstack: %d signing keys, want %d", len(cfg.SigningKeys), len(keys))
		}
		copy(keys, cfg.SigningKeys)
	}
	st.Issuer, err = devissuer.NewWithKey(st.URL+"/dev-idp", keys[0])
	if err != nil {
		ln.Close()
		return nil, err
	}
	st.UIClientID = UIClientID
	st.TenantIdPs = map[string]*devidp.Provider{}
	for i, tenant := range slices.Sorted(maps.Keys(DemoUsers)) {
		p, err := devidp.New(devidp.Config{Issuer: st.URL + "/idp/" + tenant, Tenant: tenant, Audience: cfg.Audience,
			ClientID: UIClientID, RedirectURIs: []string{st.URL + "/ui/callback"}, Users: DemoUsers[tenant], TokenTTL: TokenTTL,
			Key: keys[1+i]})
		if err != nil {
			ln.Close()
			return nil, err
		}
		st.TenantIdPs[tenant] = p
	}
	authz, err := auth.New(ctx, auth.Config{
		Issuer: st.Issuer.IssuerURL(), Audience: cfg.Audience, JWKSURL: st.Issuer.JWKSURL(),
		PlatformAdminKey: cfg.PlatformAdminKey, Logger: cfg.Logger.With("function", routes.Authorizer),
		Identities: st.Store, TenantHTTPClient: notify.Guard{Mode: notify.ModeLocal}.Client(),
	}, st.Store)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The workers' Lambda endpoint is never on the API listener (which
	// may be reachable from elsewhere): loopback, an ephemeral port.
	lambdaLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("devstack: Lambda listener: %w", err)
	}
	st.LambdaURL = "http://" + lambdaLn.Addr().String()
	st.Workflow, err = startWorkflow(ctx, st.Store, recording.New(st.Store), st.LambdaURL, cfg.Logger, cfg.ShimLog, NewClock(cfg.TimeScale))
	if err != nil {
		ln.Close()
		lambdaLn.Close()
		return nil, err
	}
	st.lambdaSrv = &http.Server{Handler: st.Workflow.Lambda, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := st.lambdaSrv.Serve(lambdaLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("Lambda endpoint stopped", "error", err.Error())
		}
	}()
	st.stops = append(st.stops, st.Workflow.Close)
	if cfg.SweepEvery > 0 {
		sweepCtx, stopSweep := context.WithCancel(context.Background())
		go st.Workflow.sweepEvery(sweepCtx, cfg.SweepEvery, cfg.Logger.With("function", "sweep-overdue"))
		// extend-audit-chain's schedule: the idle tenants' anchors
		go every(sweepCtx, cfg.SweepEvery, func(ctx context.Context) error {
			_, err := notifs.Chain.AnchorIdle(ctx)
			return err
		}, cfg.Logger.With("function", "extend-audit-chain"))
		st.stops = append(st.stops, stopSweep)
	}
	outboxTap.Bind(outbox.New(cfg.Logger.With("function", "relay-outbox"),
		outbox.Named{Name: "drive", Half: st.Workflow.Driver}, outbox.Named{Name: "publish", Half: notifs.Relay}))
	st.OutboxStream = outboxTap.Stream
	st.Workflow.Workers.Events, st.Workflow.Workers.Links = notifs.Publisher, events.NewLinks(st.URL)
	gw, err := NewGateway(authz, FunctionsWith(st.Store, st.Workflow, notifs, cfg.Logger, func(d *api.Deps) {
		d.DefaultIssuer, d.UIClientID = st.Issuer.IssuerURL(), UIClientID
		if cfg.Limits != nil {
			d.Access.Limits = *cfg.Limits
		}
	}), cfg.Logger.With("component", "gateway"))
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/dev-idp/", st.Issuer.Handler())
	for tenant, p := range st.TenantIdPs {
		mux.Handle("/idp/"+tenant+"/", p.Handler())
	}
	mux.Handle("/sns", notifs.Handler())
	mux.Handle("/", gw)
	var handler http.Handler = mux
	if cfg.Wrap != nil {
		handler = cfg.Wrap(mux)
	}
	st.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := st.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("dev server stopped", "error", err.Error())
		}
	}()
	if err := notifs.Subscribe(ctx, st.URL+"/sns"); err != nil {
		return nil, err
	}
	ok = true
	return st, nil
}

// Functions builds every function's Lambda handler over s, each as its own
// main.go would (its own Deps, its own route mux), sharing only the store.
func Functions(s *store.Store, wf *Workflow, logger *slog.Logger) map[string]LambdaHandler {
	return FunctionsWith(s, wf, nil, logger)
}

// FunctionsWith is Functions with the local notification path for the
// channel routes (nil: email channels refused, no channel tests).
// opts adjust each function's Deps (the local stack's sign-in settings).
func FunctionsWith(s *store.Store, wf *Workflow, n *Notifications, logger *slog.Logger, opts ...func(*api.Deps)) map[string]LambdaHandler {
	fns := map[string]LambdaHandler{}
	for name, ctor := range api.Constructors() {
		deps := api.NewDeps(s, wf.API, wf.Provider, logger.With("function", name))
		deps.Access.Now = wf.Clock.Now
		deps.Notify.Guard.Mode = notify.ModeLocal
		for _, o := range opts {
			o(&deps)
		}
		if n != nil {
			deps.Notify.Subscriptions, deps.Notify.TopicARN, deps.Notify.Tester = n.Subscriptions, n.TopicARN, n.Dispatcher
			if n.Verifier != nil {
				deps.Access.AuditVerifier = n.Verifier
			}
		}
		mux, err := lambdaapp.Mux(name, ctor(deps))
		if err != nil {
			continue // not a route function; NewGateway reports missing ones
		}
		fns[name] = httpadapter.NewV2(mux).ProxyWithContext
	}
	return fns
}

// Close stops everything the stack started.
func (st *Stack) Close() {
	for _, srv := range []*http.Server{st.srv, st.lambdaSrv} {
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = srv.Shutdown(ctx)
			cancel()
		}
	}
	for i := len(st.stops) - 1; i >= 0; i-- {
		st.stops[i]()
	}
	st.stops = nil
}
