package api

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/smithy-go"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// Notification channels (admin): /v1/notification-channels. Secrets — a
// webhook's URL and header values, its signing secret — are returned only
// in the answer that creates the channel; afterwards the channel is shown
// through notify.Channel.Public. Email channels are SNS email
// subscriptions (one per address, FilterPolicy on tenant_id and the
// channel's event types); SNS delivers them.

// NotifyDeps is what the channel routes need beyond the table.
type NotifyDeps struct {
	// Guard checks a webhook URL's host (DNS) when a channel is saved; its
	// Mode selects the URL rules: notify.ModeAWS (https only, no private
	// addresses) or notify.ModeLocal (also http to loopback).
	Guard notify.Guard
	// Subscriptions and TopicARN manage email channels (nil: email
	// channels are refused with 503).
	Subscriptions EmailSubscriptions
	TopicARN      string
	// Tester delivers the test event (POST …/{id}/test).
	Tester interface {
		DeliverTo(ctx context.Context, ch notify.Channel, ev events.Event) notify.ChannelResult
	}
}

// EmailSubscriptions manages the SNS email subscriptions of email channels
// (snspub.Subscriptions).
type EmailSubscriptions interface {
	SubscribeEmail(ctx context.Context, topicARN, address, tenantID string, eventTypes []string) (string, error)
	SetFilter(ctx context.Context, subscriptionARN, tenantID string, eventTypes []string) error
	Unsubscribe(ctx context.Context, subscriptionARN string) error
}

// channelView is a channel as returned: Public, plus the signing secret
// in the answer that creates it.
type channelView struct {
	notify.Channel
	SigningSecret string `json:"signing_secret,omitempty"`
	Failing       bool   `json:"failing"`
}

func viewChannel(ch notify.Channel) channelView {
	return channelView{Channel: ch.Public(), Failing: ch.Failing()}
}

func channelError(err error) error { return apiError(err, "notification channel") }

// checkHost runs the SSRF guard on a webhook channel's URL (DNS included).
func (d Deps) checkHost(ctx context.Context, ch notify.Channel) error {
	if ch.URL == "" {
		return nil
	}
	if err := d.Notify.Guard.CheckURL(ctx, ch.URL); err != nil {
		return httpapi.Invalid("invalid notification channel", httpapi.FieldError{Field: "config.url",
			Message: "the host is not allowed: " + strings.TrimPrefix(err.Error(), "notify: ")})
	}
	return nil
}

// subscribe creates the subscriptions of addresses missing from subs
// (address → ARN) and updates the filter of the others; on a failure it
// undoes what it created.
func (d Deps) subscribe(ctx context.Context, ch notify.Channel, subs map[string]string) (map[string]string, error) {
	if d.Notify.Subscriptions == nil {
		return nil, httpapi.Errorf(http.StatusServiceUnavailable, "email_unavailable", "email channels need the SNS topic, which this deployment does not configure")
	}
	out := map[string]string{}
	var created []string
	undo := func() {
		for _, arn := range created {
			_ = d.Notify.Subscriptions.Unsubscribe(ctx, arn)
		}
	}
	for _, addr := range ch.Addresses {
		if arn, ok := subs[addr]; ok {
			if err := d.Notify.Subscriptions.SetFilter(ctx, arn, ch.TenantID, ch.EventFilters); err != nil {
				undo()
				return nil, fmt.Errorf("update email subscription: %w", err)
			}
			out[addr] = arn
			continue
		}
		arn, err := d.Notify.Subscriptions.SubscribeEmail(ctx, d.Notify.TopicARN, addr, ch.TenantID, ch.EventFilters)
		if err != nil {
			undo()
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorCode() == "InvalidParameter" { // an address SNS will not take
				return nil, httpapi.Invalid("invalid notification channel", httpapi.FieldError{Field: "config.addresses", Message: "SNS refused " + addr + ": " + ae.ErrorMessage()})
			}
			return nil, fmt.Errorf("subscribe email address: %w", err)
		}
		created = append(created, arn)
		out[addr] = arn
	}
	return out, nil
}

