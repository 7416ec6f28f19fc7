package api_test

import (
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/api"
)

// Unset: the defaults; set: the value, 0 turning a limit off; anything
// else stops the function rather than lifting the limit.
func TestLimitsFromEnv(t *testing.T) {
	l, err := api.LimitsFromEnv()
	if err != nil || l != access.DefaultLimits() {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	t.Setenv(api.EnvRateLimitMessages, "5")
	t.Setenv(api.EnvMaxMessages, "0")
	l, err = api.LimitsFromEnv()
	if err != nil || l.Messages != (access.Rate{Max: 5, Window: time.Minute}) || l.MaxMessagesPerRequest != 0 || l.Requests.Max != access.DefaultRequestsPerMinute {
		t.Fatalf("configured: %+v %v", l, err)
	}
	for _, bad := range []string{"-1", "ten", "1e3", "1000001", "5.5"} {
		t.Setenv(api.EnvRateLimitRequests, bad)
		if _, err := api.LimitsFromEnv(); err == nil {
			t.Errorf("%s=%q accepted", api.EnvRateLimitRequests, bad)
		}
	}
}
