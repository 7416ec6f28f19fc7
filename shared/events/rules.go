package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// RuleGetter reads one stored rule; *store.Store implements it.
type RuleGetter interface {
	GetRule(ctx context.Context, tenantID, id string) (store.RuleRecord, error)
}

// RuleChannels implements Rules over the stored rules: the
// notification_channel of each rule, in rule order, without duplicates.
// Rules deleted since they decided (store.ErrNotFound) and rules without a
// channel are skipped.
type RuleChannels struct {
	Rules RuleGetter
}

// NotificationChannels implements Rules.
func (rc RuleChannels) NotificationChannels(ctx context.Context, tenantID string, ruleIDs []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, id := range ruleIDs {
		r, err := rc.Rules.GetRule(ctx, tenantID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("events: rule %s: %w", id, err)
		}
		if ch := r.NotificationChannel; ch != "" && !seen[ch] {
			seen[ch] = true
			out = append(out, ch)
		}
	}
	return out, nil
}
