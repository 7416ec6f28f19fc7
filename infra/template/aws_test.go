package template

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// What template.yaml gives the functions that reach outside the table:
// the access providers (Identity Center, through each tenant's role), the
// notification events topic, the background functions' triggers, and the
// absence of dependency cycles among all of it.

const (
	modulePath       = "github.com/jitsudo/jitsudo-serverless"
	providersPackage = modulePath + "/shared/provider/providers"
	snspubPackage    = modulePath + "/shared/events/snspub"

	eventsTopicID      = "EventsTopic"
	eventsTopicKey     = "alias/aws/sns" // the AWS managed key of SNS
	providerModeParam  = "ProviderMode"
	tenantRoleParam    = "TenantRoleName"
	tenantRoleDefault  = "jitsudo-provisioner"
	noticeLeadParam    = "NoticeLead"
	reconcileParam     = "ReconcileSchedule"
	reconcileDefault   = "rate(5 minutes)"
	apiGatewayTimeout  = 30 // seconds: an HTTP API integration gives up after this
	providerCallMargin = 5 * time.Second
)

// providerSpec is what a function built with an access provider
// (wiring.WithProvider, wiring.Reconciler) runs with.
type providerSpec struct {
	provider string // PROVIDER: "Ref:ProviderMode" or a fixed provider name
	budget   string // PROVIDER_POLL_BUDGET ("" = unset: wiring.DefaultPollBudget)
	timeout  int    // the function's Timeout, seconds
}

// providerFunctions are exactly the functions whose main.go imports the
// providers package; only they get PROVIDER and sts:AssumeRole on the
// tenants' roles. A poll budget plus providerCallMargin (retries, the
// AssumeRole and the table calls) must fit in the function's timeout.
var providerFunctions = map[string]providerSpec{
	workflow.FnProvisionGrant: {provider: "Ref:" + providerModeParam, budget: "60s", timeout: 120},
	workflow.FnFailGrant:      {provider: "Ref:" + providerModeParam, budget: "60s", timeout: 120},
	workflow.FnExpireGrant:    {provider: "Ref:" + providerModeParam, budget: "60s", timeout: 120},
	"revoke-grant":            {provider: "Ref:" + providerModeParam, budget: "20s", timeout: apiGatewayTimeout - 1},
	// The reconciler refuses the recording provider: fixed.
	"reconcile-assignments": {provider: "identitycenter", timeout: 300},
	// The sweeper revokes grants past their end and fails stalled ones.
	"sweep-overdue": {provider: "Ref:" + providerModeParam, budget: "60s", timeout: 300},
}

// publishingFunctions publish to the events topic: SNS_TOPIC_ARN and
// SNSPublishMessagePolicy on it, nobody else. They are exactly the
// functions whose main.go passes snspub.Open to wiring
// (publishingConstructors).
var publishingFunctions = []string{workflow.FnNotifyExpiring, "relay-outbox"}

// subscribingFunctions manage the events topic's email subscriptions (the
// email notification channels): SNS_TOPIC_ARN and the inline statement of
// policyEmailSubscriptions, nobody else. They are exactly the functions
// whose main.go passes snspub.OpenSubscriptions to wiring.
var subscribingFunctions = []string{"create-notification-channel", "update-notification-channel", "delete-notification-channel"}

// The snspub constructors that make a function a publisher or a
// subscription manager.
var (
	publishingConstructors  = []string{"Open"}
	subscribingConstructors = []string{"OpenSubscriptions"}
)

// linkingFunctions build API links into the events they publish: they
// get API_BASE_URL (the ApiUrl output's value), nobody else.
var linkingFunctions = []string{workflow.FnNotifyExpiring, "relay-outbox"}

// deadLetterQueues maps each function with a dead-letter queue to it (an
// AWS::SQS::Queue of the template); the function may send to its own
// queue only (SQSSendMessagePolicy), and no other queue may exist.
var deadLetterQueues = map[string]string{
	"relay-outbox":          "RelayOutboxDLQ", // the stream mapping's on-failure destination
	"extend-audit-chain":    "ExtendAuditChainDLQ",
	"deliver-notifications": "NotificationsDLQ", // the function's DeadLetterQueue
}

// backgroundSpec says how a routes.Background function is triggered.
type backgroundSpec struct {
	// also: a second SAM event some have (the extender's schedule)
	also      *backgroundSpec
	eventType string                                                                 // its one SAM event's Type
	check     func(tp *tmpl, id string, ev serverless.Function_EventSource) []string // the event's properties
	sample    func(data []byte) []string                                             // its events/ files
}

