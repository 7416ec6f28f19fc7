package wiring

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/audit"
	"github.com/jitsudo/jitsudo-serverless/shared/audit/awsaudit"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// These tests are not parallel: they set the environment. Building needs
// no service: the clients connect on first use.

var quiet = slog.New(slog.DiscardHandler)

const testMachine = "arn:aws:states:us-east-1:000000000000:stateMachine:access-request"

// localStack sets what every function of a local stack has.
func localStack(t *testing.T) {
	t.Helper()
	t.Setenv("TABLE_NAME", "jitsudo")
	t.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("CURSOR_SECRET", "")
	t.Setenv("STATE_MACHINE_ARN", testMachine)
}

func TestAWSConfig(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	cfg := AWSConfig("", "")
	c, err := cfg.Credentials.Retrieve(context.Background())
	if cfg.Region != "eu-west-1" || cfg.BaseEndpoint != nil || err != nil || c.AccessKeyID != "AKIDEXAMPLE" || c.SecretAccessKey != "secret" || c.SessionToken != "token" {
		t.Fatalf("%+v %+v %v", cfg, c, err)
	}
	if AWSConfig("", "ap-south-1").Region != "ap-south-1" {
		t.Fatal("explicit region ignored")
	}
	// An endpoint keeps the environment's credentials when there are some.
	cfg = AWSConfig("http://127.0.0.1:4566", "")
	if c, _ := cfg.Credentials.Retrieve(context.Background()); aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:4566" || c.AccessKeyID != "AKIDEXAMPLE" {
		t.Fatalf("%+v %+v", cfg, c)
	}

	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	cfg = AWSConfig("", "")
	if _, err := cfg.Credentials.Retrieve(context.Background()); cfg.Region != DefaultRegion || !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no credentials: %q %v", cfg.Region, err)
	}
	// Without credentials, a local stand-in gets dummy ones.
	if c, err := AWSConfig("http://127.0.0.1:4566", "").Credentials.Retrieve(context.Background()); err != nil || c.AccessKeyID != "local" {
		t.Fatalf("local: %+v %v", c, err)
	}
}

