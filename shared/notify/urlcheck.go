package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLen bounds a channel URL.
const MaxURLLen = 2048

// Mode selects how strict destination checks are. The zero value is
// ModeAWS, the strict one: anything but ModeLocal is treated as ModeAWS.
type Mode string

const (
	// ModeAWS: https only; no IP-literal hosts, no localhost; names must
	// resolve to public addresses only; Slack URLs must be
	// https://hooks.slack.com/….
	ModeAWS Mode = "aws"
	// ModeLocal (the dev stack, tests): additionally allows loopback
	// destinations — localhost, 127.0.0.0/8, ::1 — over http or https, and
	// Slack URLs on any allowed host (a local Slack stand-in). Every other
	// non-public address stays refused.
	ModeLocal Mode = "local"
)

func (m Mode) local() bool { return m == ModeLocal }

// ErrBlocked wraps every refusal of a destination (bad URL form, scheme,
// host, or address).
var ErrBlocked = errors.New("notify: destination not allowed")

func blocked(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBlocked, fmt.Sprintf(format, args...))
}

// target is a syntactically checked destination URL.
type target struct {
	u        *url.URL
	host     string     // lowercase, no trailing dot, no brackets
	ip       netip.Addr // valid when the host is an IP literal (any form)
	loopName bool       // "localhost" or "*.localhost"
}

// parseTarget checks the form of raw, the rules that need no DNS:
// http(s) with a host, no userinfo, no fragment, at most MaxURLLen; a host
// that is an IP literal (every inet_aton form counts: "2130706433",
// "0x7f.1", "0177.0.0.1") or an LDH host name; https unless mode is Local
// and the host is loopback; in AWS mode no IP literal and no localhost.
func parseTarget(mode Mode, raw string) (target, error) {
	if raw == "" {
		return target{}, blocked("URL is empty")
	}
	if len(raw) > MaxURLLen {
		return target{}, blocked("URL is longer than %d characters", MaxURLLen)
	}
	if strings.ContainsAny(raw, "#\\") {
		return target{}, blocked("URL must not contain '#' or '\\'")
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return target{}, blocked("URL must not contain spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, blocked("URL does not parse")
	}
	if u.Opaque != "" || u.Host == "" {
		return target{}, blocked("URL must be absolute, with a host")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return target{}, blocked("URL scheme must be https")
	}
	if u.User != nil {
		return target{}, blocked("URL must not contain user info")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return target{}, blocked("URL port must be 1..65535")
		}
	}
	t := target{u: u}
	host := u.Hostname()
	switch {
	case strings.Contains(host, ":"): // IPv6 literal (url.Parse requires brackets)
		ip, err := netip.ParseAddr(host)
		if err != nil || ip.Zone() != "" {
			return target{}, blocked("URL host is not a valid IPv6 address (zones are not allowed)")
		}
		t.ip, t.host = ip, ip.String()
	default:
		h := strings.ToLower(strings.TrimSuffix(host, "."))
		if ip, ok := parseIPv4Loose(h); ok {
			t.ip, t.host = ip, ip.String()
			break
		}
		if !validHostname(h) {
			return target{}, blocked("URL host %q is not a valid host name", host)
		}
		t.host = h
		t.loopName = h == "localhost" || strings.HasSuffix(h, ".localhost")
	}
	loopback := t.loopName || (t.ip.IsValid() && t.ip.Unmap().IsLoopback())
	if scheme == "http" && !(mode.local() && loopback) {
		return target{}, blocked("URL scheme must be https (http only to loopback in local mode)")
	}
	switch {
	case mode.local() && loopback:
	case t.ip.IsValid():
		return target{}, blocked("URL host must be a DNS name, not an IP address")
	case t.loopName:
		return target{}, blocked("URL host must not be localhost")
	}
	return t, nil
}

// parseIPv4Loose parses every IPv4 form inet_aton(3) accepts — what a
// libc resolver turns into an address without DNS: 1 to 4 dot-separated
// parts, each decimal, octal (leading 0) or hex (0x), the last part
// filling the remaining bytes ("127.1", "2130706433", "0x7f000001").
func parseIPv4Loose(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base, digits := 10, p
		switch {
		case len(p) > 1 && (p[:2] == "0x" || p[:2] == "0X"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" && base != 16 {
			return netip.Addr{}, false
		}
		if digits == "" { // "0x" alone is 0 to inet_aton
			digits = "0"
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// validHostname: 1..253 characters of LDH labels (letters, digits,
// hyphens; 1..63 each, no leading or trailing hyphen), the last label not
// all digits (no TLD is, and resolvers may read such names as addresses).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}
