package wiring

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/outbox"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/web"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// Store opens the table TABLE_NAME over DYNAMODB_ENDPOINT (unset: DynamoDB
// in the region), its list cursors sealed under CURSOR_SECRET (at least 32
// bytes; template.yaml generates one in Secrets Manager and hands it to
// every function). CURSOR_SECRET is required unless DYNAMODB_ENDPOINT is
// a loopback address (a local stack), where a fixed key derived from the
// table name is used: local cursors are sealed, but not secret.
func Store(context.Context) (*store.Store, error) {
	table := str("TABLE_NAME")
	if table == "" {
		return nil, errors.New("wiring: TABLE_NAME is not set")
	}
	endpoint := str("DYNAMODB_ENDPOINT")
	s := store.New(store.NewClient(AWSConfig(endpoint, "")), table)
	secret := []byte(raw("CURSOR_SECRET"))
	if len(secret) == 0 {
		if !loopback(endpoint) {
			return nil, errors.New("wiring: CURSOR_SECRET is not set")
		}
		sum := sha256.Sum256([]byte("jitsudo-serverless local cursor secret\x00" + table))
		secret = sum[:]
	}
	if err := s.SetCursorSecret(secret); err != nil {
		return nil, fmt.Errorf("wiring: CURSOR_SECRET: %w", err)
	}
	return s, nil
}

// local reports whether the environment configures a local stack:
// DYNAMODB_ENDPOINT is a loopback URL (the rule Store applies to the
// cursor secret). Deployed functions never have one.
func local() bool { return loopback(str("DYNAMODB_ENDPOINT")) }

// loopback reports whether endpoint is a URL on a loopback host.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Workflow is the state machine STATE_MACHINE_ARN, over SFN_ENDPOINT when
// set (the local shim) or Step Functions in the region.
func Workflow() (*workflow.SFN, error) {
	arn := str("STATE_MACHINE_ARN")
	if arn == "" {
		return nil, errors.New("wiring: STATE_MACHINE_ARN is not set")
	}
	if !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":stateMachine:") {
		return nil, errors.New("wiring: STATE_MACHINE_ARN is not a state machine ARN: " + arn)
	}
	return workflow.New(sfn.NewFromConfig(AWSConfig(str("SFN_ENDPOINT"), "")), arn), nil
}

// DefaultPollBudget bounds one provider call's wait for Identity Center
// (PROVIDER_POLL_BUDGET): within the API's 30 s and the workers' timeout.
const DefaultPollBudget = 20 * time.Second

// recording builds the recording provider; nil unless the binary was built
// with -tags jitsudo_local (local.go): the local Lambda runs (infra/invoke,
// make invoke). The binaries built for AWS do not link it.
var recording func(*store.Store) access.Provider

// ErrNoProvider: PROVIDER is unset, unknown or not in this binary.
var ErrNoProvider = errors.New("wiring: no usable provider")

// provider is the provider PROVIDER selects over st, for a function built
// WithProvider (without: workflow.NoProvider). Selection fails closed:
// PROVIDER unset, unknown, or naming a provider this binary was not built
// with is an error at cold start, so a misconfigured deployment stops
// instead of approving access it never provisions.
func provider(st *store.Store, logger *slog.Logger, a adapters) (access.Provider, error) {
	if a.provider == nil {
		return workflow.NoProvider{}, nil
	}
	switch p := str("PROVIDER"); p {
	case "identitycenter":
		budget, err := duration("PROVIDER_POLL_BUDGET", DefaultPollBudget)
		if err != nil {
			return nil, fmt.Errorf("wiring: %w", err)
		}
		return a.provider(AWSConfig(str("PROVIDER_ENDPOINT"), ""), st, logger, budget), nil
	case "recording":
		if recording == nil {
			return nil, fmt.Errorf("%w: PROVIDER=recording is the local stand-in, not built into this binary (build with -tags jitsudo_local for the local stack)", ErrNoProvider)
		}
		return recording(st), nil
	case "":
		return nil, fmt.Errorf("%w: PROVIDER is not set (want identitycenter)", ErrNoProvider)
	default:
		return nil, fmt.Errorf("%w: PROVIDER=%q is not supported (want identitycenter)", ErrNoProvider, p)
	}
}

