package api

import (
	"fmt"
	"strconv"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// Environment variables of the abuse limits (docs/limits.md; template.yaml
// Globals, from parameters). Unset: access.DefaultLimits. 0 turns a limit
// off.
const (
	EnvRateLimitMessages   = "RATE_LIMIT_MESSAGES_PER_MINUTE"
	EnvRateLimitRequests   = "RATE_LIMIT_REQUESTS_PER_MINUTE"
	EnvRateLimitExtensions = "RATE_LIMIT_EXTENSIONS_PER_MINUTE"
	EnvMaxMessages         = "MAX_MESSAGES_PER_REQUEST"
)

// maxLimitSetting bounds a configured limit (a typo like 1e9 is refused,
// not silently "unlimited").
const maxLimitSetting = 1_000_000

// LimitsFromEnv reads the abuse limits over access.DefaultLimits (which sets
// the one-minute windows the variables' names promise); a value that is not
// an integer in 0..1000000 is an error (the function does not start).
func LimitsFromEnv() (access.Limits, error) {
	l := access.DefaultLimits()
	for _, v := range []struct {
		env string
		to  *int64
	}{
		{EnvRateLimitMessages, &l.Messages.Max},
		{EnvRateLimitRequests, &l.Requests.Max},
		{EnvRateLimitExtensions, &l.Extensions.Max},
		{EnvMaxMessages, &l.MaxMessagesPerRequest},
	} {
		raw := config.String(v.env)
		if raw == "" {
			continue
		}
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > maxLimitSetting {
			return access.Limits{}, fmt.Errorf("%s=%q: want an integer from 0 (off) to %d", v.env, raw, maxLimitSetting)
		}
		*v.to = n
	}
	return l, nil
}
