package store

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	// The channel model's leaf package, not shared/notify: notify imports
	// shared/events, which imports this package.
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/notify/channel"
)

// Notification channels live under PK T#<tenant>#CHANNELS, SK CH#<id>, one
// item per channel: the channel.Channel (= notify.Channel) fields as
// attributes named by their json tags (like rules), plus PK, SK and
// entity_type. Secrets (URL, header values, signing secret) are attributes
// like any other: the table is encrypted at rest, and the API never returns
// them after create.
//
// Version is the optimistic lock of configuration changes (PutChannel).
// The delivery status (last_error, last_error_at, last_delivered_at) is
// written only by RecordDelivery, which does not move the version (a
// delivery never makes an admin's update conflict) — and an update never
// writes the status, so it cannot overwrite a newer one with what the
// admin read.

const maxChannelIDLen = 200 // policy.MaxNotificationChannelLen: rules name channels by id

// Channel attribute names (json tags of channel.Channel) the store treats
// specially.
const (
	chAttrVersion       = "version"
	chAttrCreatedAt     = "created_at"
	chAttrLastError     = "last_error"
	chAttrLastErrorAt   = "last_error_at"
	chAttrLastDelivered = "last_delivered_at"
	maxLastErrorLen     = 1000
)

// channelAttrs is every attribute a channel.Channel may be stored with
// (its json tag names): an update clears those the new version lacks.
var channelAttrs = func() []string {
	var names []string
	t := reflect.TypeFor[channel.Channel]()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}()

// statusAttrs are written by RecordDelivery only.
var statusAttrs = []string{chAttrLastError, chAttrLastErrorAt, chAttrLastDelivered}

func checkChannelID(id string) error {
	if id == "" || len(id) > maxChannelIDLen || !utf8.ValidString(id) {
		return fmt.Errorf("%w: channel id must be 1..%d bytes", ErrInvalidInput, maxChannelIDLen)
	}
	return nil
}

func channelItem(ch channel.Channel) (map[string]types.AttributeValue, error) {
	item, err := attributevalue.MarshalMapWithOptions(ch, jsonTags)
	if err != nil {
		return nil, fmt.Errorf("store: encode channel %s: %w", ch.ID, err)
	}
	for _, name := range []string{AttrPK, AttrSK, AttrEntityType} {
		if _, ok := item[name]; ok {
			return nil, fmt.Errorf("store: encode channel %s: field %q collides with a key attribute", ch.ID, name)
		}
	}
	item[AttrPK] = str(channelsPK(ch.TenantID))
	item[AttrSK] = str(channelSK(ch.ID))
	item[AttrEntityType] = str(entityChannel)
	return item, nil
}

func decodeChannel(item map[string]types.AttributeValue) (channel.Channel, error) {
	var ch channel.Channel
	if err := attributevalue.UnmarshalMapWithOptions(item, &ch, func(o *attributevalue.DecoderOptions) { o.TagKey = "json" }); err != nil {
		return channel.Channel{}, fmt.Errorf("store: decode channel: %w", err)
	}
	return ch, nil
}

// PutChannel stores ch, conditionally. ch.Version must be the version the
// write produces: 1 when create, expectVersion+1 otherwise
// (notify.NewChannel and notify.UpdateChannel set it so).
//
// create: the tenant must exist (ErrNotFound) and the id must be free
// (ErrConflict); the whole channel is written.
// update: the stored version must be expectVersion (ErrConflict; ErrNotFound
// if there is no such channel); every attribute but created_at and the
// delivery status is replaced, attributes absent from ch are removed.
func (s *Store) PutChannel(ctx context.Context, ch channel.Channel, create bool, expectVersion int64, audit ...access.AuditEvent) error {
	if err := checkTenant(ch.TenantID); err != nil {
		return err
	}
	if err := checkChannelID(ch.ID); err != nil {
		return err
	}
	item, err := channelItem(ch)
	if err != nil {
		return err
	}
	if create {
		if ch.Version != 1 {
			return fmt.Errorf("%w: a new channel has version 1, not %d", ErrInvalidInput, ch.Version)
		}
		return s.createChannel(ctx, ch, item, audit)
	}
	if expectVersion < 1 || ch.Version != expectVersion+1 {
		return fmt.Errorf("%w: channel update from version %d must write version %d, not %d", ErrInvalidInput, expectVersion, expectVersion+1, ch.Version)
	}
	return s.updateChannel(ctx, ch, item, expectVersion, audit)
}

