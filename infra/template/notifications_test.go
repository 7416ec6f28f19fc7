package template

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"gopkg.in/yaml.v3"

	jevents "github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/events/snspub"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// The notification path in template.yaml: the table's stream into the
// outbox consumer (relay-outbox: the relay and the workflow driver), the events topic into the deliverer
// (deliver-notifications), their dead-letter queues, the delivery rules
// (NOTIFY_MODE) and the timeouts of the functions that deliver.

const (
	apiPackage    = modulePath + "/shared/api"
	wiringPackage = modulePath + "/shared/wiring"

	// The stream consumers' event source mappings (shared/outbox,
	// shared/audit): from the start, audit inserts only.
	streamStartingPosition = "TRIM_HORIZON" // nothing written before the mapping existed is skipped
	streamFilterPattern    = `{"eventName":["INSERT"],"dynamodb":{"NewImage":{"entity_type":{"S":["AUDIT"]}}}}`

	// deliver-notifications: Lambda's retries of an asynchronous (SNS)
	// invocation before the dead-letter queue.
	deliveryRetryAttempts = 2

	dlqRetention = 1209600 // seconds: 14 days, SQS's maximum

	// notifyRecordTimeout is notify's recordTimeout (unexported): how long
	// recording a delivery's outcome may take after the delivery.
	notifyRecordTimeout = 5 * time.Second
	// deliveryMargin covers what a delivery does besides its attempts:
	// listing the channels, the DNS check of the URL.
	deliveryMargin = 5 * time.Second
)

// deliveringFunctions deliver to channels themselves (notify.Dispatcher):
// exactly the functions whose main.go serves api.TestChannel or starts
// wiring.Deliver. Their Timeout must cover one delivery.
var deliveringFunctions = []string{"deliver-notifications", "test-notification-channel"}

// deliveryBudget is the longest one delivery to a channel can take with
// the dispatcher's defaults: every attempt timing out, the longest backoff
// between them (the base doubled per retry, +50% jitter), recording the
// outcome, and the margin.
func deliveryBudget() time.Duration {
	d := time.Duration(notify.DefaultAttempts) * notify.DefaultTimeout
	backoff := notify.DefaultBackoff
	for range notify.DefaultAttempts - 1 {
		d += backoff * 3 / 2
		backoff *= 2
	}
	return d + notifyRecordTimeout + deliveryMargin
}

// ---------------------------------------------------------------- raw YAML

// eventProperties is the raw Properties node of the function's only event,
// or of its one DynamoDB stream event (checkBackground checks the events). The typed view is
// not enough: goformation v7.14.9's DynamoDB event lacks FilterCriteria
// and FunctionResponseTypes, and drops the typed properties of an event
// that has them.
func eventProperties(tp *tmpl, id string) *yaml.Node {
	evs := mapValue(mapValue(resourceNode(tp, id), "Properties"), "Events")
	if evs == nil {
		return nil
	}
	if len(evs.Content) == 2 {
		return mapValue(evs.Content[1], "Properties")
	}
	// several: the one stream event (extend-audit-chain also has a schedule)
	var props *yaml.Node
	for i := 1; i < len(evs.Content); i += 2 {
		if t := mapValue(evs.Content[i], "Type"); t != nil && t.Value == "DynamoDB" {
			if props != nil {
				return nil
			}
			props = mapValue(evs.Content[i], "Properties")
		}
	}
	return props
}

// marker renders a scalar the way the goformation view does: "Ref:X",
// "GetAtt:A.B", "Sub:text", else the value ("" for anything not a scalar).
func marker(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	switch n.Tag {
	case "!Ref":
		return "Ref:" + n.Value
	case "!GetAtt":
		return "GetAtt:" + n.Value
	case "!Sub":
		return "Sub:" + n.Value
	}
	return n.Value
}

// keysOfNode lists a mapping's keys.
func keysOfNode(n *yaml.Node) []string {
	var out []string
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, n.Content[i].Value)
		}
	}
	return out
}

// ---------------------------------------------------------------- the table's stream

// streamSettings are a stream mapping's batching and retry limits.
type streamSettings struct {
	batchSize, window int // records, seconds
	retries           int // finite: a record that keeps failing goes to the DLQ
	maxAge            int // seconds; at most the stream's retention
}

var (
	// relay-outbox: no batching window (the driver is the guarantee of a
	// lost start or resume), and retries to ride out an hour of Step
	// Functions refusing calls.
	outboxStream = streamSettings{batchSize: 100, window: 0, retries: 100, maxAge: 86400}
	// extend-audit-chain.
	chainStream = streamSettings{batchSize: 100, window: 1, retries: 20, maxAge: 86400}
)

// streamProperties are the properties the relay's stream event may have.
var streamProperties = []string{"Stream", "StartingPosition", "BatchSize", "MaximumBatchingWindowInSeconds",
	"BisectBatchOnFunctionError", "FunctionResponseTypes", "MaximumRetryAttempts", "MaximumRecordAgeInSeconds",
	"FilterCriteria", "DestinationConfig", "Enabled"}

