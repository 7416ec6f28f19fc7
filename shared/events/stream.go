package events

// The stream side of the outbox: on AWS the table's DynamoDB stream
// (StreamViewType NEW_IMAGE) feeds the relay-outbox Lambda (Relay, with the
// workflow driver: shared/outbox), whose event source mapping is filtered
// to audit inserts —
//
//	FilterCriteria: {"eventName": ["INSERT"],
//	                 "dynamodb": {"NewImage": {"entity_type": {"S": ["AUDIT"]}}}}
//
// — and has FunctionResponseTypes [ReportBatchItemFailures] (with retry
// limits and an on-failure destination, so that a record that keeps
// failing does not hold up its shard forever). Locally infra/ddbstream
// emulates the stream.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// AuditFromStreamImage decodes a stream record's image as an audit event,
// as the store reads audit items (store.UnmarshalAuditItem); ok is false
// for items that are not audit events. An audit item that does not decode
// is an error wrapping ErrMalformed.
func AuditFromStreamImage(img map[string]lambdaevents.DynamoDBAttributeValue) (access.AuditEvent, bool, error) {
	item := make(map[string]types.AttributeValue, len(img))
	for k, v := range img {
		av, err := streamValue(v)
		if err != nil {
			return access.AuditEvent{}, false, fmt.Errorf("%w: attribute %s: %w", ErrMalformed, k, err)
		}
		item[k] = av
	}
	a, ok, err := store.UnmarshalAuditItem(item)
	if err != nil {
		return access.AuditEvent{}, ok, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return a, ok, nil
}

// streamValue converts a stream image attribute (aws-lambda-go) to the SDK's
// form.
func streamValue(v lambdaevents.DynamoDBAttributeValue) (types.AttributeValue, error) {
	switch v.DataType() {
	case lambdaevents.DataTypeString:
		return &types.AttributeValueMemberS{Value: v.String()}, nil
	case lambdaevents.DataTypeNumber:
		return &types.AttributeValueMemberN{Value: v.Number()}, nil
	case lambdaevents.DataTypeBoolean:
		return &types.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case lambdaevents.DataTypeNull:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case lambdaevents.DataTypeBinary:
		return &types.AttributeValueMemberB{Value: v.Binary()}, nil
	case lambdaevents.DataTypeStringSet:
		return &types.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case lambdaevents.DataTypeNumberSet:
		return &types.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case lambdaevents.DataTypeBinarySet:
		return &types.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case lambdaevents.DataTypeList:
		l := v.List()
		out := make([]types.AttributeValue, len(l))
		for i, x := range l {
			av, err := streamValue(x)
			if err != nil {
				return nil, err
			}
			out[i] = av
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	case lambdaevents.DataTypeMap:
		m := v.Map()
		out := make(map[string]types.AttributeValue, len(m))
		for k, x := range m {
			av, err := streamValue(x)
			if err != nil {
				return nil, err
			}
			out[k] = av
		}
		return &types.AttributeValueMemberM{Value: out}, nil
	}
	return nil, fmt.Errorf("unsupported stream attribute type %d", v.DataType())
}

// EventPublisher publishes one event (*Publisher).
type EventPublisher interface {
	Publish(ctx context.Context, ev Event) error
}

// Relay is half of the relay-outbox Lambda's handler: audit items from the
// table's stream → events → the SNS topic. Loader and Publisher are
// required; Rules, Links and Logger (slog.Default) are optional.
//
// Delivery is at least once: a record whose event cannot be built (a read
// failed) or published is reported as a batch item failure and Lambda
// delivers it again; consumers deduplicate on Event.ID (the audit event
// id). Records that can never be published (ErrMalformed) are logged and
// skipped, so that they do not block the stream.
type Relay struct {
	Loader    Loader
	Rules     Rules
	Links     LinkBuilder
	Publisher EventPublisher
	Logger    *slog.Logger
}

func (r *Relay) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// HandleRecord publishes one stream record's event (none for records that
// are not audit inserts, or have no event): one half of the outbox
// consumer (shared/outbox). An error means the record must be delivered
// again.
func (r *Relay) HandleRecord(ctx context.Context, rec lambdaevents.DynamoDBEventRecord) error {
	m := Mapper{Loader: r.Loader, Rules: r.Rules, Links: r.Links}
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.EventName != string(lambdaevents.DynamoDBOperationTypeInsert) {
		return nil
	}
	a, ok, err := AuditFromStreamImage(rec.Change.NewImage)
	if err == nil && ok {
		var ev Event
		ev, ok, err = m.Event(ctx, a)
		if err == nil && ok {
			if r.Publisher == nil {
				return errors.New("events: no Publisher")
			}
			if err := r.Publisher.Publish(ctx, ev); err != nil {
				if errors.Is(err, ErrUndeliverable) { // would fail on every retry: skip, loudly
					r.log().ErrorContext(ctx, "events: event cannot be published; skipped",
						"tenant_id", ev.TenantID, "event_id", ev.ID, "type", ev.Type, "error", err)
					return nil
				}
				return err
			}
			r.log().InfoContext(ctx, "events: published", "tenant_id", ev.TenantID, "event_id", ev.ID, "type", ev.Type)
			return nil
		}
	}
	if errors.Is(err, ErrMalformed) {
		r.log().ErrorContext(ctx, "events: audit record cannot be published; skipped",
			"event_id", rec.EventID, "sequence_number", rec.Change.SequenceNumber, "error", err)
		return nil
	}
	return err
}
