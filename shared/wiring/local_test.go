//go:build jitsudo_local

package wiring

import (
	"context"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	recordingProvider "github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
)

// TestProviderLocal: a binary built with -tags jitsudo_local (the local
// Lambda runs) selects the recording stand-in with PROVIDER=recording, and
// still refuses an unset PROVIDER.
func TestProviderLocal(t *testing.T) {
	localStack(t)
	st, err := Store(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a := collect([]Option{WithProvider(providers.IdentityCenter)})
	t.Setenv("PROVIDER", "recording")
	t.Setenv("PROVIDER_POLL_BUDGET", "soon") // ignored by the stand-in
	p, err := provider(st, quiet, a)
	if _, ok := p.(*recordingProvider.Provider); err != nil || !ok {
		t.Fatalf("got %T, %v; want *recording.Provider", p, err)
	}
	t.Setenv("PROVIDER", "")
	if p, err := provider(st, quiet, a); err == nil {
		t.Fatalf("unset PROVIDER gave %T", p)
	}
}
