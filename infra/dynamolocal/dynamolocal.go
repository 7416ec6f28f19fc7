// Package dynamolocal runs an in-process DynamoDB stand-in (minidyn's HTTP
// server, github.com/truora/minidyn/server) on 127.0.0.1, for tests and the
// local dev stack. The real aws-sdk-go-v2 DynamoDB client talks to it through
// BaseEndpoint (Client).
//
// minidyn has no TTL API, no ListTables and reports an empty TableStatus;
// code must not depend on those. Its data lives in memory and is gone when
// stop is called.
package dynamolocal

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/truora/minidyn/server"

	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// Start starts a fresh, empty server and returns its endpoint
// (http://127.0.0.1:<port>) and a function that stops it.
func Start() (endpoint string, stop func()) {
	srv := httptest.NewServer(Handler())
	return srv.URL, srv.Close
}

// Client is a client for a local DynamoDB-API stand-in (this server,
// DynamoDB Local) with static dummy credentials: it never consults the AWS
// credential chain, so nothing probes EC2 metadata.
func Client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     wiring.LocalCredentials,
		DisableValidateResponseChecksum: true,
	})
}

// Handler returns a fresh minidyn server as an http.Handler.
//
// minidyn v0.8.2 guards item operations with its own mutex, but
// CreateTable, UpdateTable, DeleteTable and DescribeTable touch its table
// map without it (and TransactGetItems reads it unguarded), so a table
// created or dropped while another request runs is a data race (and can
// crash the process with "concurrent map writes"). Tests create and drop a
// table per test, in parallel, so the handler serializes: table operations
// take a write lock, everything else a read lock (item operations still
// serialize among themselves on minidyn's mutex).
func Handler() http.Handler {
	h := server.NewServer()
	var mu sync.RWMutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.Header.Get("X-Amz-Target")
		op := target[strings.LastIndexByte(target, '.')+1:]
		switch op {
		case "CreateTable", "UpdateTable", "DeleteTable", "DescribeTable":
			mu.Lock()
			defer mu.Unlock()
		default:
			mu.RLock()
			defer mu.RUnlock()
		}
		h.ServeHTTP(w, r)
	})
}
