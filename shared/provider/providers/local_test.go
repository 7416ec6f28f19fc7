//go:build jitsudo_local

package providers_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
)

// TestFromEnvLocal: a binary built with -tags jitsudo_local (the local
// Lambda runs) selects the recording stand-in with PROVIDER=recording, and
// still refuses an unset PROVIDER.
func TestFromEnvLocal(t *testing.T) {
	st, _, _ := dynamotest.New(t)
	t.Setenv(providers.EnvProvider, providers.Recording)
	t.Setenv(providers.EnvPollBudget, "soon") // ignored by the stand-in
	p, err := providers.FromEnv(context.Background(), st, slog.New(slog.DiscardHandler))
	if _, ok := p.(*recording.Provider); err != nil || !ok {
		t.Fatalf("got %T, %v; want *recording.Provider", p, err)
	}
	t.Setenv(providers.EnvProvider, "")
	if p, err := providers.FromEnv(context.Background(), st, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatalf("unset PROVIDER gave %T", p)
	}
}