// backgroundFunctions has an entry per routes.Background function.
var backgroundFunctions = map[string]backgroundSpec{
	"reconcile-assignments": {eventType: "Schedule", check: checkReconcileSchedule, sample: checkScheduledEvent},
	"sweep-overdue":         {eventType: "Schedule", check: checkSweepSchedule, sample: checkScheduledEvent},
	"relay-outbox":          {eventType: "DynamoDB", check: checkStream(outboxStream), sample: checkOutboxEvent},
	"extend-audit-chain": {eventType: "DynamoDB", check: checkStream(chainStream), sample: checkStreamOrScheduledEvent,
		also: &backgroundSpec{eventType: "Schedule", check: checkAnchorSchedule}},
	"deliver-notifications": {eventType: "SNS", check: checkDeliverySubscription, sample: checkSNSEvent},
}

// ---------------------------------------------------------------- helpers

// envOf is the function's environment: Globals, then its own variables.
func envOf(tp *tmpl, f *serverless.Function) map[string]string {
	env := map[string]string{}
	if g, err := tp.cfn.GetServerlessGlobalFunction(); err == nil && g.Environment != nil {
		maps.Copy(env, g.Environment.Variables)
	}
	if f.Environment != nil {
		maps.Copy(env, f.Environment.Variables)
	}
	return env
}

// timeoutOf is the function's Timeout (its own, else Globals'; 3, SAM's
// default, if neither).
func timeoutOf(tp *tmpl, f *serverless.Function) int {
	if f.Timeout != nil {
		return *f.Timeout
	}
	if g, err := tp.cfn.GetServerlessGlobalFunction(); err == nil && g.Timeout != nil {
		return *g.Timeout
	}
	return 3
}

func paramDefault(tp *tmpl, name string) (string, bool) {
	p, ok := tp.cfn.Parameters[name]
	if !ok || p.Default == nil {
		return "", false
	}
	return fmt.Sprint(p.Default), true
}

