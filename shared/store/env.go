package store

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// Environment variables read by FromEnv.
const (
	EnvTableName        = "TABLE_NAME"        // required
	EnvDynamoDBEndpoint = "DYNAMODB_ENDPOINT" // optional: DynamoDB Local or the embedded server
	EnvRegion           = "AWS_REGION"        // set by Lambda
)

// FromEnv opens the store a Lambda function is configured for.
func FromEnv(ctx context.Context) (*Store, error) {
	table := strings.TrimSpace(os.Getenv(EnvTableName))
	if table == "" {
		return nil, fmt.Errorf("store: %s is not set", EnvTableName)
	}
	client, err := NewClient(ctx, strings.TrimSpace(os.Getenv(EnvDynamoDBEndpoint)), os.Getenv(EnvRegion))
	if err != nil {
		return nil, fmt.Errorf("store: dynamodb client: %w", err)
	}
	return New(client, table), nil
}
