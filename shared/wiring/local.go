//go:build jitsudo_local

package wiring

import (
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	recordingProvider "github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// The local Lambda runs (infra/invoke, make invoke) build with
// -tags jitsudo_local, and only they can select PROVIDER=recording.
func init() {
	recording = func(s *store.Store) access.Provider { return recordingProvider.New(s) }
}