func (s *Store) createChannel(ctx context.Context, ch channel.Channel, item map[string]types.AttributeValue, audit []access.AuditEvent) error {
	tx, err := s.withAudit(ch.TenantID, []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName:                aws.String(s.table),
			Key:                      keyOf(tenantPK(ch.TenantID), skTenant),
			ConditionExpression:      aws.String("attribute_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
		}},
		{Put: &types.Put{
			TableName:                aws.String(s.table),
			Item:                     item,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
		}},
	}, audit)
	if err != nil {
		return err
	}
	err = s.transact(ctx, tx)
	switch failedAt(err) {
	case -1:
		if err != nil {
			return fmt.Errorf("store: create channel %s: %w", ch.ID, err)
		}
		return nil
	case 0:
		return fmt.Errorf("store: create channel: tenant %s: %w", ch.TenantID, ErrNotFound)
	default:
		return conflict(nil, "a notification channel with this id exists already")
	}
}

// updateChannel is one UpdateItem: SET every attribute of item but the
// keys, created_at and the delivery status, and SET to NULL the channel
// attributes item lacks (optional fields emptied by the update); condition:
// the version. NULL, not REMOVE: the embedded stand-in the tests use
// (minidyn v0.8.2) ignores REMOVE of top-level attributes, and NULL decodes
// as the empty value all the same.
func (s *Store) updateChannel(ctx context.Context, ch channel.Channel, item map[string]types.AttributeValue, expectVersion int64, audit []access.AuditEvent) error {
	names := map[string]string{"#pk": AttrPK, "#ver": chAttrVersion}
	vals := map[string]types.AttributeValue{":expect": num(expectVersion)}
	skip := append([]string{AttrPK, AttrSK, chAttrCreatedAt}, statusAttrs...)
	var set []string
	for i, name := range slices.Sorted(maps.Keys(item)) {
		if slices.Contains(skip, name) {
			continue
		}
		ph := fmt.Sprintf("a%d", i)
		names["#"+ph], vals[":"+ph] = name, item[name]
		set = append(set, "#"+ph+" = :"+ph)
	}
	for i, name := range channelAttrs {
		if _, ok := item[name]; !ok && !slices.Contains(skip, name) {
			ph := fmt.Sprintf("#n%d", i)
			names[ph] = name
			vals[":null"] = &types.AttributeValueMemberNULL{Value: true}
			set = append(set, ph+" = :null")
		}
	}
	tx, err := s.withAudit(ch.TenantID, []types.TransactWriteItem{{Update: &types.Update{
		TableName:                 aws.String(s.table),
		Key:                       keyOf(channelsPK(ch.TenantID), channelSK(ch.ID)),
		UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
		ConditionExpression:       aws.String("attribute_exists(#pk) AND #ver = :expect"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	}}}, audit)
	if err != nil {
		return err
	}
	err = s.transact(ctx, tx)
	if err == nil {
		return nil
	}
	if failedAt(err) < 0 {
		return fmt.Errorf("store: update channel %s: %w", ch.ID, err)
	}
	cur, gerr := s.GetChannel(ctx, ch.TenantID, ch.ID)
	if gerr != nil {
		return gerr
	}
	return conflict(map[string]any{"version": cur.Version}, "the notification channel is at version %d now, not %d", cur.Version, expectVersion)
}

// GetChannel reads one channel (consistent read). ErrNotFound if the
// tenant has none with that id.
func (s *Store) GetChannel(ctx context.Context, tenantID, id string) (channel.Channel, error) {
	if err := checkTenant(tenantID); err != nil {
		return channel.Channel{}, err
	}
	if err := checkChannelID(id); err != nil {
		return channel.Channel{}, err
	}
	item, err := s.getItem(ctx, channelsPK(tenantID), channelSK(id))
	if err != nil {
		return channel.Channel{}, fmt.Errorf("store: get channel %s: %w", id, err)
	}
	if item == nil {
		return channel.Channel{}, fmt.Errorf("store: channel %s: %w", id, ErrNotFound)
	}
	return decodeChannel(item)
}

func channelsQuery(tenant string) *dynamodb.QueryInput {
	return &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :sk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#sk": AttrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(channelsPK(tenant)), ":sk": str(skChanPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}
}

// ListChannels returns all the tenant's channels, ordered by id (a tenant
// has few; the Dispatcher reads them for every event).
func (s *Store) ListChannels(ctx context.Context, tenantID string) ([]channel.Channel, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, err
	}
	items, err := s.queryAll(ctx, channelsQuery(tenantID))
	if err != nil {
		return nil, fmt.Errorf("store: list channels: %w", err)
	}
	return decodeChannels(items)
}

