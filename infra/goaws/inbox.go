package goaws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Notification is an SNS HTTP(S) delivery: the JSON document SNS (and
// goaws) POSTs to an endpoint, and the SNS envelope of a non-raw SQS
// delivery.
type Notification struct {
	Type              string
	MessageID         string `json:"MessageId"`
	TopicARN          string `json:"TopicArn"`
	Subject           string
	Message           string
	Timestamp         string
	Token             string
	SubscribeURL      string
	UnsubscribeURL    string
	MessageAttributes map[string]struct {
		Type  string
		Value string
	}
	// SubscriptionARN is the x-amz-sns-subscription-arn header (HTTP
	// deliveries only).
	SubscriptionARN string `json:"-"`
}

// Attr is the value of message attribute name ("" if absent).
func (n Notification) Attr(name string) string { return n.MessageAttributes[name].Value }

// Inbox is an HTTP endpoint for SNS subscriptions, for tests and local
// development: it confirms subscriptions the way a real subscriber must
// (GET SubscribeURL) and keeps the notifications it receives.
type Inbox struct {
	mu            sync.Mutex
	notifications []Notification
	confirmed     []string // SubscribeURLs visited
	errs          []error
	changed       chan struct{} // closed and replaced on every change
}

// NewInbox returns an empty Inbox; serve it with httptest.NewServer.
func NewInbox() *Inbox { return &Inbox{changed: make(chan struct{})} }

func (in *Inbox) note(f func()) {
	in.mu.Lock()
	defer in.mu.Unlock()
	f()
	close(in.changed)
	in.changed = make(chan struct{})
}

// ServeHTTP takes one delivery.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		in.note(func() { in.errs = append(in.errs, fmt.Errorf("goaws inbox: undecodable delivery %q: %w", body, err)) })
		http.Error(w, "not an SNS message", http.StatusBadRequest)
		return
	}
	n.SubscriptionARN = r.Header.Get("x-amz-sns-subscription-arn")
	switch n.Type {
	case "SubscriptionConfirmation":
		err := Confirm(r.Context(), n.SubscribeURL)
		in.note(func() {
			if err != nil {
				in.errs = append(in.errs, err)
				return
			}
			in.confirmed = append(in.confirmed, n.SubscribeURL)
		})
	case "Notification":
		in.note(func() { in.notifications = append(in.notifications, n) })
	default:
		in.note(func() { in.errs = append(in.errs, fmt.Errorf("goaws inbox: unexpected message type %q", n.Type)) })
	}
	w.WriteHeader(http.StatusOK)
}

// Confirm confirms a subscription the way a subscriber must: GET its
// SubscribeURL.
func Confirm(ctx context.Context, subscribeURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, subscribeURL, nil)
	if err != nil {
		return fmt.Errorf("goaws inbox: SubscribeURL %q: %w", subscribeURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("goaws inbox: confirm subscription: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("goaws inbox: confirm subscription: %s", resp.Status)
	}
	return nil
}

// Notifications are the notifications received so far, in arrival order.
func (in *Inbox) Notifications() []Notification {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Notification(nil), in.notifications...)
}

// Confirmed counts the subscriptions confirmed.
func (in *Inbox) Confirmed() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.confirmed)
}

// Errors are the deliveries the inbox could not take (and failed
// confirmations).
func (in *Inbox) Errors() []error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]error(nil), in.errs...)
}

// Wait waits until cond holds for the notifications received, or ctx
// ends; it returns the notifications it last saw.
func (in *Inbox) Wait(ctx context.Context, cond func([]Notification) bool) ([]Notification, error) {
	for {
		in.mu.Lock()
		ns := append([]Notification(nil), in.notifications...)
		ch := in.changed
		in.mu.Unlock()
		if cond(ns) {
			return ns, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ns, fmt.Errorf("goaws inbox: %d notifications, condition not met: %w", len(ns), ctx.Err())
		}
	}
}

// WaitN waits for at least n notifications.
func (in *Inbox) WaitN(ctx context.Context, n int) ([]Notification, error) {
	return in.Wait(ctx, func(ns []Notification) bool { return len(ns) >= n })
}
