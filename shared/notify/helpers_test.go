package notify_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func boolp(b bool) *bool { return &b }

// fakeResolver answers from a table: each host maps to a sequence of
// answers, one per lookup (the last repeats), so a test can make a name
// change its address between the check and the dial (DNS rebinding).
type fakeResolver struct {
	mu    sync.Mutex
	hosts map[string][][]string
	calls map[string]int
}

func resolver(hosts map[string][][]string) *fakeResolver {
	return &fakeResolver{hosts: hosts, calls: map[string]int{}}
}

func (r *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	answers, ok := r.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	n := r.calls[host]
	r.calls[host]++
	if n >= len(answers) {
		n = len(answers) - 1
	}
	var out []net.IPAddr
	for _, a := range answers[n] {
		out = append(out, net.IPAddr{IP: net.IP(netip.MustParseAddr(a).AsSlice())})
	}
	return out, nil
}

// newStore is the real store on a fresh table, with tenants created.
func newStore(t *testing.T, tenants ...string) *store.Store {
	t.Helper()
	s, _, _ := dynamotest.New(t)
	for _, id := range tenants {
		h := sha256.Sum256([]byte(id))
		err := s.CreateTenant(t.Context(), store.Tenant{ID: id, Name: id, CreatedAt: t0}, store.APIKey{
			ID: "key_" + id, Name: "first", Hash: hex.EncodeToString(h[:]), Prefix: "jsk_x",
			Scopes: []string{"admin"}, CreatedBy: "test", CreatedAt: t0,
		})
		if err != nil {
			t.Fatalf("CreateTenant(%s): %v", id, err)
		}
	}
	return s
}

func mustf(t *testing.T, err error, format string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