// unsubscribe removes subscriptions, logging failures (the channel change
// is what the caller asked for; a leftover subscription still filters on
// a channel that no longer sends, and is listed in the log).
func (d Deps) unsubscribe(r *http.Request, arns []string) {
	for _, arn := range arns {
		if err := d.Notify.Subscriptions.Unsubscribe(r.Context(), arn); err != nil {
			httpapi.Logger(r.Context()).Error("unsubscribe failed", "subscription_arn", arn, "error", err.Error())
		}
	}
}

// channelEvent is the audit event of a channel change, written in the
// change's own transaction. Summaries never hold the URL, headers or
// signing secret.
func (d Deps) channelEvent(id auth.Identity, action string, before, after *notify.Channel) access.AuditEvent {
	sum := func(ch *notify.Channel) map[string]any {
		if ch == nil {
			return nil
		}
		return map[string]any{"name": ch.Name, "type": ch.Type, "enabled": ch.Enabled, "version": ch.Version, "event_filters": ch.EventFilters}
	}
	chID := ""
	if after != nil {
		chID = after.ID
	} else if before != nil {
		chID = before.ID
	}
	return d.privilegedEvent(id, id.TenantID, action, access.AuditResourceChannel, chID, sum(before), sum(after))
}

// adminChannel is the admin's identity and the channel {id} of the path.
func (d Deps) adminChannel(r *http.Request) (auth.Identity, notify.Channel, error) {
	id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
	if err != nil {
		return id, notify.Channel{}, err
	}
	ch, err := d.channelOf(r, id)
	return id, ch, err
}

// channelOf reads the caller's tenant's channel {id} of the path.
func (d Deps) channelOf(r *http.Request, id auth.Identity) (notify.Channel, error) {
	ch, err := d.Store.GetChannel(r.Context(), id.TenantID, r.PathValue("id"))
	if err != nil {
		return notify.Channel{}, channelError(err)
	}
	return ch, nil
}

// ListChannels serves GET /v1/notification-channels (admin).
func ListChannels(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		limit, cursor, err := httpapi.PageParams(r)
		if err != nil {
			return err
		}
		chs, next, err := d.Store.ListChannelsPage(r.Context(), id.TenantID, store.Page{Limit: limit, Cursor: cursor})
		if err != nil {
			return channelError(err)
		}
		views := make([]channelView, 0, len(chs))
		for _, ch := range chs {
			views = append(views, viewChannel(ch))
		}
		httpapi.WriteJSON(w, http.StatusOK, httpapi.NewList(views, next))
		return nil
	})
}

// GetChannel serves GET /v1/notification-channels/{id} (admin).
func GetChannel(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		_, ch, err := d.adminChannel(r)
		if err != nil {
			return err
		}
		w.Header().Set("ETag", strconv.FormatInt(ch.Version, 10))
		httpapi.WriteJSON(w, http.StatusOK, viewChannel(ch))
		return nil
	})
}

// CreateChannel serves POST /v1/notification-channels (admin). A generic
// webhook's signing secret is in this answer only.
func CreateChannel(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		var in notify.ChannelInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		now := d.now()
		ch, err := notify.NewChannel(d.Notify.Guard.Mode, id.TenantID, notify.NewChannelID(now), in, now)
		if err != nil {
			return channelError(err)
		}
		if err := d.checkHost(r.Context(), ch); err != nil {
			return err
		}
		if ch.Type == notify.TypeEmail {
			if ch.SubscriptionARNs, err = d.subscribe(r.Context(), ch, nil); err != nil {
				return err
			}
		}
		if err := d.Store.PutChannel(r.Context(), ch, true, 0, d.channelEvent(id, access.AuditChannelCreated, nil, &ch)); err != nil {
			if ch.Type == notify.TypeEmail {
				d.unsubscribe(r, slices.Collect(maps.Values(ch.SubscriptionARNs)))
			}
			return channelError(err)
		}
		httpapi.Logger(r.Context()).Info("notification channel created", "channel_id", ch.ID, "type", ch.Type)
		v := viewChannel(ch)
		v.SigningSecret = ch.SigningSecret
		w.Header().Set("Location", "/v1/notification-channels/"+ch.ID)
		httpapi.WriteJSON(w, http.StatusCreated, v)
		return nil
	})
}