// core is what every access-changing function runs over: the table
// (Store), the workflow (Workflow) and the provider (WithProvider;
// without: workflow.NoProvider).
func core(ctx context.Context, logger *slog.Logger, a adapters) (*store.Store, *workflow.SFN, access.Provider, error) {
	st, err := Store(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	wf, err := Workflow()
	if err != nil {
		return nil, nil, nil, err
	}
	prov, err := provider(st, logger, a)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, wf, prov, nil
}

// service is the access.Service a worker runs with, over core, with the
// tenants' compiled policies (cached per rule-set version for the life of
// the warm Lambda), and the store under it.
func service(ctx context.Context, logger *slog.Logger, a adapters) (*access.Service, *store.Store, error) {
	st, wf, prov, err := core(ctx, logger, a)
	if err != nil {
		return nil, nil, err
	}
	return &access.Service{Repo: st, Policies: policy.NewCache().Source(st), Workflow: wf, Provider: prov, Now: time.Now, Logger: logger}, st, nil
}

// maxLimitSetting bounds a configured limit (a typo like 1e9 is refused,
// not silently "unlimited").
const maxLimitSetting = 1_000_000

// Limits are the abuse limits (docs/limits.md): RATE_LIMIT_MESSAGES_PER_MINUTE,
// RATE_LIMIT_REQUESTS_PER_MINUTE, RATE_LIMIT_EXTENSIONS_PER_MINUTE and
// MAX_MESSAGES_PER_REQUEST over access.DefaultLimits (which sets the
// one-minute windows the names promise). Unset keeps the default, 0 turns
// a limit off, and a value that is not an integer in 0..1000000 is an
// error (the function does not start).
func Limits() (access.Limits, error) {
	l := access.DefaultLimits()
	for _, v := range []struct {
		env string
		to  *int64
	}{
		{"RATE_LIMIT_MESSAGES_PER_MINUTE", &l.Messages.Max},
		{"RATE_LIMIT_REQUESTS_PER_MINUTE", &l.Requests.Max},
		{"RATE_LIMIT_EXTENSIONS_PER_MINUTE", &l.Extensions.Max},
		{"MAX_MESSAGES_PER_REQUEST", &l.MaxMessagesPerRequest},
	} {
		s := str(v.env)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || n > maxLimitSetting {
			return access.Limits{}, fmt.Errorf("wiring: %s=%q: want an integer from 0 (off) to %d", v.env, s, maxLimitSetting)
		}
		*v.to = n
	}
	return l, nil
}

// targets is the access.TargetChecker of PROVIDER_MODE, the deployment's
// provider as the functions built without one know it: identitycenter →
// access.AccountAssignmentTargets (an account and a permission set), so
// that create-request and evaluate-policy refuse targets it cannot
// provision; recording, or unset (the local stack and tests), → nil: any
// target. Unset does not default to Identity Center's rule: it is no
// safety control (a grant Identity Center cannot make fails anyway), only
// an earlier, clearer answer.
func targets() (access.TargetChecker, error) {
	switch m := str("PROVIDER_MODE"); m {
	case "identitycenter":
		return access.AccountAssignmentTargets{}, nil
	case "", "recording":
		return nil, nil
	default:
		return nil, fmt.Errorf("wiring: PROVIDER_MODE=%q is not supported (want identitycenter or recording)", m)
	}
}

// notifyMode is NOTIFY_MODE, the URL rules of delivery: "local" (http to
// loopback allowed) or "aws" (the default).
func notifyMode() (notify.Mode, error) {
	switch v := str("NOTIFY_MODE"); v {
	case "", "aws":
		return notify.ModeAWS, nil
	case "local":
		return notify.ModeLocal, nil
	default:
		return notify.ModeAWS, fmt.Errorf("wiring: NOTIFY_MODE=%q: want aws or local", v)
	}
}

// links are the events' links: API_BASE_URL, and UI_BASE_URL for the
// Approvals page's (empty: the API's base URL, which serves the page).
func links() events.APILinks {
	l := events.NewLinks(raw("API_BASE_URL"))
	if ui := strings.TrimRight(str("UI_BASE_URL"), "/"); ui != "" {
		l.UI = ui
	}
	return l
}

// WebConfig is the Approvals page's configuration: UI_CONNECT_SRC, the
// extra origins it may fetch (space-separated).
func WebConfig() web.Config {
	return web.Config{ConnectSrc: strings.Fields(raw("UI_CONNECT_SRC"))}
}

// topic is SNS_TOPIC_ARN (required by the functions that publish or
// subscribe).
func topic() (string, error) {
	t := str("SNS_TOPIC_ARN")
	if t == "" {
		return "", errors.New("wiring: SNS_TOPIC_ARN is not set")
	}
	return t, nil
}

// Deps are an API function's dependencies: the table, the workflow, the
// provider (WithProvider), the notification channels' URL rules and test
// delivery, the email subscriptions (WithEmailSubscriptions), the audit
// verifier (WithAuditKeys), TENANT_ROLE_NAME, the sign-in defaults
// (OIDC_ISSUER, UI_CLIENT_ID), PROVIDER_MODE's target rule, the abuse
// limits (Limits) and the page's configuration (WebConfig).
func Deps(ctx context.Context, logger *slog.Logger, opts ...Option) (api.Deps, error) {
	a := collect(opts)
	st, wf, prov, err := core(ctx, logger, a)
	if err != nil {
		return api.Deps{}, err
	}
	d := api.NewDeps(st, wf, prov, logger)
	if d.Notify.Guard.Mode, err = notifyMode(); err != nil {
		return api.Deps{}, err
	}
	d.Notify.Tester = &notify.Dispatcher{Channels: st, Guard: d.Notify.Guard, Logger: logger}
	if a.subscriptions != nil {
		if d.Notify.TopicARN, err = topic(); err != nil {
			return api.Deps{}, err
		}
		d.Notify.Subscriptions = a.subscriptions(AWSConfig(str("SNS_ENDPOINT"), ""))
	}
	if a.auditKeys {
		sig, anchors, err := auditKeys(a)
		if err != nil {
			return api.Deps{}, err
		}
		d.Access.AuditVerifier = &audit.Verifier{Repo: st, Signer: sig, Anchors: anchors}
	}
	d.TenantRoleName = str("TENANT_ROLE_NAME")
	d.DefaultIssuer = str("OIDC_ISSUER")
	d.UIClientID = str("UI_CLIENT_ID")
	d.Web = WebConfig()
	if d.Access.Targets, err = targets(); err != nil {
		return api.Deps{}, err
	}
	if d.Access.Limits, err = Limits(); err != nil {
		return api.Deps{}, err
	}
	return d, nil
}

// Workers are the state machine's task functions and notify-expiring:
// Service, the expiring-soon lead (NOTICE_LEAD), the events' links and,
// WithPublisher, the publisher of grant.expiring_soon.
func Workers(ctx context.Context, logger *slog.Logger, opts ...Option) (*workflow.Workers, error) {
	a := collect(opts)
	svc, _, err := service(ctx, logger, a)
	if err != nil {
		return nil, err
	}
	w := &workflow.Workers{Service: svc, Workflow: svc.Workflow, Logger: logger, Links: links()}
	if w.NoticeLead, err = duration("NOTICE_LEAD", 0); err != nil {
		return nil, fmt.Errorf("wiring: %w", err)
	}
	if a.publisher != nil {
		if w.Events, err = publisher(a); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func publisher(a adapters) (workflow.EventPublisher, error) {
	t, err := topic()
	if err != nil {
		return nil, err
	}
	return a.publisher(AWSConfig(str("SNS_ENDPOINT"), ""), t), nil
}

// Sweeper is the sweep-overdue function's: Service over the table's
// overdue index, SWEEP_GRACE and PROVISIONING_BUDGET (durations, optional).
func Sweeper(ctx context.Context, logger *slog.Logger, opts ...Option) (*workflow.Sweeper, error) {
	svc, st, err := service(ctx, logger, collect(opts))
	if err != nil {
		return nil, err
	}
	sw := &workflow.Sweeper{Index: st, Service: svc, Logger: logger}
	if sw.Grace, err = duration("SWEEP_GRACE", 0); err != nil {
		return nil, fmt.Errorf("wiring: %w", err)
	}
	if sw.ProvisioningBudget, err = duration("PROVISIONING_BUDGET", 0); err != nil {
		return nil, fmt.Errorf("wiring: %w", err)
	}
	return sw, nil
}

// Relay is the relay-outbox function's stream consumer: the workflow
// driver and the events relay (the table for the summaries and the
// deciding rules' channels, the links, the publisher WithPublisher gives),
// over one table.
func Relay(ctx context.Context, logger *slog.Logger, opts ...Option) (*outbox.Consumer, error) {
	a := collect(opts)
	if a.publisher == nil {
		return nil, errors.New("wiring: the relay needs WithPublisher")
	}
	st, wf, _, err := core(ctx, logger, a)
	if err != nil {
		return nil, err
	}
	pub, err := publisher(a)
	if err != nil {
		return nil, err
	}
	relay := &events.Relay{Loader: st, Rules: events.RuleChannels{Rules: st}, Links: links(), Publisher: pub, Logger: logger}
	driver := &workflow.Driver{Repo: st, Workflow: wf, Logger: logger}
	return outbox.New(logger, outbox.Named{Name: "drive", Half: driver}, outbox.Named{Name: "publish", Half: relay}), nil
}

// Dispatcher is the deliver-notifications function's: the table's
// channels, with NOTIFY_MODE's URL rules.
func Dispatcher(ctx context.Context, logger *slog.Logger) (*notify.Dispatcher, error) {
	st, err := Store(ctx)
	if err != nil {
		return nil, err
	}
	mode, err := notifyMode()
	if err != nil {
		return nil, err
	}
	return &notify.Dispatcher{Channels: st, Guard: notify.Guard{Mode: mode}, Logger: logger}, nil
}

// auditKeys are the chain's signer and anchor store (WithAuditKeys).
// Signer: AUDIT_KMS_KEY_ID, else AUDIT_MAC_KEY, else AUDIT_MAC_KEY_FILE.
// Anchors: AUDIT_ANCHOR_BUCKET (AUDIT_ANCHOR_PREFIX, default anchors/;
// AUDIT_ANCHOR_RETENTION_DAYS), else AUDIT_ANCHOR_DIR. None is an error
// (fail closed).
func auditKeys(a adapters) (audit.Signer, audit.AnchorStore, error) {
	sig, err := auditSigner(a)
	if err != nil {
		return nil, nil, err
	}
	anchors, err := auditAnchors(a)
	if err != nil {
		return nil, nil, err
	}
	return sig, anchors, nil
}

func auditSigner(a adapters) (audit.Signer, error) {
	if id := str("AUDIT_KMS_KEY_ID"); id != "" {
		if a.kms == nil {
			return nil, errors.New("wiring: AUDIT_KMS_KEY_ID is set but this function has no KMS client")
		}
		return a.kms(AWSConfig("", ""), id), nil
	}
	key := raw("AUDIT_MAC_KEY")
	if key == "" {
		if f := str("AUDIT_MAC_KEY_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("wiring: read AUDIT_MAC_KEY_FILE: %w", err)
			}
			key = string(b)
		}
	}
	if key == "" {
		return nil, errors.New("wiring: no audit chain key: set AUDIT_KMS_KEY_ID (AWS) or AUDIT_MAC_KEY / AUDIT_MAC_KEY_FILE")
	}
	b, err := audit.ParseKey(key)
	if err != nil {
		return nil, err
	}
	return audit.HMACSigner{Key: b}, nil
}

func auditAnchors(a adapters) (audit.AnchorStore, error) {
	if b := str("AUDIT_ANCHOR_BUCKET"); b != "" {
		if a.s3 == nil {
			return nil, errors.New("wiring: AUDIT_ANCHOR_BUCKET is set but this function has no S3 client")
		}
		prefix, ok := lookup("AUDIT_ANCHOR_PREFIX")
		if !ok {
			prefix = "anchors/"
		}
		days := 0
		if v := str("AUDIT_ANCHOR_RETENTION_DAYS"); v != "" {
			var err error
			if days, err = strconv.Atoi(v); err != nil || days < 0 {
				return nil, fmt.Errorf("wiring: AUDIT_ANCHOR_RETENTION_DAYS=%q: want days", v)
			}
		}
		return a.s3(AWSConfig("", ""), b, prefix, days), nil
	}
	if d := str("AUDIT_ANCHOR_DIR"); d != "" {
		return audit.DirAnchors{Dir: d}, nil
	}
	return nil, errors.New("wiring: no audit anchor store: set AUDIT_ANCHOR_BUCKET (AWS) or AUDIT_ANCHOR_DIR")
}

// Extender is the extend-audit-chain function's: the table, the chain's
// keys (WithAuditKeys; the local ones without it) and the anchoring
// cadence (AUDIT_ANCHOR_EVERY entries, default 100; AUDIT_ANCHOR_INTERVAL,
// default 1m).
func Extender(ctx context.Context, logger *slog.Logger, opts ...Option) (*audit.Extender, error) {
	ver, err := Verifier(ctx, opts...)
	if err != nil {
		return nil, err
	}
	x := &audit.Extender{Repo: ver.Repo, Signer: ver.Signer, Anchors: ver.Anchors, Logger: logger}
	if every := str("AUDIT_ANCHOR_EVERY"); every != "" {
		if x.AnchorEvery, err = strconv.ParseInt(every, 10, 64); err != nil || x.AnchorEvery < 1 {
			return nil, fmt.Errorf("wiring: AUDIT_ANCHOR_EVERY=%q: want a positive integer", every)
		}
	}
	if x.AnchorInterval, err = duration("AUDIT_ANCHOR_INTERVAL", 0); err != nil {
		return nil, fmt.Errorf("wiring: %w", err)
	}
	return x, nil
}

// Verifier is the chain verifier over the table with the chain's keys
// (auditKeys): the operator's (infra/audit-verify), and what the extender
// builds on.
func Verifier(ctx context.Context, opts ...Option) (*audit.Verifier, error) {
	st, err := Store(ctx)
	if err != nil {
		return nil, err
	}
	sig, anchors, err := auditKeys(collect(opts))
	if err != nil {
		return nil, err
	}
	return &audit.Verifier{Repo: st, Signer: sig, Anchors: anchors}, nil
}

// Reconcile builds the reconcile-assignments function's reconciler:
// PROVIDER must be identitycenter (with the recording stand-in nothing can
// drift); newProvider (providers.IdentityCenter) and newReconcile
// (providers.NewReconcile) are the Identity Center adapter's.
func Reconcile[P access.Provider, R any](ctx context.Context, logger *slog.Logger,
	newProvider func(cfg aws.Config, st *store.Store, logger *slog.Logger, pollBudget time.Duration) P,
	newReconcile func(st *store.Store, p P, audit *access.Service, logger *slog.Logger) R) (R, error) {
	var zero R
	if p := str("PROVIDER"); p != "identitycenter" {
		return zero, fmt.Errorf("wiring: the reconciler needs PROVIDER=identitycenter (is %q)", p)
	}
	var p P
	svc, st, err := service(ctx, logger, collect([]Option{WithProvider(func(cfg aws.Config, st *store.Store, logger *slog.Logger, budget time.Duration) P {
		p = newProvider(cfg, st, logger, budget)
		return p
	})}))
	if err != nil {
		return zero, err
	}
	return newReconcile(st, p, svc, logger), nil
}

// platformKey is the platform admin key: with PLATFORM_ADMIN_KEY_PARAMETER
// set, that SSM SecureString through the adapter (WithPlatformKeyParameter);
// without it, on a local stack only (DYNAMODB_ENDPOINT on loopback),
// PLATFORM_ADMIN_KEY (empty: the platform identity is disabled). In AWS
// the key is never read from a plain variable: ErrNoPlatformKey.
func platformKey(ctx context.Context, a adapters) (string, error) {
	name := str("PLATFORM_ADMIN_KEY_PARAMETER")
	plain := str("PLATFORM_ADMIN_KEY")
	switch {
	case name != "" && plain != "":
		return "", errors.New("wiring: both PLATFORM_ADMIN_KEY_PARAMETER and PLATFORM_ADMIN_KEY are set; keep the parameter only")
	case name != "":
		if a.ssm == nil {
			return "", errors.New("wiring: PLATFORM_ADMIN_KEY_PARAMETER is set but this function has no SSM client")
		}
		return a.ssm(ctx, AWSConfig("", ""), name)
	case local():
		return plain, nil
	}
	return "", ErrNoPlatformKey
}

// ErrNoPlatformKey: in AWS, PLATFORM_ADMIN_KEY_PARAMETER is unset (or the
// key was given as a plain environment variable).
var ErrNoPlatformKey = errors.New("wiring: PLATFORM_ADMIN_KEY_PARAMETER is not set (in AWS the platform admin key is read from an SSM SecureString parameter, not from PLATFORM_ADMIN_KEY)")

// tenantJWKSTimeout bounds one fetch of a tenant's JWKS.
const tenantJWKSTimeout = 10 * time.Second

// Authorizer is the authorizer function's: the default issuer
// (OIDC_ISSUER, OIDC_AUDIENCE, OIDC_JWKS_URL, GROUPS_CLAIM, TENANT_CLAIM,
// ADMIN_GROUP), the API-key cache (API_KEY_CACHE_TTL: a Go duration or
// seconds; unset 30s, 0 off), the platform admin key (platformKey), and
// the tenants' own issuers: settings from the table (read-only), their
// JWKS fetched through NOTIFY_MODE's SSRF guard (tenant admins chose the
// URLs).
func Authorizer(ctx context.Context, logger *slog.Logger, opts ...Option) (*auth.Authorizer, error) {
	st, err := Store(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := authConfig(ctx, logger, collect(opts))
	if err != nil {
		return nil, err
	}
	cfg.Identities = st
	return auth.New(ctx, cfg, st)
}

// authConfig is the authorizer's configuration but the table.
func authConfig(ctx context.Context, logger *slog.Logger, a adapters) (auth.Config, error) {
	cfg := auth.Config{
		Issuer: str("OIDC_ISSUER"), Audience: str("OIDC_AUDIENCE"), JWKSURL: str("OIDC_JWKS_URL"),
		GroupsClaim: str("GROUPS_CLAIM"), TenantClaim: str("TENANT_CLAIM"), AdminGroup: str("ADMIN_GROUP"),
		KeyCacheTTL: auth.DefaultKeyCacheTTL, Logger: logger,
	}
	var err error
	if v := str("API_KEY_CACHE_TTL"); v != "" {
		if cfg.KeyCacheTTL, err = auth.ParseKeyCacheTTL(v); err != nil {
			return auth.Config{}, fmt.Errorf("wiring: API_KEY_CACHE_TTL=%q: %w", v, err)
		}
	}
	if cfg.PlatformAdminKey, err = platformKey(ctx, a); err != nil {
		return auth.Config{}, err
	}
	mode, err := notifyMode()
	if err != nil {
		return auth.Config{}, err
	}
	tc := notify.Guard{Mode: mode}.Client()
	tc.Timeout = tenantJWKSTimeout
	cfg.TenantHTTPClient = tc
	return cfg, nil
}
