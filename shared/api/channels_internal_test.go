package api

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// refusingSNS is the SNS edge refusing the second address it is given,
// as SNS answers an endpoint it will not take (InvalidParameter).
type refusingSNS struct{ subscribed, unsubscribed []string }

func (s *refusingSNS) SubscribeEmail(_ context.Context, _, address, _ string, _ []string) (string, error) {
	if len(s.subscribed) == 1 {
		return "", &smithy.GenericAPIError{Code: "InvalidParameter", Message: "Invalid parameter: Email address"}
	}
	s.subscribed = append(s.subscribed, address)
	return "arn:sub:" + address, nil
}
func (s *refusingSNS) SetFilter(context.Context, string, string, []string) error { return nil }
func (s *refusingSNS) Unsubscribe(_ context.Context, arn string) error {
	s.unsubscribed = append(s.unsubscribed, arn)
	return nil
}

// TestSubscribeRefusedAddress: an address SNS refuses is the caller's 400
// (not a 500), and the subscriptions made before it are undone.
func TestSubscribeRefusedAddress(t *testing.T) {
	sns := &refusingSNS{}
	d := Deps{Notify: NotifyDeps{Subscriptions: sns, TopicARN: "arn:topic"}}
	ch := notify.Channel{TenantID: "acme", Type: notify.TypeEmail, Addresses: []string{"a@example.com", "b@example.com"}}
	_, err := d.subscribe(context.Background(), ch, nil)
	var he *httpapi.Error
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
		t.Fatalf("refused address: %v", err)
	}
	if len(sns.unsubscribed) != 1 || sns.unsubscribed[0] != "arn:sub:a@example.com" {
		t.Fatalf("the first subscription was not undone: %v", sns.unsubscribed)
	}
}
