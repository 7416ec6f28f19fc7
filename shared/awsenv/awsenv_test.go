package awsenv

import (
	"context"
	"errors"
	"testing"
)

func TestConfigFromEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "token")
	cfg := Config("")
	if cfg.Region != "eu-west-1" {
		t.Fatalf("region %q", cfg.Region)
	}
	c, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || c.AccessKeyID != "AKIDEXAMPLE" || c.SecretAccessKey != "secret" || c.SessionToken != "token" {
		t.Fatalf("credentials %+v, %v", c, err)
	}
	if Config("ap-south-1").Region != "ap-south-1" {
		t.Fatal("explicit region ignored")
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	cfg := Config("")
	if cfg.Region != DefaultRegion {
		t.Fatalf("region %q", cfg.Region)
	}
	if _, err := cfg.Credentials.Retrieve(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("want ErrNoCredentials, got %v", err)
	}
	if HasCredentials() {
		t.Fatal("HasCredentials with none set")
	}
}
