// Package dynamotest gives each test its own fresh table.
//
// By default the tables live in one embedded minidyn server per test process
// (dynamolocal), started on first use. Set JITSUDO_TEST_DYNAMODB_ENDPOINT to
// run against another endpoint instead — DynamoDB Local
// (http://localhost:8000) or real DynamoDB
// (https://dynamodb.us-east-1.amazonaws.com) — with the region from
// AWS_REGION (default us-east-1) and credentials from the standard chain.
package dynamotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// EnvEndpoint names the environment variable selecting an external endpoint.
const EnvEndpoint = "JITSUDO_TEST_DYNAMODB_ENDPOINT"

var (
	once     sync.Once
	endpoint string
	external bool
	client   *dynamodb.Client
)

func setup() {
	endpoint = os.Getenv(EnvEndpoint)
	external = endpoint != ""
	if !external {
		// Lives as long as the test process.
		endpoint, _ = dynamolocal.Start()

		client = dynamolocal.Client(endpoint)
		return
	}
	client = store.NewClient(wiring.AWSConfig(endpoint, "")) // region: AWS_REGION, else us-east-1
}

func shared(t testing.TB) *dynamodb.Client {
	t.Helper()
	once.Do(setup)
	return client
}

// Endpoint returns the DynamoDB endpoint the tests use.
func Endpoint(t testing.TB) string {
	shared(t)
	return endpoint
}

// New creates a fresh table (store.CreateTable) named after the test, and
// returns a Store on it, the client and the table name. The table is deleted
// when the test ends.
func New(t testing.TB) (*store.Store, *dynamodb.Client, string) {
	t.Helper()
	c := shared(t)
	table := TableName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := store.CreateTable(ctx, c, table); err != nil {
		t.Fatalf("dynamotest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
			t.Errorf("dynamotest: delete table %s: %v", table, err)
		}
	})
	if external {
		if err := waitActive(ctx, c, table); err != nil {
			t.Fatalf("dynamotest: table %s not active: %v", table, err)
		}
	}
	return store.New(c, table), c, table
}

// waitActive polls DescribeTable until the table is ACTIVE — or reports no
// status at all, as stand-ins such as minidyn do (DynamoDB and DynamoDB
// Local always report one).
func waitActive(ctx context.Context, c *dynamodb.Client, table string) error {
	for {
		out, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err == nil && out.Table != nil && (out.Table.TableStatus == types.TableStatusActive || out.Table.TableStatus == "") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last DescribeTable error: %v)", ctx.Err(), err)
		case <-time.After(time.Second):
		}
	}
}

// TableName turns a test name into a unique valid DynamoDB table name
// ([A-Za-z0-9_.-], 3..255 characters): "jt-" + sanitized name (at most 180
// characters) + "-" + 12 random hex digits.
func TableName(testName string) string {
	var b strings.Builder
	for _, r := range testName {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 180 {
			break
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return "jt-" + b.String() + "-" + hex.EncodeToString(rnd[:])
}