func TestStore(t *testing.T) {
	ctx := context.Background()
	localStack(t)
	if st, err := Store(ctx); err != nil || st.Table() != "jitsudo" {
		t.Fatalf("local stack without a cursor secret: %v", err)
	}
	t.Setenv("TABLE_NAME", "")
	if _, err := Store(ctx); err == nil || !strings.Contains(err.Error(), "TABLE_NAME") {
		t.Fatalf("no table: %v", err)
	}
	t.Setenv("TABLE_NAME", "jitsudo")
	for _, endpoint := range []string{"", "https://dynamodb.example.com", "http://10.0.0.1:8000"} {
		t.Setenv("DYNAMODB_ENDPOINT", endpoint)
		if _, err := Store(ctx); err == nil || !strings.Contains(err.Error(), "CURSOR_SECRET") {
			t.Errorf("endpoint %q without a cursor secret: %v", endpoint, err)
		}
	}
	t.Setenv("CURSOR_SECRET", "short")
	if _, err := Store(ctx); err == nil || !strings.Contains(err.Error(), "CURSOR_SECRET") {
		t.Fatalf("short secret: %v", err)
	}
	t.Setenv("CURSOR_SECRET", strings.Repeat("k", 32))
	if _, err := Store(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLoopback(t *testing.T) {
	for endpoint, want := range map[string]bool{
		"http://127.0.0.1:8000": true, "http://localhost:1": true, "http://[::1]:2": true,
		"": false, "https://dynamodb.us-east-1.amazonaws.com": false, "http://10.0.0.1": false, "127.0.0.1:8000": false,
	} {
		if got := loopback(endpoint); got != want {
			t.Errorf("loopback(%q) = %v", endpoint, got)
		}
	}
}

func TestWorkflow(t *testing.T) {
	for arn, ok := range map[string]bool{testMachine: true, "": false, "access-request": false, "arn:aws:lambda:us-east-1:000000000000:function:x": false} {
		t.Setenv("STATE_MACHINE_ARN", arn)
		if _, err := Workflow(); (err == nil) != ok {
			t.Errorf("%q: %v", arn, err)
		}
	}
}

// Unset: the defaults; set: the value, 0 turning a limit off; anything
// else stops the function rather than lifting the limit.
func TestLimits(t *testing.T) {
	l, err := Limits()
	if err != nil || l != access.DefaultLimits() {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	t.Setenv("RATE_LIMIT_MESSAGES_PER_MINUTE", "5")
	t.Setenv("MAX_MESSAGES_PER_REQUEST", "0")
	l, err = Limits()
	if err != nil || l.Messages != (access.Rate{Max: 5, Window: time.Minute}) || l.MaxMessagesPerRequest != 0 || l.Requests.Max != access.DefaultRequestsPerMinute {
		t.Fatalf("configured: %+v %v", l, err)
	}
	for _, bad := range []string{"-1", "ten", "1e3", "1000001", "5.5"} {
		t.Setenv("RATE_LIMIT_REQUESTS_PER_MINUTE", bad)
		if _, err := Limits(); err == nil {
			t.Errorf("RATE_LIMIT_REQUESTS_PER_MINUTE=%q accepted", bad)
		}
	}
}

// PROVIDER_MODE selects Identity Center's rule for the functions built
// without a provider.
func TestTargets(t *testing.T) {
	for mode, want := range map[string]access.TargetChecker{"identitycenter": access.AccountAssignmentTargets{}, "recording": nil, "": nil} {
		t.Setenv("PROVIDER_MODE", mode)
		if got, err := targets(); err != nil || got != want {
			t.Errorf("PROVIDER_MODE=%q: %v %v, want %v", mode, got, err, want)
		}
	}
	t.Setenv("PROVIDER_MODE", "sso")
	if _, err := targets(); err == nil {
		t.Errorf("an unknown provider mode is accepted")
	}
}

func TestNotifyMode(t *testing.T) {
	for v, want := range map[string]notify.Mode{"": notify.ModeAWS, "aws": notify.ModeAWS, "local": notify.ModeLocal} {
		t.Setenv("NOTIFY_MODE", v)
		if got, err := notifyMode(); err != nil || got != want {
			t.Errorf("%q: %v %v", v, got, err)
		}
	}
	t.Setenv("NOTIFY_MODE", "lax")
	if _, err := notifyMode(); err == nil {
		t.Error("an unknown mode is accepted")
	}
}

func TestLinks(t *testing.T) {
	t.Setenv("API_BASE_URL", "https://api.example.com")
	t.Setenv("UI_BASE_URL", "https://jitsudo.example.com/")
	got := links().Links("a b", "req/2", "")
	if got.Page != "https://jitsudo.example.com/ui/t/a%20b/requests/req%2F2" || got.Request != "https://api.example.com/v1/requests/req%2F2" || got.Grant != "" {
		t.Fatalf("%+v", got)
	}
	if got := links().Links("acme", "", "grt_1"); got.Page != "" {
		t.Fatalf("a grant without its request has no page link: %+v", got)
	}
	t.Setenv("UI_BASE_URL", "")
	if got := links().Links("acme", "req_1", ""); got.Page != "https://api.example.com/ui/t/acme/requests/req_1" {
		t.Fatalf("the page defaults to the API's origin: %+v", got)
	}
}

// TestProvider: selection fails closed; identitycenter gets its endpoint
// and poll budget.
func TestProvider(t *testing.T) {
	localStack(t)
	st, err := Store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p, err := provider(st, quiet, adapters{}); err != nil || p != (workflow.NoProvider{}) {
		t.Fatalf("without WithProvider: %T %v", p, err)
	}
	a := collect([]Option{WithProvider(providers.IdentityCenter)})
	cases := []struct {
		name, provider, budget, endpoint string
		budgetIs                         time.Duration // identitycenter's PollBudget; 0: an error
		errHas                           string
	}{
		// Fail closed: no PROVIDER is no provider, never the no-op stand-in.
		{name: "unset is refused", errHas: "PROVIDER is not set"},
		{name: "spaces only is unset", provider: "  ", errHas: "PROVIDER is not set"},
		// This test binary is built like the AWS functions (no jitsudo_local
		// tag): the recording stand-in is not in it (local_test.go has the
		// tagged build).
		{name: "recording is not in an AWS build", provider: "recording", errHas: "not built into this binary"},
		{name: "identitycenter", provider: "identitycenter", endpoint: "http://127.0.0.1:4566", budgetIs: DefaultPollBudget},
		{name: "identitycenter, spaces", provider: " identitycenter ", budgetIs: DefaultPollBudget},
		{name: "identitycenter with a budget", provider: "identitycenter", budget: "60s", budgetIs: time.Minute},
		{name: "unknown provider", provider: "aws", errHas: "PROVIDER"},
		{name: "provider names are exact", provider: "IdentityCenter", errHas: "PROVIDER"},
		{name: "budget not a duration", provider: "identitycenter", budget: "60", errHas: "PROVIDER_POLL_BUDGET"},
		{name: "budget words", provider: "identitycenter", budget: "soon", errHas: "PROVIDER_POLL_BUDGET"},
		{name: "budget zero", provider: "identitycenter", budget: "0s", errHas: "PROVIDER_POLL_BUDGET"},
		{name: "budget negative", provider: "identitycenter", budget: "-5s", errHas: "PROVIDER_POLL_BUDGET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("PROVIDER", c.provider)
			t.Setenv("PROVIDER_POLL_BUDGET", c.budget)
			t.Setenv("PROVIDER_ENDPOINT", c.endpoint)
			p, err := provider(st, quiet, a)
			if c.budgetIs == 0 {
				if err == nil || !strings.Contains(err.Error(), c.errHas) || (c.errHas != "PROVIDER_POLL_BUDGET" && !errors.Is(err, ErrNoProvider)) {
					t.Fatalf("got %T, %v; want an error naming %s", p, err, c.errHas)
				}
				return
			}
			ic, ok := p.(*identitycenter.Provider)
			if err != nil || !ok {
				t.Fatalf("got %T, %v; want *identitycenter.Provider", p, err)
			}
			if ic.PollBudget != c.budgetIs || ic.Endpoint != c.endpoint || ic.Settings == nil || ic.Records == nil {
				t.Fatalf("provider: budget %v endpoint %q settings %v records %v", ic.PollBudget, ic.Endpoint, ic.Settings != nil, ic.Records != nil)
			}
		})
	}
}

func TestReconcileNeedsIdentityCenter(t *testing.T) {
	localStack(t)
	for _, v := range []string{"", "recording"} {
		t.Setenv("PROVIDER", v)
		if _, err := Reconcile(context.Background(), quiet, providers.IdentityCenter, providers.NewReconcile); err == nil {
			t.Errorf("PROVIDER=%q: the reconciler started", v)
		}
	}
	t.Setenv("PROVIDER", "identitycenter")
	r, err := Reconcile(context.Background(), quiet, providers.IdentityCenter, providers.NewReconcile)
	if err != nil || r.Provider == nil || r.Store == nil || r.Audit == nil {
		t.Fatalf("%+v %v", r, err)
	}
	if svc := r.Audit.(*access.Service); svc.Provider != r.Provider {
		t.Fatal("the audit service does not revoke through the reconciler's provider")
	}
}

func TestAuditKeys(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withAWS := collect([]Option{WithAuditKeys(awsaudit.NewKMSSigner, awsaudit.NewS3Anchors)})
	set := func(kv ...string) {
		for _, k := range []string{"AUDIT_KMS_KEY_ID", "AUDIT_MAC_KEY", "AUDIT_MAC_KEY_FILE", "AUDIT_ANCHOR_BUCKET", "AUDIT_ANCHOR_DIR", "AUDIT_ANCHOR_RETENTION_DAYS"} {
			t.Setenv(k, "")
		}
		t.Setenv("AUDIT_ANCHOR_PREFIX", "")
		os.Unsetenv("AUDIT_ANCHOR_PREFIX")
		for i := 0; i < len(kv); i += 2 {
			t.Setenv(kv[i], kv[i+1])
		}
	}
	set("AUDIT_KMS_KEY_ID", "alias/chain", "AUDIT_ANCHOR_BUCKET", "anchors-bucket", "AUDIT_ANCHOR_RETENTION_DAYS", "400")
	sig, anchors, err := auditKeys(withAWS)
	if k, ok := sig.(awsaudit.KMSSigner); err != nil || !ok || k.Key != "alias/chain" {
		t.Fatalf("KMS: %#v %v", sig, err)
	}
	if s3, ok := anchors.(awsaudit.S3Anchors); !ok || s3.Bucket != "anchors-bucket" || s3.Prefix != "anchors/" || s3.RetentionDays != 400 {
		t.Fatalf("S3: %#v", anchors)
	}
	t.Setenv("AUDIT_ANCHOR_PREFIX", "") // set but empty: no prefix
	if _, anchors, _ := auditKeys(withAWS); anchors.(awsaudit.S3Anchors).Prefix != "" {
		t.Fatalf("an empty prefix: %#v", anchors)
	}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"AUDIT_KMS_KEY_ID", "alias/chain", "AUDIT_ANCHOR_DIR", "/tmp"}, "no KMS client"},
		{[]string{"AUDIT_MAC_KEY", strings.Repeat("ab", 32), "AUDIT_ANCHOR_BUCKET", "b"}, "no S3 client"},
		{[]string{"AUDIT_ANCHOR_DIR", "/tmp"}, "no audit chain key"},
		{[]string{"AUDIT_MAC_KEY", "short"}, "at least"},
		{[]string{"AUDIT_MAC_KEY", strings.Repeat("ab", 32)}, "no audit anchor store"},
		{[]string{"AUDIT_MAC_KEY_FILE", filepath.Join(t.TempDir(), "none"), "AUDIT_ANCHOR_DIR", "/tmp"}, "AUDIT_MAC_KEY_FILE"},
	} {
		set(c.env...)
		if _, _, err := auditKeys(adapters{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.env, err, c.want)
		}
	}
	set("AUDIT_MAC_KEY_FILE", keyFile, "AUDIT_ANCHOR_DIR", "/tmp/anchors")
	sig, anchors, err = auditKeys(adapters{})
	if h, ok := sig.(audit.HMACSigner); err != nil || !ok || len(h.Key) != 32 || anchors != (audit.DirAnchors{Dir: "/tmp/anchors"}) {
		t.Fatalf("local: %#v %#v %v", sig, anchors, err)
	}
	set("AUDIT_ANCHOR_BUCKET", "b", "AUDIT_MAC_KEY", strings.Repeat("ab", 32), "AUDIT_ANCHOR_RETENTION_DAYS", "a year")
	if _, _, err := auditKeys(withAWS); err == nil || !strings.Contains(err.Error(), "AUDIT_ANCHOR_RETENTION_DAYS") {
		t.Fatalf("retention: %v", err)
	}
}

