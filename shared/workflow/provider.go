package workflow

import (
	"fmt"
	"os"
	"strings"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// ProviderFromEnv returns the provider PROVIDER selects: "recording" (the
// default; the local stand-in recording assignments in the table).
func ProviderFromEnv(s *store.Store) (access.Provider, error) {
	switch p := strings.TrimSpace(os.Getenv(EnvProvider)); p {
	case "", "recording":
		return recording.New(s), nil
	default:
		return nil, fmt.Errorf("workflow: %s=%q is not supported (want recording)", EnvProvider, p)
	}
}
