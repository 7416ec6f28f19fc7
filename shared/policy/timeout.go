package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultApprovalTimeout is the approval timeout of a `require` rule that
// does not set approval_timeout: 4 hours.
const DefaultApprovalTimeout = 4 * time.Hour

// Bounds on approval_timeout accepted by Normalize.
const (
	MinApprovalTimeout = time.Minute
	MaxApprovalTimeout = 30 * 24 * time.Hour
)

const day = 24 * time.Hour

var timeoutUnits = []struct {
	suffix byte
	d      time.Duration
}{{'d', day}, {'h', time.Hour}, {'m', time.Minute}, {'s', time.Second}}

// ParseTimeout parses an approval timeout: a sequence of integer+unit
// components with units d (24h), h, m, s in that order, each at most once,
// e.g. "30m", "4h", "1d", "1h30m", "1d12h". No signs, no fractions, no
// spaces; the result must be positive.
func ParseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty timeout")
	}
	if len(s) > 32 {
		return 0, errors.New("timeout too long")
	}
	var total time.Duration
	next := 0 // index into timeoutUnits of the smallest unit still allowed
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("invalid timeout %q: want e.g. 30m, 4h, 1d, 1h30m", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > 1_000_000 {
			return 0, fmt.Errorf("invalid timeout %q: number out of range", s)
		}
		u := rest[i]
		found := false
		for j := next; j < len(timeoutUnits); j++ {
			if timeoutUnits[j].suffix == u {
				total += time.Duration(n) * timeoutUnits[j].d
				next = j + 1
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("invalid timeout %q: units are d, h, m, s, each once, largest first", s)
		}
		rest = rest[i+1:]
	}
	if total <= 0 {
		return 0, fmt.Errorf("invalid timeout %q: must be positive", s)
	}
	return total, nil
}

// FormatTimeout is the canonical spelling of a timeout: largest units first,
// zero components omitted ("1d", "4h", "1h30m", "90s"). Sub-second parts are
// truncated; a non-positive duration formats as "0s".
func FormatTimeout(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	var b strings.Builder
	for _, u := range timeoutUnits {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteByte(u.suffix)
			d -= n * u.d
		}
	}
	return b.String()
}