func TestExtender(t *testing.T) {
	localStack(t)
	t.Setenv("AUDIT_MAC_KEY", strings.Repeat("ab", 32))
	t.Setenv("AUDIT_ANCHOR_DIR", t.TempDir())
	x, err := Extender(context.Background(), quiet)
	if err != nil || x.AnchorEvery != 0 || x.AnchorInterval != 0 {
		t.Fatalf("defaults: %+v %v", x, err)
	}
	t.Setenv("AUDIT_ANCHOR_EVERY", "10")
	t.Setenv("AUDIT_ANCHOR_INTERVAL", "30s")
	if x, err := Extender(context.Background(), quiet); err != nil || x.AnchorEvery != 10 || x.AnchorInterval != 30*time.Second {
		t.Fatalf("configured: %+v %v", x, err)
	}
	for k, bad := range map[string]string{"AUDIT_ANCHOR_EVERY": "0", "AUDIT_ANCHOR_INTERVAL": "-1s"} {
		t.Setenv(k, bad)
		if _, err := Extender(context.Background(), quiet); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, bad, err)
		}
		t.Setenv(k, "")
	}
}

const platformKeyValue = "platform_0123456789abcdefABCDEF"

// TestPlatformKey: in AWS only the SSM parameter, never a plain variable;
// on a local stack the plain variable.
func TestPlatformKey(t *testing.T) {
	ctx := context.Background()
	var asked []string
	ssm := adapters{ssm: func(_ context.Context, _ aws.Config, name string) (string, error) {
		asked = append(asked, name)
		return platformKeyValue, nil
	}}
	t.Setenv("DYNAMODB_ENDPOINT", "") // AWS
	t.Setenv("PLATFORM_ADMIN_KEY", "")
	t.Setenv("PLATFORM_ADMIN_KEY_PARAMETER", "/jitsudo/platform-admin-key")
	if k, err := platformKey(ctx, ssm); err != nil || k != platformKeyValue || len(asked) != 1 || asked[0] != "/jitsudo/platform-admin-key" {
		t.Fatalf("parameter: %q %v %v", k, err, asked)
	}
	if _, err := platformKey(ctx, adapters{}); err == nil || !strings.Contains(err.Error(), "no SSM client") {
		t.Fatalf("without the SSM adapter: %v", err)
	}
	t.Setenv("PLATFORM_ADMIN_KEY", platformKeyValue)
	if _, err := platformKey(ctx, ssm); err == nil {
		t.Fatal("both the parameter and the plain key were accepted")
	}
	t.Setenv("PLATFORM_ADMIN_KEY_PARAMETER", "")
	if k, err := platformKey(ctx, ssm); !errors.Is(err, ErrNoPlatformKey) {
		t.Fatalf("a plain environment key was used in AWS: %q, %v", k, err)
	}
	t.Setenv("PLATFORM_ADMIN_KEY", "")
	if _, err := platformKey(ctx, ssm); !errors.Is(err, ErrNoPlatformKey) {
		t.Fatalf("AWS without the parameter: %v", err)
	}

	t.Setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:8000") // a local stack
	if k, err := platformKey(ctx, adapters{}); err != nil || k != "" {
		t.Fatalf("local without a key (platform identity disabled): %q, %v", k, err)
	}
	t.Setenv("PLATFORM_ADMIN_KEY", platformKeyValue)
	if k, err := platformKey(ctx, adapters{}); err != nil || k != platformKeyValue {
		t.Fatalf("local: %q, %v", k, err)
	}
}