// ListChannelsPage lists one page of the tenant's channels, ordered by id.
func (s *Store) ListChannelsPage(ctx context.Context, tenantID string, p Page) ([]channel.Channel, string, error) {
	if err := checkTenant(tenantID); err != nil {
		return nil, "", err
	}
	items, next, err := s.queryPage(ctx, tenantID, channelsQuery(tenantID), channelsPK(tenantID), p)
	if err != nil {
		return nil, "", fmt.Errorf("store: list channels: %w", err)
	}
	chans, err := decodeChannels(items)
	return chans, next, err
}

func decodeChannels(items []map[string]types.AttributeValue) ([]channel.Channel, error) {
	out := make([]channel.Channel, 0, len(items))
	for _, it := range items {
		ch, err := decodeChannel(it)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// DeleteChannel deletes a channel. ErrNotFound if there is none.
func (s *Store) DeleteChannel(ctx context.Context, tenantID, id string, audit ...access.AuditEvent) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	if err := checkChannelID(id); err != nil {
		return err
	}
	tx, err := s.withAudit(tenantID, []types.TransactWriteItem{{Delete: &types.Delete{
		TableName:                aws.String(s.table),
		Key:                      keyOf(channelsPK(tenantID), channelSK(id)),
		ConditionExpression:      aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	}}}, audit)
	if err != nil {
		return err
	}
	err = s.transact(ctx, tx)
	switch {
	case err == nil:
		return nil
	case failedAt(err) == 0:
		return fmt.Errorf("store: channel %s: %w", id, ErrNotFound)
	default:
		return fmt.Errorf("store: delete channel %s: %w", id, err)
	}
}

// RecordDelivery records a delivery outcome on a channel: deliveryErr nil
// sets last_delivered_at = at; otherwise last_error (the message, at most
// 1000 characters) and last_error_at = at. The other pair is kept, so both
// the last failure and the last success stay visible (channel.Channel.Failing
// compares them). Version is not touched. Conditional on the channel
// existing (ErrNotFound: a delivery never re-creates a deleted channel).
// Concurrent deliveries: the last write wins.
func (s *Store) RecordDelivery(ctx context.Context, tenantID, channelID string, at time.Time, deliveryErr error) error {
	if err := checkTenant(tenantID); err != nil {
		return err
	}
	if err := checkChannelID(channelID); err != nil {
		return err
	}
	atAV, err := attributevalue.Marshal(at.UTC())
	if err != nil {
		return fmt.Errorf("store: record delivery: %w", err)
	}
	names := map[string]string{"#pk": AttrPK}
	vals := map[string]types.AttributeValue{":at": atAV}
	var expr string
	if deliveryErr == nil {
		names["#ok"] = chAttrLastDelivered
		expr = "SET #ok = :at"
	} else {
		names["#err"], names["#errat"] = chAttrLastError, chAttrLastErrorAt
		vals[":msg"] = str(truncate(deliveryErr.Error(), maxLastErrorLen))
		expr = "SET #err = :msg, #errat = :at"
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       keyOf(channelsPK(tenantID), channelSK(channelID)),
		UpdateExpression:          aws.String(expr),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: vals,
	})
	switch {
	case err == nil:
		return nil
	case failedAt(err) == 0:
		return fmt.Errorf("store: record delivery: channel %s: %w", channelID, ErrNotFound)
	default:
		return fmt.Errorf("store: record delivery on channel %s: %w", channelID, err)
	}
}

// truncate cuts s to at most max runes, marking the cut with "…".
func truncate(s string, max int) string {
	s = strings.ToValidUTF8(s, "?")
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}