// checkStream: the consumer reads the table's stream from the start of
// its retention, filtered to audit inserts, reports batch item failures
// (without ReportBatchItemFailures Lambda would take a partly failed
// batch as done and the failed events or effects would be lost), gives a
// record up after want.retries, and reports it to its own dead-letter
// queue.
func checkStream(want streamSettings) func(tp *tmpl, id string, _ serverless.Function_EventSource) []string {
	return func(tp *tmpl, id string, _ serverless.Function_EventSource) []string {
		return checkStreamMapping(tp, id, want)
	}
}

func checkStreamMapping(tp *tmpl, id string, want streamSettings) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	props := eventProperties(tp, id)
	if props == nil {
		return []string{"no properties"}
	}
	for _, k := range keysOfNode(props) {
		if !slices.Contains(streamProperties, k) {
			fail("property %s: not one the consumers were built for (%v)", k, streamProperties)
		}
	}
	var tableID string
	for t := range tp.cfn.GetAllDynamoDBTableResources() {
		tableID = t
	}
	if got := marker(mapValue(props, "Stream")); got != "GetAtt:"+tableID+".StreamArn" {
		fail("Stream is %q, want !GetAtt %s.StreamArn", got, tableID)
	}
	if got := marker(mapValue(props, "StartingPosition")); got != streamStartingPosition {
		fail("StartingPosition %q, want %s", got, streamStartingPosition)
	}
	for k, want := range map[string]int{
		"BatchSize": want.batchSize, "MaximumBatchingWindowInSeconds": want.window,
		"MaximumRetryAttempts": want.retries, "MaximumRecordAgeInSeconds": want.maxAge,
	} {
		if got, err := strconv.Atoi(marker(mapValue(props, k))); err != nil || got != want {
			fail("%s is %q, want %d", k, marker(mapValue(props, k)), want)
		}
	}
	if v := mapValue(props, "BisectBatchOnFunctionError"); v != nil && marker(v) != "false" {
		fail("BisectBatchOnFunctionError %q: the consumer already cuts the batch at its first failure", marker(v))
	}
	if v := mapValue(props, "Enabled"); v != nil && marker(v) != "true" {
		fail("the mapping is disabled")
	}
	var types []string
	if n := mapValue(props, "FunctionResponseTypes"); n != nil && n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			types = append(types, marker(c))
		}
	}
	if !slices.Equal(types, []string{"ReportBatchItemFailures"}) {
		fail("FunctionResponseTypes %v, want [ReportBatchItemFailures] (the handler reports the record it failed at)", types)
	}
	patterns, err := streamFilterPatterns(props)
	switch {
	case err != nil:
		fail("FilterCriteria: %v", err)
	case len(patterns) != 1:
		fail("FilterCriteria has %d patterns, want exactly %s", len(patterns), streamFilterPattern)
	default:
		var got, want any
		if err := json.Unmarshal([]byte(patterns[0]), &got); err != nil {
			fail("FilterCriteria pattern %q: %v", patterns[0], err)
		}
		_ = json.Unmarshal([]byte(streamFilterPattern), &want)
		if !reflect.DeepEqual(got, want) {
			fail("FilterCriteria pattern %s, want %s (audit inserts only)", patterns[0], streamFilterPattern)
		}
	}
	dlq := deadLetterQueues[fnByLogicalID()[id]]
	dest := mapValue(mapValue(props, "DestinationConfig"), "OnFailure")
	if got := marker(mapValue(dest, "Destination")); dlq == "" || got != "GetAtt:"+dlq+".Arn" {
		fail("DestinationConfig.OnFailure.Destination is %q, want !GetAtt %s.Arn (its own dead-letter queue)", got, dlq)
	}
	return probs
}

// streamFilterPatterns are the Pattern strings of an event's
// FilterCriteria.
func streamFilterPatterns(props *yaml.Node) ([]string, error) {
	filters := mapValue(mapValue(props, "FilterCriteria"), "Filters")
	if filters == nil || filters.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("no FilterCriteria.Filters list")
	}
	var out []string
	for _, f := range filters.Content {
		p := mapValue(f, "Pattern")
		if p == nil || p.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("a filter without a Pattern string")
		}
		out = append(out, p.Value)
	}
	return out, nil
}

var (
	streamARNRe = regexp.MustCompile(`^arn:aws:dynamodb:([a-z0-9-]+):[0-9]{12}:table/[A-Za-z0-9_.-]+/stream/\S+$`)
	digitsRe    = regexp.MustCompile(`^[0-9]+$`)
)