// UpdateChannel serves PUT /v1/notification-channels/{id} (admin): fields
// left out keep their value (notify.ChannelInput); `If-Match: <version>`
// makes it conditional on the version read before (409 when it moved).
func UpdateChannel(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, err := httpapi.RequireTenant(r, auth.ScopeAdmin)
		if err != nil {
			return err
		}
		expect, err := ifMatch(r, "the channel's version")
		if err != nil {
			return err
		}
		var in notify.ChannelInput
		if err := httpapi.DecodeJSON(r, 0, &in); err != nil {
			return err
		}
		cur, err := d.channelOf(r, id)
		if err != nil {
			return err
		}
		if expect != 0 && expect != cur.Version {
			return httpapi.Errorf(http.StatusConflict, "conflict", "the channel is at version %d", cur.Version)
		}
		next, err := notify.UpdateChannel(d.Notify.Guard.Mode, cur, in, d.now())
		if err != nil {
			return channelError(err)
		}
		if next.URL != cur.URL {
			if err := d.checkHost(r.Context(), next); err != nil {
				return err
			}
		}
		var removed []string
		if next.Type == notify.TypeEmail {
			if next.SubscriptionARNs, err = d.subscribe(r.Context(), next, cur.SubscriptionARNs); err != nil {
				return err
			}
			for addr, arn := range cur.SubscriptionARNs {
				if _, kept := next.SubscriptionARNs[addr]; !kept {
					removed = append(removed, arn)
				}
			}
		}
		if err := d.Store.PutChannel(r.Context(), next, false, cur.Version, d.channelEvent(id, access.AuditChannelUpdated, &cur, &next)); err != nil {
			return channelError(err)
		}
		d.unsubscribe(r, removed)
		w.Header().Set("ETag", strconv.FormatInt(next.Version, 10))
		httpapi.WriteJSON(w, http.StatusOK, viewChannel(next))
		return nil
	})
}

// DeleteChannel serves DELETE /v1/notification-channels/{id} (admin).
func DeleteChannel(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, ch, err := d.adminChannel(r)
		if err != nil {
			return err
		}
		if err := d.Store.DeleteChannel(r.Context(), id.TenantID, ch.ID, d.channelEvent(id, access.AuditChannelDeleted, &ch, nil)); err != nil {
			return channelError(err)
		}
		if len(ch.SubscriptionARNs) > 0 && d.Notify.Subscriptions != nil {
			d.unsubscribe(r, slices.Collect(maps.Values(ch.SubscriptionARNs)))
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}

// testView is the outcome of a channel test.
type testView struct {
	Delivered  bool   `json:"delivered"`
	EventID    string `json:"event_id"`
	StatusCode int    `json:"status_code,omitempty"`
	Attempts   int    `json:"attempts"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// TestChannel serves POST /v1/notification-channels/{id}/test (admin):
// delivers a channel.test event to a Slack or webhook channel now and says
// what happened (also recorded on the channel). Email channels are
// delivered by SNS (422).
func TestChannel(d Deps) http.Handler {
	return httpapi.Wrap(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		id, ch, err := d.adminChannel(r)
		if err != nil {
			return err
		}
		if ch.Type == notify.TypeEmail {
			return httpapi.Errorf(http.StatusUnprocessableEntity, "not_testable",
				"email channels are delivered by SNS: each address receives a confirmation mail first and then the events its filter selects")
		}
		if d.Notify.Tester == nil {
			return fmt.Errorf("channel test: no dispatcher configured")
		}
		ev := notify.NewTestEvent(ch, events.Actor{ID: id.PrincipalID, Type: caller(id).Type}, d.now())
		// Audited before anything is sent: a test the log cannot record is
		// not sent.
		if err := d.Store.CommitAudit(r.Context(), id.TenantID, d.privilegedEvent(id, id.TenantID, access.AuditChannelTested,
			access.AuditResourceChannel, ch.ID, nil, map[string]any{"name": ch.Name, "type": ch.Type, "event_id": ev.ID})); err != nil {
			return apiError(err, named("notification channel", ch.ID))
		}
		res := d.Notify.Tester.DeliverTo(r.Context(), ch, ev)
		v := testView{Delivered: res.Err == nil, EventID: ev.ID, StatusCode: res.StatusCode, Attempts: res.Attempts, DurationMS: res.Duration.Milliseconds()}
		if res.Err != nil {
			v.Error = res.Err.Error()
		}
		httpapi.WriteJSON(w, http.StatusOK, v)
		return nil
	})
}