func TestAuthConfig(t *testing.T) {
	localStack(t)
	t.Setenv("OIDC_ISSUER", "https://idp.example")
	t.Setenv("OIDC_AUDIENCE", "api")
	t.Setenv("GROUPS_CLAIM", "cognito:groups")
	t.Setenv("PLATFORM_ADMIN_KEY", platformKeyValue)
	c, err := authConfig(context.Background(), quiet, adapters{})
	if err != nil || c.Issuer != "https://idp.example" || c.Audience != "api" || c.GroupsClaim != "cognito:groups" ||
		c.PlatformAdminKey != platformKeyValue || c.KeyCacheTTL != auth.DefaultKeyCacheTTL || c.TenantHTTPClient == nil || c.TenantHTTPClient.Timeout != tenantJWKSTimeout {
		t.Fatalf("%+v %v", c, err)
	}
	for v, want := range map[string]time.Duration{"0": 0, "45": 45 * time.Second, "2m": 2 * time.Minute} {
		t.Setenv("API_KEY_CACHE_TTL", v)
		if c, err := authConfig(context.Background(), quiet, adapters{}); err != nil || c.KeyCacheTTL != want {
			t.Errorf("%s → %v %v, want %v", v, c.KeyCacheTTL, err, want)
		}
	}
	t.Setenv("API_KEY_CACHE_TTL", "soon")
	if _, err := Authorizer(context.Background(), quiet); err == nil || !strings.Contains(err.Error(), "API_KEY_CACHE_TTL") {
		t.Fatalf("malformed TTL accepted: %v", err)
	}
	t.Setenv("API_KEY_CACHE_TTL", "")
	if _, err := Authorizer(context.Background(), quiet); err != nil {
		t.Fatal(err)
	}
}