// checkStreamEvent: a DynamoDB stream event (strict
// events.DynamoDBEvent) of NEW_IMAGE inserts whose images are audit items
// of a notified action, as the relay takes them
// (jevents.AuditFromStreamImage).
func checkStreamEvent(data []byte) []string {
	var ev events.DynamoDBEvent
	if err := decodeStrict(data, &ev); err != nil {
		return []string{"not a strict events.DynamoDBEvent: " + err.Error()}
	}
	if len(ev.Records) == 0 {
		return []string{"no records"}
	}
	var probs []string
	for i, r := range ev.Records {
		fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf("record %d: ", i)+fmt.Sprintf(f, a...)) }
		if r.EventSource != "aws:dynamodb" || r.EventVersion != "1.1" || r.EventName != string(events.DynamoDBOperationTypeInsert) {
			fail("eventSource %q, eventVersion %q, eventName %q; want aws:dynamodb, 1.1, INSERT", r.EventSource, r.EventVersion, r.EventName)
		}
		if m := streamARNRe.FindStringSubmatch(r.EventSourceArn); m == nil || m[1] != r.AWSRegion {
			fail("eventSourceARN %q is not a table stream of region %q", r.EventSourceArn, r.AWSRegion)
		}
		c := r.Change
		if c.StreamViewType != string(events.DynamoDBStreamViewTypeNewImage) || len(c.OldImage) != 0 {
			fail("StreamViewType %q with an OldImage of %d attributes: the table streams NEW_IMAGE", c.StreamViewType, len(c.OldImage))
		}
		if r.EventID == "" || !digitsRe.MatchString(c.SequenceNumber) || c.SizeBytes <= 0 || c.ApproximateCreationDateTime.IsZero() {
			fail("eventID, SequenceNumber (digits), SizeBytes and ApproximateCreationDateTime are required")
		}
		if len(c.Keys) != 2 || !sameAttr(c.Keys["PK"], c.NewImage["PK"]) || !sameAttr(c.Keys["SK"], c.NewImage["SK"]) {
			fail("Keys %v are not the image's PK and SK", c.Keys)
		}
		a, ok, err := jevents.AuditFromStreamImage(c.NewImage)
		if err != nil || !ok {
			fail("NewImage is not an audit item (ok %v): %v", ok, err)
			continue
		}
		if _, notified, err := jevents.TypeOf(a); err != nil || !notified {
			fail("audit action %s is not notified (%v): the relay would publish nothing", a.Action, err)
		}
		if !c.ApproximateCreationDateTime.Equal(a.CreatedAt.Truncate(time.Second)) {
			fail("ApproximateCreationDateTime %v, the audit event was created at %v", c.ApproximateCreationDateTime, a.CreatedAt)
		}
	}
	return probs
}

func sameAttr(a, b events.DynamoDBAttributeValue) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// matchesFilter applies a Lambda event filter pattern of exact values (a
// JSON object of objects and value lists, as streamFilterPattern) to a
// record's JSON: every key of the pattern must be in the record, and a
// list matches a value equal to one of its elements. Content-filter
// operators ({"prefix": …}) are not understood and never match.
func matchesFilter(pattern, record any) bool {
	switch p := pattern.(type) {
	case map[string]any:
		r, ok := record.(map[string]any)
		if !ok {
			return false
		}
		for k, sub := range p {
			v, ok := r[k]
			if !ok || !matchesFilter(sub, v) {
				return false
			}
		}
		return true
	case []any:
		for _, allowed := range p {
			if reflect.DeepEqual(allowed, record) {
				return true
			}
		}
	}
	return false
}

// ---------------------------------------------------------------- deliver-notifications

// checkDeliverySubscription: the deliverer is subscribed to the events
// topic, unfiltered (the dispatcher selects each tenant's channels); SNS
// invokes it asynchronously, so Lambda retries a failed invocation
// deliveryRetryAttempts times and then puts the event into its own
// dead-letter queue.
func checkDeliverySubscription(tp *tmpl, id string, _ serverless.Function_EventSource) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	props := eventProperties(tp, id)
	if got := keysOfNode(props); !slices.Equal(got, []string{"Topic"}) {
		fail("properties %v, want only Topic (a filter policy or an SQS subscription would change what it gets)", got)
	}
	if got := marker(mapValue(props, "Topic")); got != "Ref:"+eventsTopicID {
		fail("Topic is %q, want !Ref %s", got, eventsTopicID)
	}
	f := tp.functions()[id]
	dlq := deadLetterQueues[fnByLogicalID()[id]]
	if q := f.DeadLetterQueue; dlq == "" || q == nil || q.Type != "SQS" || q.TargetArn != "GetAtt:"+dlq+".Arn" {
		fail("DeadLetterQueue %+v, want Type SQS, TargetArn !GetAtt %s.Arn (its own)", q, dlq)
	}
	if c := f.EventInvokeConfig; c == nil || c.MaximumRetryAttempts == nil || *c.MaximumRetryAttempts != deliveryRetryAttempts {
		fail("EventInvokeConfig.MaximumRetryAttempts must be %d", deliveryRetryAttempts)
	}
	return probs
}

