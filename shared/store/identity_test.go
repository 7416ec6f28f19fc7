package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

func TestIdentitySettings(t *testing.T) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	if _, err := s.GetIdentitySettings(ctx, "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset: %v", err)
	}
	v := store.IdentitySettings{TenantID: "acme", IssuerURL: "https://idp.example/acme", JWKSURL: "https://idp.example/acme/keys",
		Audience: "api", ExtraAudiences: []string{}, ClientID: "ui", Scopes: []string{"openid"}, GroupsClaim: "groups",
		AdminGroup: "admins", EmailClaim: "email", UpdatedAt: time.Now().UTC().Truncate(time.Millisecond), UpdatedBy: "root"}
	got, err := s.PutIdentitySettings(ctx, v, 0)
	if err != nil || got.Version != 1 {
		t.Fatalf("create: %+v %v", got, err)
	}
	if _, err := s.PutIdentitySettings(ctx, v, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create twice: %v", err)
	}
	back, err := s.GetIdentitySettings(ctx, "acme")
	if err != nil || !reflect.DeepEqual(back, got) {
		t.Fatalf("read back: %+v %v\nwant %+v", back, err, got)
	}
	v.AcceptDefaultIssuer = true
	if got, err = s.PutIdentitySettings(ctx, v, 1); err != nil || got.Version != 2 {
		t.Fatalf("update: %+v %v", got, err)
	}
	if _, err := s.PutIdentitySettings(ctx, v, 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
}