// TestDeps: the API functions' configuration, and what each option adds.
func TestDeps(t *testing.T) {
	ctx := context.Background()
	localStack(t)
	t.Setenv("TENANT_ROLE_NAME", "JitsudoAccess")
	t.Setenv("OIDC_ISSUER", "https://idp.example")
	t.Setenv("UI_CLIENT_ID", "page")
	t.Setenv("UI_CONNECT_SRC", "https://idp.example https://other.example")
	t.Setenv("PROVIDER_MODE", "identitycenter")
	t.Setenv("NOTIFY_MODE", "local")
	d, err := Deps(ctx, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if d.TenantRoleName != "JitsudoAccess" || d.DefaultIssuer != "https://idp.example" || d.UIClientID != "page" || len(d.Web.ConnectSrc) != 2 ||
		d.Access.Targets != (access.AccountAssignmentTargets{}) || d.Notify.Guard.Mode != notify.ModeLocal || d.Notify.Tester == nil {
		t.Fatalf("%+v", d)
	}
	if d.Notify.Subscriptions != nil || d.Access.AuditVerifier != nil || d.Access.Provider != (workflow.NoProvider{}) {
		t.Fatalf("a plain API function has an adapter: %+v", d)
	}

	subs := WithEmailSubscriptions(snspub.OpenSubscriptions)
	t.Setenv("SNS_TOPIC_ARN", "")
	if _, err := Deps(ctx, quiet, subs); err == nil || !strings.Contains(err.Error(), "SNS_TOPIC_ARN") {
		t.Fatalf("subscriptions without a topic: %v", err)
	}
	t.Setenv("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:events")
	if d, err := Deps(ctx, quiet, subs); err != nil || d.Notify.TopicARN != "arn:aws:sns:us-east-1:000000000000:events" || d.Notify.Subscriptions == nil {
		t.Fatalf("subscriptions: %+v %v", d.Notify, err)
	}

	t.Setenv("AUDIT_MAC_KEY", strings.Repeat("ab", 32))
	t.Setenv("AUDIT_ANCHOR_DIR", t.TempDir())
	if d, err := Deps(ctx, quiet, WithAuditKeys(awsaudit.NewKMSSigner, awsaudit.NewS3Anchors)); err != nil || d.Access.AuditVerifier == nil {
		t.Fatalf("verifier: %v", err)
	}

	t.Setenv("RATE_LIMIT_MESSAGES_PER_MINUTE", "lots")
	if _, err := Deps(ctx, quiet); err == nil {
		t.Fatal("a malformed limit is accepted")
	}
}

func TestWorkersAndSweeper(t *testing.T) {
	ctx := context.Background()
	localStack(t)
	t.Setenv("NOTICE_LEAD", "5m")
	w, err := Workers(ctx, quiet)
	if err != nil || w.NoticeLead != 5*time.Minute || w.Events != nil || w.Links == nil {
		t.Fatalf("%+v %v", w, err)
	}
	t.Setenv("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:events")
	t.Setenv("SNS_ENDPOINT", "http://127.0.0.1:4100")
	w, err = Workers(ctx, quiet, WithPublisher(snspub.Open))
	if p, ok := w.Events.(*snspub.Publisher); err != nil || !ok || p.TopicARN != "arn:aws:sns:us-east-1:000000000000:events" ||
		aws.ToString(p.Client.Options().BaseEndpoint) != "http://127.0.0.1:4100" {
		t.Fatalf("publisher: %+v %v", w.Events, err)
	}
	t.Setenv("NOTICE_LEAD", "0s")
	if _, err := Workers(ctx, quiet); err == nil {
		t.Fatal("a zero lead is accepted")
	}

	t.Setenv("SWEEP_GRACE", "2m")
	t.Setenv("PROVISIONING_BUDGET", "20m")
	s, err := Sweeper(ctx, quiet)
	if err != nil || s.Grace != 2*time.Minute || s.ProvisioningBudget != 20*time.Minute {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := Relay(ctx, quiet); err == nil {
		t.Fatal("a relay without a publisher")
	}
	if _, err := Relay(ctx, quiet, WithPublisher(snspub.Open)); err != nil {
		t.Fatal(err)
	}
	if d, err := Dispatcher(ctx, quiet); err != nil || d.Guard.Mode != notify.ModeAWS {
		t.Fatalf("%+v %v", d, err)
	}
}
