package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/devidp"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// Demo tenants, people and accounts seeded by Seed.
const (
	DemoTenant      = "acme"
	OtherTenant     = "globex"
	DevAccount      = "111111111111"
	ProdAccount     = "222222222222"
	SandboxAccount  = "444444444444"
	TokenTTL        = 24 * time.Hour
	demoTenantName  = "Acme Corp (demo)"
	otherTenantName = "Globex (second demo tenant)"
)

// UIClientID is the Approvals page's public client id at the dev issuers.
const UIClientID = "jitsudo-approvals"

// DemoUsers are the people of each demo tenant's own dev identity
// provider (infra/devidp), as its "sign in as" page lists them.
var DemoUsers = map[string][]devidp.User{
	DemoTenant: {
		{ID: "alice", Name: "Alice", Email: "alice@acme.example", Groups: []string{"engineering", "oncall"}},
		{ID: "bob", Name: "Bob", Email: "bob@acme.example", Groups: []string{"sre-leads", "engineering"}},
		{ID: "carol", Name: "Carol", Email: "carol@acme.example", Groups: []string{"sre-leads"}},
	},
	OtherTenant: {
		{ID: "mallory", Name: "Mallory", Email: "mallory@globex.example", Groups: []string{"engineering"}},
	},
}

// Person is a demo user with a dev JWT.
type Person struct {
	ID     string
	Groups []string
	Token  string
}

// Demo is what Seed created: credentials scripts can use.
type Demo struct {
	URL, TenantID, AdminKey        string
	Requester, Reviewer, Reviewer2 Person
	OtherTenantID, OtherAdminKey   string
	OtherRequester                 Person
	PlatformKey                    string
	// Issuers are the demo tenants' own dev identity providers (tenant →
	// issuer URL); UIClientID is the Approvals page's client there.
	Issuers    map[string]string
	UIClientID string
}

// DemoRules are the seed document's kinds of rules, as the API takes them.
var DemoRules = []map[string]any{
	{
		"id": "dev-auto", "name": "Dev account: auto-approve engineers up to 4h", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": DevAccount,
		"conditions": "when { context.duration_seconds <= 14400 }", "approval_mode": "auto",
		"notice": "Dev access is approved automatically for up to 4 hours.",
	},
	{
		"id": "prod-require", "name": "Production: engineers need a reviewer", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": ProdAccount,
		"approval_mode": "require", "approval_timeout": "1h", "approvals_required": 1,
		"notice": "Production access needs one approval from sre-leads within an hour.",
	},
	{
		"id": "sandbox-quick-review", "name": "Sandbox: a reviewer within one minute", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": SandboxAccount,
		"approval_mode": "require", "approval_timeout": "1m",
		"notice": "Sandbox requests expire if nobody reviews them within a minute (demo of the ApprovalTimeoutWorker).",
	},
	{
		"id": "prod-max-8h", "name": "Production: never longer than 8h", "priority": 200,
		"effect": "forbid", "principal_scope_type": "any",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": ProdAccount,
		"conditions": "when { context.duration_seconds > 28800 }",
		"notice":     "Production access is limited to 8 hours.",
	},
	{
		// Above the ordinary tier (100): within one tier require beats
		// break_glass, so on-call engineers who are also engineers would get
		// prod-require. Below the 200 forbids, which still cap break-glass.
		"id": "oncall-break-glass", "name": "On-call: break-glass anywhere", "priority": 150,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "oncall",
		"action_scope_type": "eq", "action_ids": []string{"request_access"},
		"resource_scope_type": "any", "approval_mode": "break_glass",
		"notice": "Break-glass access is audited and announced to the security channel.",
	},
	{
		"id": "dev-extend-auto", "name": "Dev account: engineers extend their grants by up to 1h at once", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"extend_grant"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": DevAccount,
		"conditions": "when { context.duration_seconds <= 3600 }", "approval_mode": "auto",
	},
	{
		"id": "prod-extend-review", "name": "Production: extensions need a reviewer", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
		"action_scope_type": "eq", "action_ids": []string{"extend_grant"},
		"resource_scope_type": "in", "resource_entity_type": "AwsAccount", "resource_entity_id": ProdAccount,
		"conditions": "when { context.duration_seconds <= 14400 }", "approval_mode": "require", "approval_timeout": "30m",
	},
	{
		"id": "sre-leads-review", "name": "sre-leads review requests", "priority": 100,
		"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "sre-leads",
		"action_scope_type": "eq", "action_ids": []string{"approve_request"},
		"resource_scope_type": "any",
	},
}