// functionsUsing lists the function directories under dir whose main.go
// imports pkg and, if sel is not empty, refers to pkg's sel.
func functionsUsing(dir, pkg, sel string) ([]string, error) {
	mains, err := filepath.Glob(filepath.Join(dir, "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range mains {
		f, err := parser.ParseFile(token.NewFileSet(), m, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		name := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == pkg {
				name = pkg[strings.LastIndex(pkg, "/")+1:]
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			continue
		}
		used := sel == ""
		ast.Inspect(f, func(n ast.Node) bool {
			if s, ok := n.(*ast.SelectorExpr); ok && s.Sel.Name == sel {
				if x, ok := s.X.(*ast.Ident); ok && x.Name == name {
					used = true
				}
			}
			return !used
		})
		if used {
			out = append(out, filepath.Base(filepath.Dir(m)))
		}
	}
	slices.Sort(out)
	return out, nil
}

// resourcesMentioning maps each resource whose raw YAML has a key or
// scalar matching re to the first match.
func resourcesMentioning(tp *tmpl, re *regexp.Regexp) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(tp.doc.Content); i += 2 {
		if tp.doc.Content[i].Value != "Resources" {
			continue
		}
		res := tp.doc.Content[i+1]
		for j := 0; j+1 < len(res.Content); j += 2 {
			id := res.Content[j].Value
			var walk func(n *yaml.Node)
			walk = func(n *yaml.Node) {
				if _, done := out[id]; done {
					return
				}
				if n.Kind == yaml.ScalarNode && re.MatchString(n.Value) {
					out[id] = n.Value
					return
				}
				for _, c := range n.Content {
					walk(c)
				}
			}
			walk(res.Content[j+1])
		}
	}
	return out
}

func logicalIDs(fns []string) []string {
	var out []string
	for _, fn := range fns {
		out = append(out, routes.LogicalID(fn))
	}
	return out
}

// ---------------------------------------------------------------- providers

// stsRe matches STS actions (sts:AssumeRole, sts:*), not ARNs.
var stsRe = regexp.MustCompile(`(?i)(^|[^a-z0-9:/])sts:[a-z*]`)

// checkProviders: PROVIDER, PROVIDER_POLL_BUDGET and Timeout of exactly
// the provider functions (those importing the providers package); the
// ProviderMode and TenantRoleName parameters; nothing but the provider
// functions mentions STS (their one AssumeRole statement is checked by
// checkSettings).
func checkProviders(tp *tmpl, functionsDir string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }

	using, err := functionsUsing(functionsDir, providersPackage, "")
	if err != nil {
		return []string{err.Error()}
	}
	if want := slices.Sorted(maps.Keys(providerFunctions)); !slices.Equal(using, want) {
		fail("functions importing %s are %v; providerFunctions lists %v", providersPackage, using, want)
	}

	if g, err := tp.cfn.GetServerlessGlobalFunction(); err == nil && g.Environment != nil {
		for _, k := range []string{"PROVIDER", "PROVIDER_POLL_BUDGET", "PROVIDER_ENDPOINT"} {
			if _, set := g.Environment.Variables[k]; set {
				fail("Globals.Function.Environment sets %s: it belongs to the provider functions only", k)
			}
		}
	}
	byFn := routeByFunction()
	for id, f := range tp.functions() {
		fn := fnByLogicalID()[id]
		env := envOf(tp, f)
		if v, set := env["PROVIDER_ENDPOINT"]; set {
			fail("%s: %s=%q: a local stand-in's endpoint has no place on AWS", id, "PROVIDER_ENDPOINT", v)
		}
		spec, isProvider := providerFunctions[fn]
		if !isProvider {
			for _, k := range []string{"PROVIDER", "PROVIDER_POLL_BUDGET"} {
				if v, set := env[k]; set {
					fail("%s: %s=%q, but %s is not built with a provider", id, k, v, fn)
				}
			}
			continue
		}
		if got := env["PROVIDER"]; got != spec.provider {
			fail("%s: %s is %q, want %q", id, "PROVIDER", got, spec.provider)
		}
		budget := wiring.DefaultPollBudget
		if got := env["PROVIDER_POLL_BUDGET"]; got != "" {
			if d, err := time.ParseDuration(got); err != nil || d <= 0 {
				fail("%s: %s=%q is not a positive duration", id, "PROVIDER_POLL_BUDGET", got)
			} else {
				budget = d
			}
		}
		if got := env["PROVIDER_POLL_BUDGET"]; got != spec.budget {
			fail("%s: %s is %q, want %q", id, "PROVIDER_POLL_BUDGET", got, spec.budget)
		}
		timeout := timeoutOf(tp, f)
		if timeout != spec.timeout {
			fail("%s: Timeout %d, want %d", id, timeout, spec.timeout)
		}
		if limit := time.Duration(timeout) * time.Second; budget+providerCallMargin > limit {
			fail("%s: poll budget %v + %v for retries does not fit in its Timeout %ds", id, budget, providerCallMargin, timeout)
		}
		if _, isRoute := byFn[fn]; isRoute && timeout >= apiGatewayTimeout {
			fail("%s: Timeout %ds: the HTTP API gives up after %ds, so a route's timeout must be below it", id, timeout, apiGatewayTimeout)
		}
	}

	// ProviderMode: the providers the code knows, Identity Center by default.
	if p, ok := tp.cfn.Parameters[providerModeParam]; !ok {
		fail("parameter %s is missing", providerModeParam)
	} else {
		var allowed []string
		for _, v := range p.AllowedValues {
			allowed = append(allowed, fmt.Sprint(v))
		}
		slices.Sort(allowed)
		// The recording stand-in is not in the binaries built for AWS.
		if want := []string{"identitycenter"}; !slices.Equal(allowed, want) {
			fail("parameter %s: AllowedValues %v, want %v", providerModeParam, allowed, want)
		}
		if d, _ := paramDefault(tp, providerModeParam); d != "identitycenter" {
			fail("parameter %s: Default %q, want %s", providerModeParam, d, "identitycenter")
		}
	}

	// TenantRoleName: a plain IAM role name. A wildcard or a path would let
	// the provider functions assume any role in any account.
	if p, ok := tp.cfn.Parameters[tenantRoleParam]; !ok {
		fail("parameter %s is missing", tenantRoleParam)
	} else if p.AllowedPattern == nil {
		fail("parameter %s needs an AllowedPattern (an IAM role name)", tenantRoleParam)
	} else if re, err := regexp.Compile(*p.AllowedPattern); err != nil {
		fail("parameter %s: AllowedPattern: %v", tenantRoleParam, err)
	} else {
		if d, _ := paramDefault(tp, tenantRoleParam); d != tenantRoleDefault || !re.MatchString(d) {
			fail("parameter %s: Default %q, want %q (allowed by its pattern)", tenantRoleParam, d, tenantRoleDefault)
		}
		for _, bad := range []string{"", "*", "jitsudo-*", "a?", "path/role", "role name", strings.Repeat("r", 65)} {
			if re.MatchString(bad) {
				fail("parameter %s: AllowedPattern %q accepts %q", tenantRoleParam, *p.AllowedPattern, bad)
			}
		}
	}

	providerIDs := logicalIDs(slices.Collect(maps.Keys(providerFunctions)))
	for id, what := range resourcesMentioning(tp, stsRe) {
		if !slices.Contains(providerIDs, id) {
			fail("%s mentions STS (%q): only the provider functions may assume roles", id, what)
		}
	}
	return probs
}

// ---------------------------------------------------------------- events topic

// snsPublishRe matches SNS actions and SAM's SNS policy templates (not
// ARNs, nor the topic's key alias, nor an event's Type SNS).
var snsPublishRe = regexp.MustCompile(`(?i)(^|[^a-z:/])sns:[a-z*]|^SNS[A-Za-z]*Policy$`)

