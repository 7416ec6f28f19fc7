// Command serialproxy forwards HTTP requests to one upstream, one request
// at a time: requests still interleave, but each runs alone, as DynamoDB
// executes every request atomically.
//
// It exists for moto: moto's DynamoDB is an independent engine (the second
// one `make test` runs the DynamoDB suites on), but its TransactWriteItems is
// not atomic under concurrent requests — 16 threads racing a conditional
// transaction produced more than one winner in 2 of 40 rounds — so
// concurrency tests would fail for moto's sake, not ours. Behind this proxy
// every request is atomic, exactly what DynamoDB promises, and the
// concurrency tests prove our conditions rather than moto's locking.
//
//	serialproxy -listen 127.0.0.1:0 -upstream http://127.0.0.1:5000 [-addr-file F]
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := flag.String("upstream", "", "base URL of the server to forward to")
	addrFile := flag.String("addr-file", "", "write the listening address to this file once listening")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil || u.Host == "" {
		log.Fatalf("serialproxy: -upstream %q is not a URL", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("serialproxy: %v", err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			log.Fatalf("serialproxy: %v", err)
		}
	}
	fmt.Fprintf(os.Stderr, "serialproxy: %s -> %s\n", ln.Addr(), u)
	log.Fatal(http.Serve(ln, Serial(httputil.NewSingleHostReverseProxy(u))))
}

// Serial runs next for one request at a time.
func Serial(next http.Handler) http.Handler {
	var mu sync.Mutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		next.ServeHTTP(w, r)
	})
}