// Seed creates the demo tenants through the API (platform key → tenant and
// admin key → rules) and mints dev JWTs for the demo people.
func Seed(ctx context.Context, st *Stack) (Demo, error) {
	d := Demo{URL: st.URL, TenantID: DemoTenant, OtherTenantID: OtherTenant, PlatformKey: st.PlatformAdminKey,
		Issuers: map[string]string{}, UIClientID: st.UIClientID}
	for tenant, p := range st.TenantIdPs {
		d.Issuers[tenant] = p.Issuer()
	}
	var err error
	if d.AdminKey, err = createTenant(ctx, st, DemoTenant, demoTenantName); err != nil {
		return d, err
	}
	if d.OtherAdminKey, err = createTenant(ctx, st, OtherTenant, otherTenantName); err != nil {
		return d, err
	}
	// Each demo tenant signs in with its own dev identity provider; it
	// also still accepts the default issuer (a tenant mid-migration), so
	// the curl walkthrough's tokens below and the default-issuer tests
	// keep their bare principal ids.
	for tenant, key := range map[string]string{DemoTenant: d.AdminKey, OtherTenant: d.OtherAdminKey} {
		p := st.TenantIdPs[tenant]
		status, body, err := Call(ctx, st.URL, http.MethodPut, "/v1/settings/identity", AdminHeaders(tenant, key), map[string]any{
			"issuer_url": p.Issuer(), "audience": st.Audience, "client_id": p.ClientID(), "scopes": []string{"openid", "email", "profile", "groups"},
			"groups_claim": "groups", "admin_group": "jitsudo-admins", "email_claim": "email", "accept_default_issuer": true,
		})
		if err != nil || status != http.StatusOK {
			return d, fmt.Errorf("devstack: identity settings of %s: status %d: %s %v", tenant, status, body, err)
		}
	}
	for _, rule := range DemoRules {
		status, body, err := Call(ctx, st.URL, http.MethodPost, "/v1/policy-rules", AdminHeaders(DemoTenant, d.AdminKey), rule)
		if err != nil || status != http.StatusCreated {
			return d, fmt.Errorf("devstack: seed rule %v: status %d: %s %v", rule["id"], status, body, err)
		}
	}
	people := []struct {
		p      *Person
		tenant string
		id     string
		groups []string
	}{
		{&d.Requester, DemoTenant, "alice", []string{"engineering", "oncall"}},
		{&d.Reviewer, DemoTenant, "bob", []string{"sre-leads", "engineering"}},
		{&d.Reviewer2, DemoTenant, "carol", []string{"sre-leads"}},
		{&d.OtherRequester, OtherTenant, "mallory", []string{"engineering"}},
	}
	for _, x := range people {
		tok, err := st.Issuer.Mint(map[string]any{
			"sub": x.id, "aud": st.Audience, "tenant_id": x.tenant, "groups": x.groups,
			"email": x.id + "@" + x.tenant + ".example", "email_verified": true, "name": strings.ToUpper(x.id[:1]) + x.id[1:],
		}, TokenTTL)
		if err != nil {
			return d, err
		}
		*x.p = Person{ID: x.id, Groups: x.groups, Token: tok}
	}
	return d, nil
}