// checkEventsTopic: the one KMS-encrypted events topic and its output;
// only publishingFunctions and subscribingFunctions (exactly the functions
// calling the snspub constructors) get its ARN and mention SNS at all;
// NOTICE_LEAD is the same for every worker; linkingFunctions, and only
// they, get the API's URL for their links.
func checkEventsTopic(tp *tmpl, functionsDir string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }

	topics := tp.cfn.GetAllSNSTopicResources()
	delete(topics, opsTopicID) // the alarms' topic (alarms_test.go): no function uses it
	if t, ok := topics[eventsTopicID]; !ok || len(topics) != 1 {
		fail("want exactly one AWS::SNS::Topic, %s; have %v", eventsTopicID, slices.Sorted(maps.Keys(topics)))
	} else {
		if got := str(t.KmsMasterKeyId); got != eventsTopicKey {
			fail("%s: KmsMasterKeyId %q, want %s (encrypted at rest)", eventsTopicID, got, eventsTopicKey)
		}
		if t.TopicName != nil {
			fail("%s: do not set TopicName (a fixed name blocks replacement and second stacks)", eventsTopicID)
		}
	}
	if o, ok := tp.cfn.Outputs["EventsTopicArn"]; !ok || o.Value != "Ref:"+eventsTopicID {
		fail("output EventsTopicArn must be !Ref %s", eventsTopicID)
	}

	// Who talks to SNS is read from the code, both ways: a function that
	// calls a constructor is listed, a listed function calls one.
	for _, group := range []struct {
		name         string
		listed       []string
		constructors []string
	}{
		{"publishingFunctions", publishingFunctions, publishingConstructors},
		{"subscribingFunctions", subscribingFunctions, subscribingConstructors},
	} {
		var calling []string
		for _, sel := range group.constructors {
			fns, err := functionsUsing(functionsDir, snspubPackage, sel)
			if err != nil {
				return append(probs, err.Error())
			}
			for _, fn := range fns {
				if !slices.Contains(group.listed, fn) {
					fail("functions/%s calls snspub.%s but is not in %s", fn, sel, group.name)
				}
			}
			calling = append(calling, fns...)
		}
		for _, fn := range group.listed {
			if !slices.Contains(calling, fn) {
				fail("%s lists %s, whose main.go calls none of snspub.%v: it needs no SNS permission", group.name, fn, group.constructors)
			}
		}
	}

	topicUsers := slices.Concat(publishingFunctions, subscribingFunctions)
	apiURL := tp.cfn.Outputs["ApiUrl"].Value
	for id, f := range tp.functions() {
		fn := fnByLogicalID()[id]
		env := envOf(tp, f)
		usesTopic := slices.Contains(topicUsers, fn)
		if got, set := env["SNS_TOPIC_ARN"]; set != usesTopic || (usesTopic && got != "Ref:"+eventsTopicID) {
			fail("%s: %s is %q (set %v); only %v get it, as !Ref %s", id, "SNS_TOPIC_ARN", got, set, topicUsers, eventsTopicID)
		}
		if v, set := env["SNS_ENDPOINT"]; set {
			fail("%s: %s=%q: a local stand-in's endpoint has no place on AWS", id, "SNS_ENDPOINT", v)
		}
		// Every worker computes the notice time (GrantRef.NotifyAt) with
		// its own lead: they must all have the same one.
		if slices.Contains(routes.Workers, fn) && env["NOTICE_LEAD"] != "Ref:"+noticeLeadParam {
			fail("%s: %s is %q, want !Ref %s (every worker computes notify_at with it)", id, "NOTICE_LEAD", env["NOTICE_LEAD"], noticeLeadParam)
		}
		got, set := env["API_BASE_URL"]
		switch links := slices.Contains(linkingFunctions, fn); {
		case links && (got == "" || got != apiURL):
			fail("%s: %s is %q, want the ApiUrl output's value %v", id, "API_BASE_URL", got, apiURL)
		case !links && set:
			fail("%s: %s is set, but only %v build API links", id, "API_BASE_URL", linkingFunctions)
		}
	}
	if d, ok := paramDefault(tp, noticeLeadParam); !ok {
		fail("parameter %s needs a default", noticeLeadParam)
	} else if lead, err := time.ParseDuration(d); err != nil || lead != workflow.DefaultNoticeLead {
		fail("parameter %s: Default %q, want %v (workflow.DefaultNoticeLead)", noticeLeadParam, d, workflow.DefaultNoticeLead)
	}
	if p := tp.cfn.Parameters[noticeLeadParam]; p.AllowedPattern != nil {
		re, err := regexp.Compile(*p.AllowedPattern)
		if err != nil {
			fail("parameter %s: AllowedPattern: %v", noticeLeadParam, err)
		} else {
			for _, v := range []string{"15m", "1h30m", "90s"} {
				if !re.MatchString(v) {
					fail("parameter %s: AllowedPattern refuses %q", noticeLeadParam, v)
				}
			}
			for _, v := range []string{"15", "-1m", "soon"} {
				if re.MatchString(v) {
					fail("parameter %s: AllowedPattern accepts %q, which is not a Go duration", noticeLeadParam, v)
				}
			}
		}
	}

	// Which SNS policy each of them holds is checkSettings' (extraPolicyKinds).
	topicUserIDs := logicalIDs(topicUsers)
	for id, what := range resourcesMentioning(tp, snsPublishRe) {
		if !slices.Contains(topicUserIDs, id) {
			fail("%s has an SNS permission (%q): only %v may talk to SNS", id, what, topicUsers)
		}
	}
	return probs
}

