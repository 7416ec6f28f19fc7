package invoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/infra/invoke"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

var updateSamples = flag.Bool("update-samples", false, "rewrite events/relay-outbox.json from the seeded table")

// The stream record around the seeded item in events/relay-outbox.json.
const (
	streamEventID        = "c81e728d9d4c2f636f067f89cc14862c"
	streamRegion         = "eu-west-1"
	streamSourceARN      = "arn:aws:dynamodb:eu-west-1:123456789012:table/jitsudo-prod-Table-1A2B3C4D5E6F/stream/2026-03-01T00:00:00.000"
	streamSequenceNumber = "4421584500000000017450439091"
)

// TestRelayOutboxSampleIsTheSeededItem: the stream record of
// events/relay-outbox.json carries, as its NewImage and Keys, exactly
// the one audit item the fixtures put into the table
// (invoke.SeedStreamFixtures, through the store as every transition
// writes its audit event), so the relay under the RIE publishes a real
// audit event of the seeded tenant. -update-samples rewrites the file.
func TestRelayOutboxSampleIsTheSeededItem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, client, table := dynamotest.New(t)
	if err := invoke.SeedEventFixtures(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := invoke.SeedStreamFixtures(ctx, s); err != nil {
		t.Fatal(err)
	}
	// Every audit item of the table, whatever its keys.
	var audit []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if et, ok := it["entity_type"].(*types.AttributeValueMemberS); ok && et.Value == "AUDIT" {
				audit = append(audit, it)
			}
		}
	}
	if len(audit) != 1 {
		t.Fatalf("the seeded table has %d audit items, want the one of invoke.SeedStreamFixtures", len(audit))
	}
	image := streamImage(audit[0])
	keys := map[string]lambdaevents.DynamoDBAttributeValue{"PK": image["PK"], "SK": image["SK"]}

	file := filepath.Join("..", "..", "events", "relay-outbox.json")
	if *updateSamples {
		rec := lambdaevents.DynamoDBEventRecord{
			AWSRegion: streamRegion, EventID: streamEventID, EventName: string(lambdaevents.DynamoDBOperationTypeInsert),
			EventSource: "aws:dynamodb", EventVersion: "1.1", EventSourceArn: streamSourceARN,
			Change: lambdaevents.DynamoDBStreamRecord{
				ApproximateCreationDateTime: lambdaevents.SecondsEpochTime{Time: invoke.EventAuditTime},
				Keys:                        keys, NewImage: image, SequenceNumber: streamSequenceNumber,
				SizeBytes: itemSize(audit[0]), StreamViewType: string(lambdaevents.DynamoDBStreamViewTypeNewImage),
			},
		}
		data, err := json.MarshalIndent(lambdaevents.DynamoDBEvent{Records: []lambdaevents.DynamoDBEventRecord{rec}}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var sample lambdaevents.DynamoDBEvent
	if err := json.Unmarshal(data, &sample); err != nil {
		t.Fatal(err)
	}
	if len(sample.Records) != 1 {
		t.Fatalf("events/relay-outbox.json has %d records, want 1", len(sample.Records))
	}
	rec := sample.Records[0].Change
	if !sameJSON(t, rec.NewImage, image) || !sameJSON(t, rec.Keys, keys) {
		t.Errorf("events/relay-outbox.json is not the seeded audit item (go test ./infra/invoke/ -run %s -update-samples):\nfile: %s\nseeded: %s",
			t.Name(), mustJSON(t, rec.NewImage), mustJSON(t, image))
	}
	// And it is an intact event as the store wrote it: no place in the
	// chain yet (seq 0, no prev_hash: the chain extender assigns them),
	// its content hash matching.
	a, ok, err := events.AuditFromStreamImage(rec.NewImage)
	if err != nil || !ok {
		t.Fatalf("the sample's image is no audit event: %v %v", ok, err)
	}
	if a.Seq != 0 || a.PrevHash != "" || access.AuditHash(a) != a.Hash || a.ID != invoke.EventAuditID {
		t.Errorf("audit event %+v is not an intact stored event", a)
	}
}

func sameJSON(t *testing.T, a, b any) bool {
	var x, y any
	if err := json.Unmarshal(mustJSON(t, a), &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mustJSON(t, b), &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// streamImage is an item as a stream record carries it.
func streamImage(item map[string]types.AttributeValue) map[string]lambdaevents.DynamoDBAttributeValue {
	out := make(map[string]lambdaevents.DynamoDBAttributeValue, len(item))
	for k, v := range item {
		out[k] = streamValue(v)
	}
	return out
}

func streamValue(v types.AttributeValue) lambdaevents.DynamoDBAttributeValue {
	switch x := v.(type) {
	case *types.AttributeValueMemberS:
		return lambdaevents.NewStringAttribute(x.Value)
	case *types.AttributeValueMemberN:
		return lambdaevents.NewNumberAttribute(x.Value)
	case *types.AttributeValueMemberBOOL:
		return lambdaevents.NewBooleanAttribute(x.Value)
	case *types.AttributeValueMemberNULL:
		return lambdaevents.NewNullAttribute()
	case *types.AttributeValueMemberB:
		return lambdaevents.NewBinaryAttribute(x.Value)
	case *types.AttributeValueMemberSS:
		return lambdaevents.NewStringSetAttribute(x.Value)
	case *types.AttributeValueMemberNS:
		return lambdaevents.NewNumberSetAttribute(x.Value)
	case *types.AttributeValueMemberBS:
		return lambdaevents.NewBinarySetAttribute(x.Value)
	case *types.AttributeValueMemberL:
		l := make([]lambdaevents.DynamoDBAttributeValue, len(x.Value))
		for i, e := range x.Value {
			l[i] = streamValue(e)
		}
		return lambdaevents.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		return lambdaevents.NewMapAttribute(streamImage(x.Value))
	}
	panic(fmt.Sprintf("unsupported attribute value %T", v))
}

// itemSize approximates DynamoDB's item size: names plus values.
func itemSize(item map[string]types.AttributeValue) int64 {
	var n int64
	for k, v := range item {
		var b bytes.Buffer
		_ = json.NewEncoder(&b).Encode(streamValue(v))
		n += int64(len(k) + b.Len())
	}
	return n
}