// checkSNSEvent: an SNS event (strict events.SNSEvent) as the topic's
// Lambda subscription delivers it: each Message a strict version-1
// jevents.Event with the attributes and subject snspub.Publisher gives it.
func checkSNSEvent(data []byte) []string {
	var ev events.SNSEvent
	if err := decodeStrict(data, &ev); err != nil {
		return []string{"not a strict events.SNSEvent: " + err.Error()}
	}
	if len(ev.Records) == 0 {
		return []string{"no records"}
	}
	var probs []string
	for i, r := range ev.Records {
		fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf("record %d: ", i)+fmt.Sprintf(f, a...)) }
		s := r.SNS
		if r.EventSource != "aws:sns" || r.EventVersion != "1.0" || s.Type != "Notification" {
			fail("EventSource %q, EventVersion %q, Type %q; want aws:sns, 1.0, Notification", r.EventSource, r.EventVersion, s.Type)
		}
		if !regexp.MustCompile(`^arn:aws:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$`).MatchString(s.TopicArn) ||
			!strings.HasPrefix(r.EventSubscriptionArn, s.TopicArn+":") {
			fail("TopicArn %q / EventSubscriptionArn %q: want a topic and one of its subscriptions", s.TopicArn, r.EventSubscriptionArn)
		}
		if s.MessageID == "" || s.Timestamp.IsZero() {
			fail("MessageId and Timestamp are required")
		}
		var msg jevents.Event
		if err := decodeStrict([]byte(s.Message), &msg); err != nil {
			fail("Message is not a strict jevents.Event: %v", err)
			continue
		}
		if msg.Version != jevents.Version || msg.ID == "" || msg.TenantID == "" || !slices.Contains(jevents.Types, msg.Type) || msg.Severity == "" {
			fail("event version %d, id %q, tenant %q, type %q, severity %q", msg.Version, msg.ID, msg.TenantID, msg.Type, msg.Severity)
		}
		want := map[string]any{}
		for k, v := range snspub.Attributes(msg) {
			want[k] = map[string]any{"Type": *v.DataType, "Value": *v.StringValue}
		}
		if !reflect.DeepEqual(s.MessageAttributes, want) {
			fail("MessageAttributes %v, snspub.Publisher sets %v", s.MessageAttributes, want)
		}
		if s.Subject != snspub.DefaultSubject(msg) {
			fail("Subject %q, snspub.Publisher sets %q", s.Subject, snspub.DefaultSubject(msg))
		}
	}
	return probs
}

// ---------------------------------------------------------------- the rest

// checkNotifications: NOTIFY_MODE is aws for every function (Globals, no
// override); the SQS queues are exactly the dead-letter queues,
// encrypted, keeping messages 14 days, each with its URL as an output;
// the functions that deliver (exactly those calling the dispatcher's
// constructors) have a Timeout that covers one delivery, and a route's
// stays under the HTTP API's limit.
func checkNotifications(tp *tmpl, functionsDir string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }

	if g, err := tp.cfn.GetServerlessGlobalFunction(); err != nil || g.Environment == nil || g.Environment.Variables["NOTIFY_MODE"] != string(notify.ModeAWS) {
		fail("Globals.Function.Environment %s must be %s", "NOTIFY_MODE", notify.ModeAWS)
	}
	for id, f := range tp.functions() {
		if got := envOf(tp, f)["NOTIFY_MODE"]; got != string(notify.ModeAWS) {
			fail("%s: %s is %q: on AWS only %s (local allows http to loopback)", id, "NOTIFY_MODE", got, notify.ModeAWS)
		}
	}

	queues := tp.cfn.GetAllSQSQueueResources()
	want := slices.Sorted(maps.Values(deadLetterQueues))
	if got := slices.Sorted(maps.Keys(queues)); !slices.Equal(got, want) {
		fail("SQS queues %v, want exactly the dead-letter queues %v", got, want)
	}
	for _, id := range want {
		q, ok := queues[id]
		if !ok {
			continue
		}
		if q.SqsManagedSseEnabled == nil || !*q.SqsManagedSseEnabled || q.KmsMasterKeyId != nil {
			fail("%s: SqsManagedSseEnabled must be true (no KMS key: the senders would need KMS permissions)", id)
		}
		if q.MessageRetentionPeriod == nil || *q.MessageRetentionPeriod != dlqRetention {
			fail("%s: MessageRetentionPeriod must be %d (14 days)", id, dlqRetention)
		}
		if q.QueueName != nil || q.FifoQueue != nil {
			fail("%s: no QueueName (a fixed name blocks replacement and second stacks), no FIFO", id)
		}
		if o, ok := tp.cfn.Outputs[id+"Url"]; !ok || o.Value != "Ref:"+id {
			fail("output %sUrl must be !Ref %s", id, id)
		}
	}

	var using []string
	for _, c := range []struct{ pkg, sel string }{{apiPackage, "TestChannel"}, {wiringPackage, "Deliver"}} {
		fns, err := functionsUsing(functionsDir, c.pkg, c.sel)
		if err != nil {
			return append(probs, err.Error())
		}
		using = append(using, fns...)
	}
	if slices.Sort(using); !slices.Equal(using, slices.Sorted(slices.Values(deliveringFunctions))) {
		fail("functions delivering to channels are %v; deliveringFunctions lists %v", using, deliveringFunctions)
	}
	budget := deliveryBudget()
	for _, fn := range deliveringFunctions {
		id := routes.LogicalID(fn)
		f, ok := tp.functions()[id]
		if !ok {
			continue
		}
		timeout := timeoutOf(tp, f)
		if time.Duration(timeout)*time.Second < budget {
			fail("%s: Timeout %ds, but one delivery may take %v (notify.DefaultAttempts x notify.DefaultTimeout, backoff, recording)", id, timeout, budget)
		}
		if _, isRoute := routeByFunction()[fn]; isRoute && timeout >= apiGatewayTimeout {
			fail("%s: Timeout %ds: the HTTP API gives up after %ds", id, timeout, apiGatewayTimeout)
		}
	}
	return probs
}