// ---------------------------------------------------------------- background

// checkBackground: every routes.Background function has a spec and
// exactly one event, of the spec's type, whose properties the spec
// checks.
func checkBackground(tp *tmpl) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	for fn := range backgroundFunctions {
		if !slices.Contains(routes.Background, fn) {
			fail("backgroundFunctions has %s, which is not in routes.Background", fn)
		}
	}
	fns := tp.functions()
	for _, fn := range routes.Background {
		spec, ok := backgroundFunctions[fn]
		if !ok {
			fail("background function %s has no entry in backgroundFunctions (how is it triggered?)", fn)
			continue
		}
		id := routes.LogicalID(fn)
		f, ok := fns[id]
		if !ok {
			continue // checkFunctionSet reports it
		}
		specs := map[string]backgroundSpec{spec.eventType: spec}
		if spec.also != nil {
			specs[spec.also.eventType] = *spec.also
		}
		if len(f.Events) != len(specs) {
			fail("%s: %d events, want exactly one of each of %v", id, len(f.Events), slices.Sorted(maps.Keys(specs)))
			continue
		}
		seen := map[string]bool{}
		for name, ev := range f.Events {
			s, ok := specs[ev.Type]
			if !ok || seen[ev.Type] {
				fail("%s: event %s has Type %s, want one each of %v", id, name, ev.Type, slices.Sorted(maps.Keys(specs)))
				continue
			}
			seen[ev.Type] = true
			for _, p := range s.check(tp, id, ev) {
				fail("%s: event %s: %s", id, name, p)
			}
		}
	}
	return probs
}

var scheduleRe = regexp.MustCompile(`^(rate\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){5}\))$`)

// checkReconcileSchedule: the reconciler's schedule is the
// ReconcileSchedule parameter (default every five minutes), enabled.
func checkReconcileSchedule(tp *tmpl, _ string, ev serverless.Function_EventSource) []string {
	return checkSchedule(tp, ev, reconcileParam, reconcileDefault)
}

// checkSweepSchedule: the sweeper runs on SweepSchedule, every minute by
// default (its bound on how long a grant outlives its end).
func checkSweepSchedule(tp *tmpl, _ string, ev serverless.Function_EventSource) []string {
	return checkSchedule(tp, ev, "SweepSchedule", "rate(1 minute)")
}

func checkSchedule(tp *tmpl, ev serverless.Function_EventSource, reconcileParam, reconcileDefault string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if ev.Properties == nil || ev.Properties.ScheduleEvent == nil {
		return []string{"no Schedule properties"}
	}
	s := ev.Properties.ScheduleEvent
	if s.Schedule != "Ref:"+reconcileParam {
		fail("Schedule is %q, want !Ref %s", s.Schedule, reconcileParam)
	}
	if s.Enabled != nil && !*s.Enabled {
		fail("the schedule is disabled")
	}
	if d, _ := paramDefault(tp, reconcileParam); d != reconcileDefault || !scheduleRe.MatchString(d) {
		fail("parameter %s: Default %q, want %q", reconcileParam, d, reconcileDefault)
	}
	if p := tp.cfn.Parameters[reconcileParam]; p.AllowedPattern == nil {
		fail("parameter %s needs an AllowedPattern (rate(...) or cron(...))", reconcileParam)
	} else if re, err := regexp.Compile(*p.AllowedPattern); err != nil || !re.MatchString(reconcileDefault) || re.MatchString("5 minutes") {
		fail("parameter %s: AllowedPattern %q must take rate(...)/cron(...) only", reconcileParam, *p.AllowedPattern)
	}
	return probs
}

// checkAnchorSchedule: the extender's second trigger, anchoring idle
// tenants' heads on AuditAnchorSchedule, every minute by default.
func checkAnchorSchedule(tp *tmpl, _ string, ev serverless.Function_EventSource) []string {
	return checkSchedule(tp, ev, "AuditAnchorSchedule", "rate(1 minute)")
}

// checkStreamOrScheduledEvent: the extender's samples are stream batches
// or its schedule's events.
func checkStreamOrScheduledEvent(data []byte) []string {
	if strings.Contains(string(data), `"Scheduled Event"`) {
		return checkScheduledEvent(data)
	}
	return checkStreamEvent(data)
}

