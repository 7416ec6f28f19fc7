package store

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/url"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// Environment variables read by FromEnv.
const (
	EnvTableName        = "TABLE_NAME"        // required
	EnvDynamoDBEndpoint = "DYNAMODB_ENDPOINT" // optional: DynamoDB Local or the embedded server
	EnvRegion           = "AWS_REGION"        // set by Lambda
	// EnvCursorSecret is the deployment's cursor secret (at least 32
	// bytes; template.yaml generates one in Secrets Manager and hands it
	// to every function). Required, unless DYNAMODB_ENDPOINT is a
	// loopback address (a local stack), where a fixed key derived from
	// the table name is used: local cursors are sealed, but not secret.
	EnvCursorSecret = "CURSOR_SECRET"
)

// FromEnv opens the store a Lambda function is configured for.
func FromEnv(ctx context.Context) (*Store, error) {
	table := config.String(EnvTableName)
	if table == "" {
		return nil, fmt.Errorf("store: %s is not set", EnvTableName)
	}
	endpoint := config.String(EnvDynamoDBEndpoint)
	client, err := NewClient(ctx, endpoint, config.Raw(EnvRegion))
	if err != nil {
		return nil, fmt.Errorf("store: dynamodb client: %w", err)
	}
	s := New(client, table)
	secret := []byte(config.Raw(EnvCursorSecret))
	if len(secret) == 0 {
		if !loopback(endpoint) {
			return nil, fmt.Errorf("store: %s is not set", EnvCursorSecret)
		}
		sum := sha256.Sum256([]byte("jitsudo-serverless local cursor secret\x00" + table))
		secret = sum[:]
	}
	if err := s.SetCursorSecret(secret); err != nil {
		return nil, fmt.Errorf("store: %s: %w", EnvCursorSecret, err)
	}
	return s, nil
}

// LocalFromEnv reports whether the environment configures a local stack:
// DYNAMODB_ENDPOINT is a loopback URL (the rule FromEnv applies to the
// cursor secret). Deployed functions never have one.
func LocalFromEnv() bool {
	return loopback(config.String(EnvDynamoDBEndpoint))
}

// loopback reports whether endpoint is a URL on a loopback host.
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
