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

// TestIdentitySettingsListsAreSets: extra audiences and scopes are stored
// as string sets, which DynamoDB refuses with a repeated value: repeats
// collapse, and the write answers the lists as a read returns them.
func TestIdentitySettingsListsAreSets(t *testing.T) {
	ctx := context.Background()
	s, _, _ := dynamotest.New(t)
	v := store.IdentitySettings{TenantID: "acme", IssuerURL: "https://idp.example/acme", JWKSURL: "https://idp.example/acme/keys",
		Audience: "api", ExtraAudiences: []string{"b", "a", "b"}, ClientID: "ui", Scopes: []string{"profile", "openid", "email", "openid"},
		UpdatedAt: time.Now().UTC().Truncate(time.Millisecond), UpdatedBy: "root"}
	got, err := s.PutIdentitySettings(ctx, v, 0)
	if err != nil {
		t.Fatalf("put: %v", err)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(got.ExtraAudiences, want) {
		t.Fatalf("extra audiences %q, want %q", got.ExtraAudiences, want)
	}
	if want := []string{"openid", "email", "profile"}; !reflect.DeepEqual(got.Scopes, want) {
		t.Fatalf("scopes %q, want %q", got.Scopes, want)
	}
	back, err := s.GetIdentitySettings(ctx, "acme")
	if err != nil || !reflect.DeepEqual(back, got) {
		t.Fatalf("read back: %+v %v\nwant %+v", back, err, got)
	}
}