// checkScheduledEvent: an EventBridge scheduled event, as a Schedule
// event's rule delivers it.
func checkScheduledEvent(data []byte) []string {
	var ev events.EventBridgeEvent
	if err := decodeStrict(data, &ev); err != nil {
		return []string{"not a strict events.EventBridgeEvent: " + err.Error()}
	}
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if ev.Version != "0" || ev.Source != "aws.events" || ev.DetailType != "Scheduled Event" {
		fail("version %q source %q detail-type %q, want 0, aws.events, Scheduled Event", ev.Version, ev.Source, ev.DetailType)
	}
	if ev.ID == "" || ev.Time.IsZero() || !regexp.MustCompile(`^[0-9]{12}$`).MatchString(ev.AccountID) || ev.Region == "" {
		fail("id, time, account (12 digits) and region are required")
	}
	if len(ev.Resources) != 1 || !strings.HasPrefix(ev.Resources[0], "arn:aws:events:"+ev.Region+":"+ev.AccountID+":rule/") {
		fail("resources %v: want the one rule's ARN in the event's region and account", ev.Resources)
	}
	if strings.TrimSpace(string(ev.Detail)) != "{}" {
		fail("detail %s: a scheduled event's detail is {}", ev.Detail)
	}
	return probs
}

// ---------------------------------------------------------------- cycles

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// ---------------------------------------------------------------- tests

func TestProviders(t *testing.T) {
	report(t, checkProviders(loadTemplate(t), functionsDir))
}

func TestEventsTopic(t *testing.T) {
	report(t, checkEventsTopic(loadTemplate(t), functionsDir))
}

func TestBackground(t *testing.T) {
	report(t, checkBackground(loadTemplate(t)))
}

