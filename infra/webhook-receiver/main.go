// Command webhook-receiver is an example receiver for jitsudo's generic
// webhook channels: it verifies each delivery's signature (notify.Verify)
// and prints the event.
//
//	go run ./infra/webhook-receiver -addr 127.0.0.1:9099 -secret whsec_...
//
// (or JITSUDO_WEBHOOK_SECRET instead of -secret). A bad or missing
// signature, or a timestamp outside the tolerance, is answered 401. A
// delivery it has seen already (same X-Jitsudo-Delivery: deliveries are at
// least once) is acknowledged and not printed again.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// maxBody bounds a delivery (events are a few KB).
const maxBody = 1 << 20

func main() {
	addr := flag.String("addr", "127.0.0.1:9099", "listen address")
	secret := flag.String("secret", os.Getenv("JITSUDO_WEBHOOK_SECRET"), "the channel's signing secret (whsec_…); default $JITSUDO_WEBHOOK_SECRET")
	tolerance := flag.Duration("tolerance", notify.DefaultTolerance, "accepted clock difference / replay window")
	flag.Parse()
	if *secret == "" {
		log.Fatal("webhook-receiver: -secret (or JITSUDO_WEBHOOK_SECRET) is required")
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           newHandler(*secret, *tolerance, os.Stdout, time.Now),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
	}
	log.Printf("webhook-receiver: listening on http://%s", *addr)
	log.Fatal(srv.ListenAndServe())
}

// handler verifies and prints deliveries.
type handler struct {
	secret    string
	tolerance time.Duration
	now       func() time.Time
	mu        sync.Mutex
	out       io.Writer
	seen      map[string]bool
}

func newHandler(secret string, tolerance time.Duration, out io.Writer, now func() time.Time) *handler {
	return &handler{secret: secret, tolerance: tolerance, out: out, now: now, seen: map[string]bool{}}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	// Verify before anything else looks at the body.
	if err := notify.Verify(h.secret, r.Header, body, h.now(), h.tolerance); err != nil {
		msg := "invalid signature"
		if errors.Is(err, notify.ErrBadTimestamp) {
			msg = "timestamp outside the tolerance"
		}
		http.Error(w, msg, http.StatusUnauthorized)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	delivery := r.Header.Get(notify.HeaderDelivery)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[delivery] {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if len(h.seen) > 10000 { // an example: forget everything rather than grow
		h.seen = map[string]bool{}
	}
	h.seen[delivery] = true
	pretty, _ := json.MarshalIndent(ev, "", "  ")
	fmt.Fprintf(h.out, "%s %s tenant=%s id=%s\n%s\n", ev.OccurredAt.Format(time.RFC3339), ev.Type, ev.TenantID, ev.ID, pretty)
	w.WriteHeader(http.StatusNoContent)
}
