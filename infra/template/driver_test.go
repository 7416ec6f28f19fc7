package template

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// driveFilterPattern is the drive-workflow mapping's filter: audit inserts
// of exactly the actions the driver acts on (workflow.DriverActions).
func driveFilterPattern() string {
	p := map[string]any{"eventName": []string{"INSERT"}, "dynamodb": map[string]any{"NewImage": map[string]any{
		"entity_type": map[string]any{"S": []string{"AUDIT"}},
		"action":      map[string]any{"S": workflow.DriverActions},
	}}}
	b, _ := json.Marshal(p)
	return string(b)
}

// checkDriveStream: the workflow driver reads the table's stream from the
// start, filtered to the request transitions it acts on, reports the
// record it failed at (ReportBatchItemFailures), retries finitely and
// sends what keeps failing to its own dead-letter queue.
func checkDriveStream(tp *tmpl, id string, _ serverless.Function_EventSource) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	props := eventProperties(tp, id)
	if props == nil {
		return []string{"no properties"}
	}
	for _, k := range keysOfNode(props) {
		if !slices.Contains(streamProperties, k) {
			fail("property %s: not one the driver was built for (%v)", k, streamProperties)
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
	for _, k := range []string{"MaximumRetryAttempts", "MaximumRecordAgeInSeconds"} {
		if n, err := strconv.Atoi(marker(mapValue(props, k))); err != nil || n <= 0 {
			fail("%s is %q: it must be finite (a record that keeps failing goes to the DLQ)", k, marker(mapValue(props, k)))
		}
	}
	var types []string
	if n := mapValue(props, "FunctionResponseTypes"); n != nil && n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			types = append(types, marker(c))
		}
	}
	if !slices.Equal(types, []string{"ReportBatchItemFailures"}) {
		fail("FunctionResponseTypes %v, want [ReportBatchItemFailures] (workflow.Driver.HandleStream reports the record it failed at)", types)
	}
	patterns, err := streamFilterPatterns(props)
	if err != nil || len(patterns) != 1 {
		fail("FilterCriteria: want exactly %s (%v)", driveFilterPattern(), err)
	} else {
		var got, want any
		_ = json.Unmarshal([]byte(patterns[0]), &got)
		_ = json.Unmarshal([]byte(driveFilterPattern()), &want)
		if !reflect.DeepEqual(got, want) {
			fail("FilterCriteria pattern %s, want %s (workflow.DriverActions)", patterns[0], driveFilterPattern())
		}
	}
	dlq := deadLetterQueues[fnByLogicalID()[id]]
	dest := mapValue(mapValue(props, "DestinationConfig"), "OnFailure")
	if got := marker(mapValue(dest, "Destination")); dlq == "" || got != "GetAtt:"+dlq+".Arn" {
		fail("DestinationConfig.OnFailure.Destination is %q, want !GetAtt %s.Arn (its own dead-letter queue)", got, dlq)
	}
	return probs
}

// checkDriveEvent: a well-formed stream event (checkStreamEvent) whose
// records pass the driver's filter.
func checkDriveEvent(data []byte) []string {
	probs := checkStreamEvent(data)
	var pattern any
	_ = json.Unmarshal([]byte(driveFilterPattern()), &pattern)
	var sample struct{ Records []map[string]any }
	if err := json.Unmarshal(data, &sample); err != nil {
		return append(probs, err.Error())
	}
	for i, rec := range sample.Records {
		if !matchesFilter(pattern, rec) {
			probs = append(probs, fmt.Sprintf("record %d does not pass the driver's filter %s", i, driveFilterPattern()))
		}
	}
	return probs
}

// TestDriveStreamFilter: the driver's filter stops what it has no effect
// for (a grant's event, a message) and lets the sample through.
func TestDriveStreamFilter(t *testing.T) {
	_ = loadTemplate(t)
	var pattern any
	_ = json.Unmarshal([]byte(driveFilterPattern()), &pattern)
	data, err := os.ReadFile(filepath.Join(eventsDir, "drive-workflow.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sample struct{ Records []map[string]any }
	if err := json.Unmarshal(data, &sample); err != nil || len(sample.Records) == 0 {
		t.Fatal(err)
	}
	rec := sample.Records[0]
	if !matchesFilter(pattern, rec) {
		t.Fatal("the sample does not pass")
	}
	rec["dynamodb"].(map[string]any)["NewImage"].(map[string]any)["action"] = map[string]any{"S": "grant.active"}
	if matchesFilter(pattern, rec) {
		t.Error("grant.active passes the driver's filter")
	}
}