// TestAWSChecksDetectBreakage: like TestChecksDetectBreakage, for the
// providers, the events topic and the background functions.
func TestAWSChecksDetectBreakage(t *testing.T) {
	orig, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	providersCheck := func(tp *tmpl) []string { return checkProviders(tp, functionsDir) }
	topic := func(tp *tmpl) []string { return checkEventsTopic(tp, functionsDir) }
	const assume = "        - Statement:\n            - Sid: AssumeTenantRole\n              Effect: Allow\n              Action: sts:AssumeRole\n              Resource: !Sub \"arn:${AWS::Partition}:iam::*:role/${TenantRoleName}\"\n"
	const getGrant = "      CodeUri: functions/get-grant/\n      Description: GET /v1/grants/{id} (read a grant)\n      Policies:\n        - DynamoDBReadPolicy: {TableName: !Ref Table}\n"
	// notify-expiring's topic (the channel routes and the relay have one too).
	const notifierTopic = "          SNS_TOPIC_ARN: !Ref EventsTopic\n          # NOTICE_LEAD: from Globals.\n"
	cases := []struct {
		name, old, new string
		check          func(*tmpl) []string
	}{
		// sts:AssumeRole: exactly the provider functions, exactly the tenant role.
		{"AssumeRole on a reader", getGrant, getGrant + assume, checkSettings},
		{"AssumeRole on a reader (scan)", getGrant, getGrant + assume, providersCheck},
		{"AssumeRole on any role", "role/${TenantRoleName}\"", "role/*\"", checkSettings},
		{"AssumeRole in another account's path", "iam::*:role/${TenantRoleName}\"", "iam::*:role/jitsudo/${TenantRoleName}\"", checkSettings},
		{"AssumeRole plus more", "              Action: sts:AssumeRole\n", "              Action: [sts:AssumeRole, sts:TagSession]\n", checkSettings},
		{"AssumeRole as NotResource", "              Resource: !Sub \"arn:${AWS::Partition}:iam::*:role/${TenantRoleName}\"\n", "              NotResource: !Sub \"arn:${AWS::Partition}:iam::*:role/${TenantRoleName}\"\n", checkSettings},
		{"provider function cannot assume", "          PROVIDER_POLL_BUDGET: 20s\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n" + "        # the tenants' provisioning roles (infra/tenant-role), nothing else\n" + assume, "          PROVIDER_POLL_BUDGET: 20s\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n", checkSettings},
		{"sts on the SendTask policy", "Action: [states:SendTaskSuccess, states:SendTaskFailure]", "Action: [states:SendTaskSuccess, states:SendTaskFailure, sts:AssumeRole]", providersCheck},
		{"TenantRoleName wildcard", "AllowedPattern: \"^[A-Za-z0-9+=,.@_-]{1,64}$\"", "AllowedPattern: \"^.*$\"", providersCheck},
		{"TenantRoleName other default", "    Default: jitsudo-provisioner\n", "    Default: jitsudo-broker\n", providersCheck},
		// PROVIDER and its budget.
		{"PROVIDER on a non-provider function", getGrant, "      CodeUri: functions/get-grant/\n      Description: GET /v1/grants/{id} (read a grant)\n      Environment:\n        Variables:\n          PROVIDER: !Ref ProviderMode\n      Policies:\n        - DynamoDBReadPolicy: {TableName: !Ref Table}\n", providersCheck},
		{"PROVIDER in Globals", "        STAGE: !Ref Stage\n", "        STAGE: !Ref Stage\n        PROVIDER: recording\n", providersCheck},
		{"provider function without PROVIDER", "          PROVIDER: !Ref ProviderMode\n", "", providersCheck},
		{"reconciler follows ProviderMode", "          PROVIDER: identitycenter # fixed", "          PROVIDER: !Ref ProviderMode # fixed", providersCheck},
		{"local endpoint on AWS", "          PROVIDER_POLL_BUDGET: 60s\n", "          PROVIDER_POLL_BUDGET: 60s\n          PROVIDER_ENDPOINT: http://127.0.0.1:4566\n", providersCheck},
		{"budget beyond the API", "          PROVIDER_POLL_BUDGET: 20s\n", "          PROVIDER_POLL_BUDGET: 30s\n", providersCheck},
		{"budget not a duration", "          PROVIDER_POLL_BUDGET: 60s\n", "          PROVIDER_POLL_BUDGET: \"60\"\n", providersCheck},
		{"revoke timeout at the API's limit", "      Timeout: 29 # the HTTP API", "      Timeout: 30 # the HTTP API", providersCheck},
		{"worker timeout back to 30", "      Timeout: 120 # Identity Center", "      Timeout: 30 # Identity Center", providersCheck},
		{"reconciler timeout", "      Timeout: 300 #", "      Timeout: 60 #", providersCheck},
		{"unknown provider mode", "AllowedValues: [identitycenter]", "AllowedValues: [identitycenter, mock]", providersCheck},
		{"recording by default", "    Default: identitycenter\n", "    Default: recording\n", providersCheck},
		// The events topic and who publishes.
		{"topic unencrypted", "      KmsMasterKeyId: alias/aws/sns\n", "      DisplayName: jitsudo\n", topic},
		{"topic named", "      KmsMasterKeyId: alias/aws/sns\n", "      KmsMasterKeyId: alias/aws/sns\n      TopicName: jitsudo-events\n", topic},
		{"no topic output", "  EventsTopicArn:\n", "  EventsTopicARN:\n", topic},
		{"topic ARN by name", notifierTopic, "          SNS_TOPIC_ARN: !GetAtt EventsTopic.TopicName\n          # NOTICE_LEAD: from Globals.\n", topic},
		{"notifier without topic", notifierTopic, "          # NOTICE_LEAD: from Globals.\n", topic},
		{"topic ARN on a route", getGrant, "      CodeUri: functions/get-grant/\n      Description: GET /v1/grants/{id} (read a grant)\n      Environment:\n        Variables:\n          SNS_TOPIC_ARN: !Ref EventsTopic\n      Policies:\n        - DynamoDBReadPolicy: {TableName: !Ref Table}\n", topic},
		{"publish from a route", getGrant, getGrant + "        - SNSPublishMessagePolicy: {TopicName: !GetAtt EventsTopic.TopicName}\n", checkSettings},
		{"publish from a route (scan)", getGrant, getGrant + "        - SNSPublishMessagePolicy: {TopicName: !GetAtt EventsTopic.TopicName}\n", topic},
		{"notifier cannot publish", "        - SNSPublishMessagePolicy: {TopicName: !GetAtt EventsTopic.TopicName}\n", "", checkSettings},
		{"notifier publishes anywhere", "        - SNSPublishMessagePolicy: {TopicName: !GetAtt EventsTopic.TopicName}\n", "        - SNSPublishMessagePolicy: {TopicName: \"*\"}\n", checkSettings},
		{"notifier writes the table", "          API_BASE_URL: !Sub \"https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}\"\n      Policies:\n        - DynamoDBReadPolicy", "          API_BASE_URL: !Sub \"https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}\"\n      Policies:\n        - DynamoDBCrudPolicy", checkSettings},
		{"notice lead on one worker only", "        NOTICE_LEAD: !Ref NoticeLead\n", "", topic},
		{"notice lead default", "    Default: 15m\n", "    Default: 10m\n", topic},
		{"notice lead pattern", "AllowedPattern: \"^([0-9]+(ms|s|m|h))+$\"", "AllowedPattern: \"^[0-9a-z]+$\"", topic},
		{"links to another API", "          API_BASE_URL: !Sub \"https://${HttpApi}", "          API_BASE_URL: !Sub \"http://${HttpApi}", topic},
		// Background: the reconciler's schedule.
		{"schedule not the parameter", "            Schedule: !Ref ReconcileSchedule\n", "            Schedule: rate(1 minute)\n", checkBackground},
		{"schedule disabled", "            Enabled: true\n", "            Enabled: false\n", checkBackground},
		{"schedule default", "    Default: rate(5 minutes)\n", "    Default: rate(1 minute)\n", checkBackground},
		{"reconciler on the API", "        Schedule:\n          Type: Schedule\n", "        Schedule:\n          Type: HttpApi\n", checkBackground},
		{"reconciler without trigger", "      Events:\n        Schedule:\n          Type: Schedule\n          Properties:\n            Schedule: !Ref ReconcileSchedule\n            Description: jitsudo Identity Center drift reconciler\n            Enabled: true\n", "", checkBackground},
		// GSI4 (the reconciler's tenants) stays store.TableSchema's.
		{"GSI4 projection", "Projection: {ProjectionType: KEYS_ONLY}", "Projection: {ProjectionType: ALL}", checkTable},
		{"GSI4 missing", "        - IndexName: GSI4 # sparse: tenants with AWS settings (the reconciler's Scan)\n          KeySchema:\n            - {AttributeName: GSI4PK, KeyType: HASH}\n            - {AttributeName: GSI4SK, KeyType: RANGE}\n          Projection: {ProjectionType: KEYS_ONLY}\n", "", checkTable},
		{"GSI4 attribute missing", "        - {AttributeName: GSI4SK, AttributeType: S}\n", "", checkTable},
		// extend-grant starts the workflow of an extension under review.
		{"extend cannot start", "        - StepFunctionsExecutionPolicy: {StateMachineName: !Sub \"${AWS::StackName}-access-request\"}\n      Events:\n        Api:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: POST\n            Path: /v1/grants/{id}/extend\n", "      Events:\n        Api:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: POST\n            Path: /v1/grants/{id}/extend\n", checkSettings},
		{"settings reader writes", "      CodeUri: functions/get-aws-settings/\n      Description: GET /v1/settings/aws (the tenant's Identity Center settings and external id)\n      Policies:\n        - DynamoDBReadPolicy", "      CodeUri: functions/get-aws-settings/\n      Description: GET /v1/settings/aws (the tenant's Identity Center settings and external id)\n      Policies:\n        - DynamoDBCrudPolicy", checkSettings},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustCatch(t, orig, c.old, c.new, c.check) })
	}

	t.Run("background function without a spec", func(t *testing.T) {
		saved := routes.Background
		t.Cleanup(func() { routes.Background = saved })
		routes.Background = append(slices.Clone(saved), "rotate-keys")
		probs := checkBackground(loadTemplate(t))
		if !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, "rotate-keys") }) {
			t.Errorf("a background function without a spec is not reported: %v", probs)
		}
	})
	t.Run("providers from the code", func(t *testing.T) {
		dir := t.TempDir()
		write := func(fn, src string) {
			if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fn, "main.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for fn := range providerFunctions {
			write(fn, "package main\n\nimport _ \""+providersPackage+"\"\n")
		}
		write("get-grant", "package main\n\nimport p \""+providersPackage+"\"\n\nvar _ = p.IdentityCenter\n")
		write(workflow.FnNotifyExpiring, "package main\n\nimport \""+snspubPackage+"\"\n\nvar _ = snspub.Open\n")
		write("list-grants", "package main\n\nimport pub \""+snspubPackage+"\"\n\nvar _ = pub.Open\n")
		tp := loadTemplate(t)
		if probs := checkProviders(tp, dir); !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, "get-grant") }) {
			t.Errorf("a function importing the providers package without PROVIDER is not reported: %v", probs)
		}
		if probs := checkEventsTopic(tp, dir); !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, "functions/list-grants") }) {
			t.Errorf("a function publishing without being listed is not reported: %v", probs)
		}
	})

	for _, c := range []struct{ name, event string }{
		{"worker input", `{"tenant_id":"acme","request_id":"r"}`},
		{"unknown field", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-03-12T09:15:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/r"],"detail":{},"extra":1}`},
		{"not scheduled", `{"version":"0","id":"x","detail-type":"Object Created","source":"aws.s3","account":"123456789012","time":"2026-03-12T09:15:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:123456789012:rule/r"],"detail":{}}`},
		{"rule elsewhere", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","account":"123456789012","time":"2026-03-12T09:15:00Z","region":"eu-west-1","resources":["arn:aws:events:us-east-1:123456789012:rule/r"],"detail":{}}`},
	} {
		t.Run("events/reconcile "+c.name, func(t *testing.T) {
			if probs := checkScheduledEvent([]byte(c.event)); len(probs) == 0 {
				t.Error("checkScheduledEvent passed a broken event")
			}
		})
	}
}

// TestTenantRoleNameEnforced: the settings route refuses role ARNs the
// provider functions could not assume — it knows their one role name.
func TestTenantRoleNameEnforced(t *testing.T) {
	tp := loadTemplate(t)
	f, ok := tp.functions()[routes.LogicalID("put-aws-settings")]
	if !ok {
		t.Fatal("no put-aws-settings function")
	}
	if f.Environment == nil || f.Environment.Variables["TENANT_ROLE_NAME"] != "Ref:TenantRoleName" {
		t.Fatalf("put-aws-settings: %s must be !Ref TenantRoleName", "TENANT_ROLE_NAME")
	}
}