// ---------------------------------------------------------------- tests

func TestNotifications(t *testing.T) {
	report(t, checkNotifications(loadTemplate(t), functionsDir))
}

// TestDeliveryBudget: the budget is what the dispatcher's defaults add up
// to, and the route that delivers can afford it.
func TestDeliveryBudget(t *testing.T) {
	if b := deliveryBudget(); b < 15*time.Second || b >= apiGatewayTimeout*time.Second {
		t.Errorf("delivery budget %v: expected the defaults (3 x 5 s, backoff, 5 s recording) to stay under the API's %ds", b, apiGatewayTimeout)
	}
}

// TestStreamSampleMatchesFilter: the template's filter lets the sample
// stream record through (infra/invoke proves it is a real audit item of
// the seeded table), and stops the same item modified, removed, or as
// another entity.
func TestStreamSampleMatchesFilter(t *testing.T) {
	tp := loadTemplate(t)
	patterns, err := streamFilterPatterns(eventProperties(tp, routes.LogicalID("relay-outbox")))
	if err != nil || len(patterns) != 1 {
		t.Fatalf("relay-outbox filter patterns %v: %v", patterns, err)
	}
	var pattern any
	if err := json.Unmarshal([]byte(patterns[0]), &pattern); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(eventsDir, "relay-outbox.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample struct{ Records []map[string]any }
	if err := json.Unmarshal(data, &sample); err != nil || len(sample.Records) == 0 {
		t.Fatalf("events/relay-outbox.json: %v", err)
	}
	for i, rec := range sample.Records {
		if !matchesFilter(pattern, rec) {
			t.Errorf("record %d of events/relay-outbox.json does not pass the stream filter %s", i, patterns[0])
		}
		for name, mutate := range map[string]func(r map[string]any){
			"MODIFY": func(r map[string]any) { r["eventName"] = "MODIFY" },
			"REMOVE": func(r map[string]any) { r["eventName"] = "REMOVE" },
			"request item": func(r map[string]any) {
				r["dynamodb"].(map[string]any)["NewImage"].(map[string]any)["entity_type"] = map[string]any{"S": "REQUEST"}
			},
			"no image": func(r map[string]any) { delete(r["dynamodb"].(map[string]any), "NewImage") },
		} {
			var copied map[string]any
			raw, _ := json.Marshal(rec)
			_ = json.Unmarshal(raw, &copied)
			mutate(copied)
			if matchesFilter(pattern, copied) {
				t.Errorf("record %d as %s passes the stream filter", i, name)
			}
		}
	}
}

// TestChannelEventBodies: the channel sample bodies say what their names
// claim, judged by shared/notify: create-notification-channel.json is a
// valid generic webhook to the example receiver on loopback (local mode,
// the dev stack; infra/invoke runs it so), -email.json a valid email
// channel in AWS mode, -invalid.json (the instance metadata service) is
// refused in both modes; the update is conditional and only merges.
func TestChannelEventBodies(t *testing.T) {
	body := func(name string) (events.APIGatewayV2HTTPRequest, notify.ChannelInput) {
		ev := readEvent(t, name)
		var in notify.ChannelInput
		if err := decodeStrict([]byte(ev.Body), &in); err != nil {
			t.Fatalf("%s: body is not a notify.ChannelInput: %v", name, err)
		}
		return ev, in
	}
	fieldErr := func(errs []notify.FieldError, field string) bool {
		return slices.ContainsFunc(errs, func(e notify.FieldError) bool { return e.Field == field })
	}
	if _, in := body("create-notification-channel.json"); in.Type != notify.TypeGenericWebhook || len(in.Validate(notify.ModeLocal)) > 0 {
		t.Errorf("create-notification-channel.json: %+v: want a valid generic webhook (local mode): %v", in, in.Validate(notify.ModeLocal))
	}
	if _, in := body("create-notification-channel-email.json"); in.Type != notify.TypeEmail || len(in.Validate(notify.ModeAWS)) > 0 {
		t.Errorf("create-notification-channel-email.json: %+v: want a valid email channel: %v", in, in.Validate(notify.ModeAWS))
	}
	_, bad := body("create-notification-channel-invalid.json")
	for _, mode := range []notify.Mode{notify.ModeAWS, notify.ModeLocal} {
		if errs := bad.Validate(mode); !fieldErr(errs, "config.url") {
			t.Errorf("create-notification-channel-invalid.json: %s mode does not refuse config.url: %v", mode, errs)
		}
	}
	upd, in := body("update-notification-channel.json")
	if upd.Headers["if-match"] == "" || in.Type != "" || in.Name != "" {
		t.Errorf("update-notification-channel.json: want an If-Match and a merge that keeps name and type: %+v", in)
	}
}

// TestNotificationChecksDetectBreakage: like TestChecksDetectBreakage, for
// the notification path.
func TestNotificationChecksDetectBreakage(t *testing.T) {
	orig, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	topic := func(tp *tmpl) []string { return checkEventsTopic(tp, functionsDir) }
	notifications := func(tp *tmpl) []string { return checkNotifications(tp, functionsDir) }
	const getGrant = "      CodeUri: functions/get-grant/\n      Description: GET /v1/grants/{id} (read a grant)\n      Policies:\n        - DynamoDBReadPolicy: {TableName: !Ref Table}\n"
	const subscriptions = "        - Statement:\n            - Sid: SubscribeEmailChannels\n              Effect: Allow\n              Action: sns:Subscribe\n              Resource: !Ref EventsTopic\n              Condition:\n                StringEquals:\n                  sns:Protocol: email\n            # Unsubscribe and SetSubscriptionAttributes are requested on\n            # the subscription ARN, <topic ARN>:<id>.\n            - Sid: ManageChannelSubscriptions\n              Effect: Allow\n              Action: [sns:Unsubscribe, sns:SetSubscriptionAttributes]\n              Resource: !Sub \"${EventsTopic}:*\"\n"
	const tester = "        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n      Events:\n        Api:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: POST\n            Path: /v1/notification-channels/{id}/test\n"
	const relayEnv = "          SNS_TOPIC_ARN: !Ref EventsTopic\n          # The API's base URL, for the links in the events"
	const relayLinks = "          API_BASE_URL: !Sub \"https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}\"\n      Policies:\n        # reads the requests"
	cases := []struct {
		name, old, new string
		check          func(*tmpl) []string
	}{
		// The table's stream.
		{"table without stream", "      StreamSpecification:\n        StreamViewType: NEW_IMAGE\n", "", checkTable},
		{"table streams keys only", "        StreamViewType: NEW_IMAGE\n", "        StreamViewType: KEYS_ONLY\n", checkTable},
		// The relay's event source mapping.
		{"no batch item failures", "            FunctionResponseTypes: [ReportBatchItemFailures]\n", "", checkBackground},
		{"filter on modifications", `'{"eventName":["INSERT"],`, `'{"eventName":["MODIFY"],`, checkBackground},
		{"filter on every entity", `{"entity_type":{"S":["AUDIT"]}}`, `{"entity_type":{"S":["AUDIT","REQUEST"]}}`, checkBackground},
		{"no filter", "            FilterCriteria:\n              Filters:\n                - Pattern: '{\"eventName\":[\"INSERT\"],\"dynamodb\":{\"NewImage\":{\"entity_type\":{\"S\":[\"AUDIT\"]}}}}'\n", "", checkBackground},
		{"second filter", "                - Pattern: '{\"eventName\"", "                - Pattern: '{\"eventName\":[\"REMOVE\"]}'\n                - Pattern: '{\"eventName\"", checkBackground},
		{"stream from now", "            StartingPosition: TRIM_HORIZON\n", "            StartingPosition: LATEST\n", checkBackground},
		{"stream by Ref", "            Stream: !GetAtt Table.StreamArn\n", "            Stream: !Ref Table\n", checkBackground},
		{"retries forever", "            MaximumRetryAttempts: 20\n", "            MaximumRetryAttempts: -1\n", checkBackground},
		{"records never too old", "            MaximumRecordAgeInSeconds: 86400\n", "            MaximumRecordAgeInSeconds: -1\n", checkBackground},
		{"bisect", "            BisectBatchOnFunctionError: false\n", "            BisectBatchOnFunctionError: true\n", checkBackground},
		{"parallel shards", "            BatchSize: 100\n", "            BatchSize: 100\n            ParallelizationFactor: 10\n", checkBackground},
		{"no on-failure destination", "            DestinationConfig:\n              OnFailure:\n                Destination: !GetAtt RelayOutboxDLQ.Arn\n", "", checkBackground},
		{"failures to the other queue", "                Destination: !GetAtt RelayOutboxDLQ.Arn\n", "                Destination: !GetAtt NotificationsDLQ.Arn\n", checkBackground},
		// The relay's permissions and environment.
		{"relay writes the table", "        # token (SAM adds the stream read permissions itself)\n        - DynamoDBReadPolicy", "        # token (SAM adds the stream read permissions itself)\n        - DynamoDBCrudPolicy", checkSettings},
		{"relay cannot publish", "        - SNSPublishMessagePolicy: {TopicName: !GetAtt EventsTopic.TopicName}\n        # StartExecution", "        # StartExecution", checkSettings},
		{"relay cannot start executions", "        - StepFunctionsExecutionPolicy: {StateMachineName: !Sub \"${AWS::StackName}-access-request\"}\n        # the on-failure destination below (no Type", "        # the on-failure destination below (no Type", checkSettings},
		{"outbox batches wait", "            MaximumBatchingWindowInSeconds: 0 #", "            MaximumBatchingWindowInSeconds: 1 #", checkBackground},
		{"relay cannot report failures", "        - SQSSendMessagePolicy: {QueueName: !GetAtt RelayOutboxDLQ.QueueName}\n", "", checkSettings},
		{"relay sends to the other queue", "        - SQSSendMessagePolicy: {QueueName: !GetAtt RelayOutboxDLQ.QueueName}\n", "        - SQSSendMessagePolicy: {QueueName: !GetAtt NotificationsDLQ.QueueName}\n", checkSettings},
		{"relay without topic", relayEnv, "          # The API's base URL, for the links in the events", topic},
		{"relay without links", relayLinks, "      Policies:\n        # reads the requests", topic},
		{"send to a queue from a route", getGrant, getGrant + "        - SQSSendMessagePolicy: {QueueName: !GetAtt NotificationsDLQ.QueueName}\n", checkSettings},
		// The deliverer's subscription and failures.
		{"filtered subscription", "            Topic: !Ref EventsTopic\n", "            Topic: !Ref EventsTopic\n            FilterPolicy: {tenant_id: [acme]}\n", checkBackground},
		{"subscribed elsewhere", "            Topic: !Ref EventsTopic\n", "            Topic: arn:aws:sns:us-east-1:123456789012:other\n", checkBackground},
		{"deliverer on the stream", "        Topic:\n          Type: SNS\n", "        Topic:\n          Type: SQS\n", checkBackground},
		{"no dead-letter queue", "      DeadLetterQueue:\n        Type: SQS\n        TargetArn: !GetAtt NotificationsDLQ.Arn\n", "", checkBackground},
		{"dead letters to the relay's queue", "        TargetArn: !GetAtt NotificationsDLQ.Arn\n", "        TargetArn: !GetAtt RelayOutboxDLQ.Arn\n", checkBackground},
		{"no retries", "        MaximumRetryAttempts: 2\n", "        MaximumRetryAttempts: 0\n", checkBackground},
		{"deliverer cannot record", "        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n        # the dead-letter queue", "        - DynamoDBReadPolicy: {TableName: !Ref Table} # RecordDelivery\n        # the dead-letter queue", checkSettings},
		{"deliverer publishes", "        - SQSSendMessagePolicy: {QueueName: !GetAtt NotificationsDLQ.QueueName}\n", "        - SQSSendMessagePolicy: {QueueName: !GetAtt NotificationsDLQ.QueueName}\n        - SNSPublishMessagePolicy: {TopicName: !GetAtt EventsTopic.TopicName}\n", checkSettings},
		{"deliverer timeout below one delivery", "      Timeout: 60\n      # NOTIFY_MODE: from Globals.\n", "      Timeout: 15\n      # NOTIFY_MODE: from Globals.\n", notifications},
		// The channel routes.
		{"creator cannot subscribe", subscriptions, "", checkSettings},
		{"subscribe to any topic", "              Action: sns:Subscribe\n              Resource: !Ref EventsTopic\n", "              Action: sns:Subscribe\n              Resource: \"*\"\n", checkSettings},
		{"subscribe any protocol", "              Condition:\n                StringEquals:\n                  sns:Protocol: email\n", "", checkSettings},
		{"subscribe https endpoints", "                  sns:Protocol: email\n", "                  sns:Protocol: https\n", checkSettings},
		{"unsubscribe anything", "              Resource: !Sub \"${EventsTopic}:*\"\n", "              Resource: \"*\"\n", checkSettings},
		{"subscriber publishes", "              Action: [sns:Unsubscribe, sns:SetSubscriptionAttributes]\n", "              Action: [sns:Unsubscribe, sns:SetSubscriptionAttributes, sns:Publish]\n", checkSettings},
		{"tester subscribes", tester, "        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n" + subscriptions + tester[len("        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n"):], checkSettings},
		{"tester subscribes (scan)", tester, "        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n" + subscriptions + tester[len("        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n"):], topic},
		{"channel reader writes", "      CodeUri: functions/get-notification-channel/\n      Description: GET /v1/notification-channels/{id} (secrets redacted, delivery status)\n      Policies:\n        - DynamoDBReadPolicy", "      CodeUri: functions/get-notification-channel/\n      Description: GET /v1/notification-channels/{id} (secrets redacted, delivery status)\n      Policies:\n        - DynamoDBCrudPolicy", checkSettings},
		{"creator without topic", "      Environment:\n        Variables:\n          SNS_TOPIC_ARN: !Ref EventsTopic\n      Policies:\n", "      Policies:\n", topic},
		{"tester timeout at the API's limit", "      Timeout: 29\n      Policies:\n        - !Ref AuditChainWriteDeny\n        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n", "      Timeout: 30\n      Policies:\n        - !Ref AuditChainWriteDeny\n        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n", notifications},
		{"tester with the default timeout", "      Timeout: 29\n      Policies:\n        - !Ref AuditChainWriteDeny\n        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n", "      Policies:\n        - !Ref AuditChainWriteDeny\n        - DynamoDBCrudPolicy: {TableName: !Ref Table} # RecordDelivery\n", notifications},
		// Delivery rules and the queues.
		{"local mode on AWS", "        NOTIFY_MODE: aws\n", "        NOTIFY_MODE: local\n", notifications},
		{"no delivery rules", "        NOTIFY_MODE: aws\n", "", notifications},
		{"local mode for the deliverer", "      # NOTIFY_MODE: from Globals.\n", "      Environment:\n        Variables:\n          NOTIFY_MODE: local\n", notifications},
		{"queue unencrypted", "      SqsManagedSseEnabled: true\n", "", notifications},
		{"queue with a KMS key", "      SqsManagedSseEnabled: true\n", "      SqsManagedSseEnabled: true\n      KmsMasterKeyId: alias/aws/sqs\n", notifications},
		{"queue forgets", "      MessageRetentionPeriod: 1209600 # 14 days, the maximum\n", "      MessageRetentionPeriod: 345600\n", notifications},
		{"queue named", "  RelayOutboxDLQ:\n    Type: AWS::SQS::Queue\n    Properties:\n", "  RelayOutboxDLQ:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: jitsudo-dlq\n", notifications},
		{"extra queue", "  NotificationsDLQ:\n", "  SpareQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n\n  NotificationsDLQ:\n", notifications},
		{"no queue output", "  NotificationsDLQUrl:\n", "  NotificationsDlqUrl:\n", notifications},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustCatch(t, orig, c.old, c.new, c.check) })
	}

	t.Run("SNS users from the code", func(t *testing.T) {
		dir := t.TempDir()
		write := func(fn, src string) {
			if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fn, "main.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("get-grant", "package main\n\nimport \""+snspubPackage+"\"\n\nvar _ = snspub.Open\n")
		write("list-grants", "package main\n\nimport s \""+snspubPackage+"\"\n\nvar _ = s.OpenSubscriptions\n")
		write("healthz", "package main\n\nimport \""+apiPackage+"\"\n\nvar _ = api.TestChannel\n")
		probs := checkEventsTopic(loadTemplate(t), dir)
		for _, want := range []string{"functions/get-grant calls snspub.Open", "functions/list-grants calls snspub.OpenSubscriptions",
			"publishingFunctions lists relay-outbox", "subscribingFunctions lists delete-notification-channel"} {
			if !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, want) }) {
				t.Errorf("not reported: %q (got %v)", want, probs)
			}
		}
		if probs := checkNotifications(loadTemplate(t), dir); !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, "healthz") }) {
			t.Errorf("a function delivering without being listed is not reported: %v", probs)
		}
	})

	for _, c := range []struct{ name, file, old, new string }{
		{"stream: MODIFY", "relay-outbox.json", `"eventName": "INSERT"`, `"eventName": "MODIFY"`},
		{"stream: old image", "relay-outbox.json", `"StreamViewType": "NEW_IMAGE"`, `"StreamViewType": "NEW_AND_OLD_IMAGES", "OldImage": {"PK": {"S": "x"}}`},
		{"stream: not audit", "relay-outbox.json", `"S": "AUDIT"`, `"S": "REQUEST"`},
		{"stream: other keys", "relay-outbox.json", `"SK": {
            "S": "EVT#evt_eventpendingcreated"
          }
        },
        "NewImage"`, `"SK": {
            "S": "EVT#00000000000000000002"
          }
        },
        "NewImage"`},
		{"stream: not notified", "relay-outbox.json", `"S": "request.created"`, `"S": "rule.created"`},
		{"stream: unknown field", "relay-outbox.json", `"eventVersion": "1.1",`, `"eventVersion": "1.1", "extra": 1,`},
		{"stream: other region", "relay-outbox.json", `"awsRegion": "eu-west-1"`, `"awsRegion": "us-east-1"`},
		{"sns: not a notification", "deliver-notifications.json", `"Type": "Notification"`, `"Type": "SubscriptionConfirmation"`},
		{"sns: attributes disagree", "deliver-notifications.json", `"Value": "request.pending"`, `"Value": "grant.active"`},
		{"sns: missing attribute", "deliver-notifications.json", `"severity": {
            "Type": "String",
            "Value": "info"
          },`, ``},
		{"sns: event version 2", "deliver-notifications.json", `{\"version\":1,`, `{\"version\":2,`},
		{"sns: unknown event field", "deliver-notifications.json", `{\"version\":1,`, `{\"version\":1,\"extra\":1,`},
		{"sns: foreign subscription", "deliver-notifications.json", `"EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:jitsudo-prod-EventsTopic-AbCdEf123456:`, `"EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:other:`},
		{"sns: subject", "deliver-notifications.json", `"Subject": "[jitsudo] request.pending`, `"Subject": "[jitsudo] request.approved`},
	} {
		t.Run("events/"+c.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(eventsDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), c.old) {
				t.Fatalf("mutation is stale: %q not in events/%s", c.old, c.file)
			}
			broken := []byte(strings.Replace(string(data), c.old, c.new, 1))
			spec := backgroundFunctions[strings.TrimSuffix(c.file, ".json")]
			if probs := spec.sample(broken); len(probs) == 0 {
				t.Error("the sample check passed a broken event")
			} else {
				t.Logf("caught: %s", probs[0])
			}
		})
	}
}
