// Command dynamodb-local serves the embedded DynamoDB stand-in (minidyn,
// shared/store/dynamolocal) on a fixed address until interrupted, so test
// suites can be pointed at it as an external endpoint:
//
//	go run ./infra/dynamodb-local -addr 127.0.0.1:8000 &
//	JITSUDO_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:8000 go test ./shared/store/... ./shared/access/...
//
// `make test` does exactly this, so the external-endpoint path of the test
// suites (the one DynamoDB Local or real DynamoDB would take) runs in CI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/store/dynamolocal"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "listen address")
	flag.Parse()
	srv := &http.Server{Addr: *addr, Handler: dynamolocal.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(os.Stderr, "dynamodb-local: serving on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "dynamodb-local:", err)
		os.Exit(1)
	}
}
