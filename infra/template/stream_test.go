package template

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// maxStreamReaders: DynamoDB Streams serves at most two concurrent
// readers per shard (AWS advises no more than two consumers per stream;
// a third is throttled). The table's readers are relay-outbox (the
// workflow driver and the events relay, one handler) and
// extend-audit-chain.
const maxStreamReaders = 2

// wantStreamReaders are the functions reading the table's stream.
var wantStreamReaders = []string{"ExtendAuditChainFunction", "RelayOutboxFunction"}

// streamReaders are the resources that read the table's stream: SAM
// DynamoDB events on it, and AWS::Lambda::EventSourceMapping resources
// whose EventSourceArn is it.
func streamReaders(tp *tmpl) []string {
	var tableID string
	for t := range tp.cfn.GetAllDynamoDBTableResources() {
		tableID = t
	}
	stream := "GetAtt:" + tableID + ".StreamArn"
	var out []string
	for i := 0; i+1 < len(tp.doc.Content); i += 2 {
		if tp.doc.Content[i].Value != "Resources" {
			continue
		}
		res := tp.doc.Content[i+1]
		for j := 0; j+1 < len(res.Content); j += 2 {
			id, r := res.Content[j].Value, res.Content[j+1]
			props := mapValue(r, "Properties")
			switch marker(mapValue(r, "Type")) {
			case "AWS::Serverless::Function":
				evs := mapValue(props, "Events")
				if evs == nil || evs.Kind != yaml.MappingNode {
					continue
				}
				for k := 0; k+1 < len(evs.Content); k += 2 {
					ev := evs.Content[k+1]
					if marker(mapValue(ev, "Type")) == "DynamoDB" && marker(mapValue(mapValue(ev, "Properties"), "Stream")) == stream {
						out = append(out, id)
					}
				}
			case "AWS::Lambda::EventSourceMapping":
				if marker(mapValue(props, "EventSourceArn")) == stream {
					out = append(out, id)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkStreamReaders: at most maxStreamReaders read the table's stream,
// and they are wantStreamReaders.
func checkStreamReaders(tp *tmpl) []string {
	got := streamReaders(tp)
	var probs []string
	if len(got) > maxStreamReaders {
		probs = append(probs, fmt.Sprintf("%d readers of the table's stream %v: DynamoDB Streams serves at most %d per shard (merge consumers into one handler, as relay-outbox does)", len(got), got, maxStreamReaders))
	}
	if !slices.Equal(got, wantStreamReaders) {
		probs = append(probs, fmt.Sprintf("the table's stream is read by %v, want %v", got, wantStreamReaders))
	}
	return probs
}

// TestStreamReaders: at most two event source mappings on the table's
// stream: relay-outbox and extend-audit-chain.
func TestStreamReaders(t *testing.T) {
	report(t, checkStreamReaders(loadTemplate(t)))
}

// TestStreamReadersDetectBreakage: a third reader, a second mapping of
// the same function or one as a raw EventSourceMapping is caught.
func TestStreamReadersDetectBreakage(t *testing.T) {
	orig, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	const deliverer = "      Events:\n        Topic:\n          Type: SNS\n"
	const thirdMapping = "      Events:\n        Stream2:\n          Type: DynamoDB\n          Properties:\n            Stream: !GetAtt Table.StreamArn\n            StartingPosition: TRIM_HORIZON\n        Topic:\n          Type: SNS\n"
	const raw = "  NotificationsDLQ:\n"
	const rawMapping = "  ExtraStreamMapping:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      EventSourceArn: !GetAtt Table.StreamArn\n      FunctionName: !Ref HealthzFunction\n      StartingPosition: LATEST\n\n  NotificationsDLQ:\n"
	mustCatch(t, orig, deliverer, thirdMapping, checkStreamReaders)
	mustCatch(t, orig, raw, rawMapping, checkStreamReaders)
}

// checkOutboxEvent: a well-formed stream event (checkStreamEvent) whose
// records the driver acts on (a request transition of
// workflow.DriverActions), so that the sample exercises both halves.
func checkOutboxEvent(data []byte) []string {
	probs := checkStreamEvent(data)
	var sample struct {
		Records []struct {
			DynamoDB struct {
				NewImage struct {
					Action struct{ S string } `json:"action"`
				} `json:"NewImage"`
			} `json:"dynamodb"`
		}
	}
	if err := json.Unmarshal(data, &sample); err != nil {
		return append(probs, err.Error())
	}
	for i, rec := range sample.Records {
		if a := rec.DynamoDB.NewImage.Action.S; !slices.Contains(workflow.DriverActions, a) {
			probs = append(probs, fmt.Sprintf("record %d is %q, which the driver has no effect for (%v)", i, a, workflow.DriverActions))
		}
	}
	return probs
}

// TestOutboxFilterPassesDriverActions: the outbox's filter (audit
// inserts) lets every request transition the driver acts on through,
// and the sample is one.
func TestOutboxFilterPassesDriverActions(t *testing.T) {
	tp := loadTemplate(t)
	patterns, err := streamFilterPatterns(eventProperties(tp, "RelayOutboxFunction"))
	if err != nil || len(patterns) != 1 {
		t.Fatalf("relay-outbox filter patterns %v: %v", patterns, err)
	}
	var pattern any
	_ = json.Unmarshal([]byte(patterns[0]), &pattern)
	data, err := os.ReadFile(filepath.Join(eventsDir, "relay-outbox.json"))
	if err != nil {
		t.Fatal(err)
	}
	if probs := checkOutboxEvent(data); len(probs) > 0 {
		t.Fatalf("events/relay-outbox.json: %s", strings.Join(probs, "; "))
	}
	var sample struct{ Records []map[string]any }
	if err := json.Unmarshal(data, &sample); err != nil || len(sample.Records) == 0 {
		t.Fatal(err)
	}
	rec := sample.Records[0]
	for _, a := range workflow.DriverActions {
		rec["dynamodb"].(map[string]any)["NewImage"].(map[string]any)["action"] = map[string]any{"S": a}
		if !matchesFilter(pattern, rec) {
			t.Errorf("%s does not pass the outbox's filter: the driver would never see it", a)
		}
	}
}