func createTenant(ctx context.Context, st *Stack, id, name string) (string, error) {
	status, body, err := Call(ctx, st.URL, http.MethodPost, "/v1/tenants",
		map[string]string{"X-API-Key": st.PlatformAdminKey}, map[string]string{"id": id, "name": name})
	if err != nil || status != http.StatusCreated {
		return "", fmt.Errorf("devstack: create tenant %s: status %d: %s %v", id, status, body, err)
	}
	var out struct {
		APIKey struct {
			Key string `json:"key"`
		} `json:"api_key"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.APIKey.Key == "" {
		return "", fmt.Errorf("devstack: create tenant %s: no key in %s", id, body)
	}
	return out.APIKey.Key, nil
}

// AdminHeaders are the headers of an API-key call.
func AdminHeaders(tenant, key string) map[string]string {
	return map[string]string{"X-Tenant-ID": tenant, "X-API-Key": key}
}

// BearerHeaders are the headers of a person's call.
func BearerHeaders(tenant, token string) map[string]string {
	return map[string]string{"X-Tenant-ID": tenant, "Authorization": "Bearer " + token}
}

// Call makes one JSON API call (body marshalled unless it is a string) and
// returns the status and raw response body.
func Call(ctx context.Context, baseURL, method, path string, headers map[string]string, body any) (int, []byte, error) {
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, contentType = strings.NewReader(b), "text/plain"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// Env is the demo's credentials as shell variables.
func (d Demo) Env() map[string]string {
	return map[string]string{
		"JITSUDO_URL":                   d.URL,
		"JITSUDO_TENANT_ID":             d.TenantID,
		"JITSUDO_ADMIN_KEY":             d.AdminKey,
		"JITSUDO_REQUESTER_TOKEN":       d.Requester.Token,
		"JITSUDO_REVIEWER_TOKEN":        d.Reviewer.Token,
		"JITSUDO_REVIEWER2_TOKEN":       d.Reviewer2.Token,
		"JITSUDO_OTHER_TENANT_ID":       d.OtherTenantID,
		"JITSUDO_OTHER_ADMIN_KEY":       d.OtherAdminKey,
		"JITSUDO_OTHER_REQUESTER_TOKEN": d.OtherRequester.Token,
		"JITSUDO_PLATFORM_KEY":          d.PlatformKey,
		"JITSUDO_ISSUER":                d.Issuers[d.TenantID],
		"JITSUDO_OTHER_ISSUER":          d.Issuers[d.OtherTenantID],
		"JITSUDO_UI_CLIENT_ID":          d.UIClientID,
	}
}

// WriteEnvFile writes Env as `export NAME='value'` lines (mode 0600).
func (d Demo) WriteEnvFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	content := "# jitsudo dev stack credentials; valid while `make dev` runs (tokens for 24h).\n" + d.exports()
	return os.WriteFile(path, []byte(content), 0o600)
}

// exports renders Env as shell export lines, sorted by name.
func (d Demo) exports() string {
	env := d.Env()
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		fmt.Fprintf(&b, "export %s='%s'\n", k, env[k])
	}
	return b.String()
}

// Walkthrough is the ready-to-paste curl session printed by `make dev`:
// the credentials as export lines (also in envFile), then the calls.
func (d Demo) Walkthrough(envFile string) string {
	return "# Paste these, or: source " + envFile + "\n" + d.exports() + "\n" + fmt.Sprintf(`jitsudo dev stack is up at %[1]s  (Ctrl-C stops everything)

The Approvals page: %[1]s/ui/t/%[8]s/inbox   (sign in as alice, bob or carol; %[10]s: %[1]s/ui/t/%[10]s/inbox as mallory)

Credentials are in %[2]s:   source %[2]s

Sign-in (docs/identity.md): each demo tenant has its own dev identity provider, UI client id %[7]s
  %[8]s: %[6]s    (GET %[1]s/v1/tenants/%[8]s/sign-in)
  %[10]s: %[9]s

# 1. As the tenant admin (API key): list the seeded rules, add one
curl -s "$JITSUDO_URL/v1/policy-rules" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "X-API-Key: $JITSUDO_ADMIN_KEY"
curl -s -X POST "$JITSUDO_URL/v1/policy-rules" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "X-API-Key: $JITSUDO_ADMIN_KEY" \
  -H "Content-Type: application/json" \
  -d '{"id":"staging-auto","name":"Staging: auto for engineers","priority":100,"effect":"permit","principal_scope_type":"in","principal_entity_type":"Group","principal_entity_id":"engineering","action_scope_type":"eq","action_ids":["request_access"],"resource_scope_type":"in","resource_entity_type":"AwsAccount","resource_entity_id":"333333333333","conditions":"when { context.duration_seconds <= 7200 }","approval_mode":"auto"}'

# 2. As the requester (alice, JWT): dry-run requests
#    auto: dev account, 1h
curl -s -X POST "$JITSUDO_URL/v1/policies/evaluate" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" \
  -H "Content-Type: application/json" -d '{"resource":{"type":"aws_account","id":"%[3]s"},"duration_seconds":3600,"justification":"debug a failing deploy"}'
#    require: production, 1h
curl -s -X POST "$JITSUDO_URL/v1/policies/evaluate" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" \
  -H "Content-Type: application/json" -d '{"resource":{"type":"aws_account","id":"%[4]s"},"duration_seconds":3600,"justification":"rotate a prod secret"}'
#    deny: dev account for 8h (over the auto rule's 4h cap, no other rule applies)
curl -s -X POST "$JITSUDO_URL/v1/policies/evaluate" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" \
  -H "Content-Type: application/json" -d '{"resource":{"type":"aws_account","id":"%[3]s"},"duration_seconds":28800,"justification":"long task"}'
#    break_glass: production, as on-call
curl -s -X POST "$JITSUDO_URL/v1/policies/evaluate" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" \
  -H "Content-Type: application/json" -d '{"resource":{"type":"aws_account","id":"%[4]s"},"duration_seconds":3600,"break_glass":true,"justification":"INC-1234: prod is down, database failover"}'

# 3. Export the rule set as Cedar
curl -s "$JITSUDO_URL/v1/policy-rules/export" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "X-API-Key: $JITSUDO_ADMIN_KEY"

# 4. Tenants never see each other: globex's requester on acme's tenant is refused
curl -s "$JITSUDO_URL/v1/policy-rules" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_OTHER_REQUESTER_TOKEN"

# 5. A real request for production (pending), a reviewer's question, the approval, the grant
REQ=$(curl -s -X POST "$JITSUDO_URL/v1/requests" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" \
  -H "Content-Type: application/json" -d '{"resource_type":"aws_account","resource_id":"%[4]s","duration_seconds":3600,"justification":"rotate a prod secret"}' \
  | sed -E 's/^\{"id":"([^"]+)".*/\1/'); echo "$REQ"
curl -X POST "$JITSUDO_URL/v1/requests/$REQ/messages" -H "Authorization: Bearer $JITSUDO_REVIEWER_TOKEN" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" \
  -H "Content-Type: application/json" -d '{"body": "Can you provide more context on the incident?"}'
curl -X POST "$JITSUDO_URL/v1/requests/$REQ/approve" -H "Authorization: Bearer $JITSUDO_REVIEWER_TOKEN" -H "X-Tenant-ID: $JITSUDO_TENANT_ID"
curl -s "$JITSUDO_URL/v1/grants?status=active" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" -H "X-Tenant-ID: $JITSUDO_TENANT_ID"

# 6. Nobody reviews the sandbox (account %[5]s) within a minute: the ApprovalTimeoutWorker expires it
curl -s -X POST "$JITSUDO_URL/v1/requests" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" \
  -H "Content-Type: application/json" -d '{"resource":{"type":"aws_account","id":"%[5]s"},"reason":"try a sandbox change","duration_seconds":600}'
#    ...then a minute later: curl -s "$JITSUDO_URL/v1/requests?status=expired" -H "Authorization: Bearer $JITSUDO_REQUESTER_TOKEN" -H "X-Tenant-ID: $JITSUDO_TENANT_ID"

# 7. Notifications: every event above was printed to this console ([event] lines). Send them to a
#    webhook that checks the signature: create the channel, then run the example receiver with its secret
curl -s -X POST "$JITSUDO_URL/v1/notification-channels" -H "X-Tenant-ID: $JITSUDO_TENANT_ID" -H "X-API-Key: $JITSUDO_ADMIN_KEY" \
  -H "Content-Type: application/json" -d '{"name":"local receiver","type":"generic_webhook","config":{"url":"http://127.0.0.1:9099/hook"}}'
#    go run ./infra/webhook-receiver -addr 127.0.0.1:9099 -secret <signing_secret from the answer>
#    Slack: restart with JITSUDO_DEV_SLACK_WEBHOOK_URL=https://hooks.slack.com/services/... make dev

# More (grant expiry, extension, early revoke, the audit log and its verification): docs/walkthrough.md
`, d.URL, envFile, DevAccount, ProdAccount, SandboxAccount, d.Issuers[d.TenantID], d.UIClientID, d.TenantID, d.Issuers[d.OtherTenantID], d.OtherTenantID)
}

// SeedSlackChannel adds a Slack channel for the demo tenant's events to
// url (`make dev` with JITSUDO_DEV_SLACK_WEBHOOK_URL set: a real Slack
// incoming-webhook URL works).
func SeedSlackChannel(ctx context.Context, st *Stack, d Demo, url string) (notify.Channel, error) {
	now := time.Now()
	ch, err := notify.NewChannel(notify.ModeLocal, d.TenantID, notify.NewChannelID(now),
		notify.ChannelInput{Name: "demo slack", Type: notify.TypeSlackWebhook, Config: notify.ChannelConfig{URL: url}}, now)
	if err != nil {
		return notify.Channel{}, fmt.Errorf("devstack: slack channel: %w", err)
	}
	if err := st.Store.PutChannel(ctx, ch, true, 0); err != nil {
		return notify.Channel{}, fmt.Errorf("devstack: slack channel: %w", err)
	}
	return ch, nil
}
