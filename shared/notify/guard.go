package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Resolver resolves host names; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Guard keeps deliveries away from internal networks (SSRF): the
// metadata service, the VPC, localhost. It checks a URL when a channel is
// created or changed (CheckURL) and again before each delivery, and its
// Client re-checks the address every connection actually goes to, so a
// name that resolved to a public address at check time and to a private
// one at dial time (DNS rebinding) is still refused.
//
// The zero value is usable: ModeAWS, net.DefaultResolver.
type Guard struct {
	Mode     Mode
	Resolver Resolver
}

func (g Guard) resolver() Resolver {
	if g.Resolver != nil {
		return g.Resolver
	}
	return net.DefaultResolver
}

// CheckURL refuses (ErrBlocked) a URL that parseTarget refuses, or whose
// host resolves to no address or to any address CheckAddr refuses.
// Resolver failures are returned wrapped, not as ErrBlocked.
func (g Guard) CheckURL(ctx context.Context, raw string) error {
	t, err := parseTarget(g.Mode, raw)
	if err != nil {
		return err
	}
	switch {
	case t.ip.IsValid():
		return g.CheckAddr(t.ip)
	case t.loopName: // parseTarget allowed it: local mode
		return nil
	}
	_, err = g.resolve(ctx, t.host)
	return err
}

// resolve looks host up and returns its addresses, or ErrBlocked if there
// are none or any of them is refused (all must pass: the dialer may pick
// any).
func (g Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := g.resolver().LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("notify: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, blocked("%s resolves to no address", host)
	}
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return nil, blocked("%s resolves to an invalid address", host)
		}
		if err := g.CheckAddr(ip); err != nil {
			return nil, fmt.Errorf("%s: %w", host, err)
		}
		out = append(out, ip.Unmap())
	}
	return out, nil
}

// Special-purpose ranges refused besides what netip classifies (private,
// loopback, link-local, multicast, unspecified).
var refusedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network" (0.x reaches the host itself on Linux)
	netip.MustParsePrefix("100.64.0.0/10"),   // CGNAT shared address space
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use IPv4/IPv6 translation
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64: IPv4 in the last 32 bits
	sixTo4  = netip.MustParsePrefix("2002::/16")    // 6to4: IPv4 in bits 16..47
	errAddr = errors.New("not a public address")
)

// CheckAddr refuses (ErrBlocked) every address that is not public unicast:
// private (RFC 1918, fc00::/7), loopback, link-local (169.254.0.0/16 —
// the metadata service —, fe80::/10), unspecified, multicast, CGNAT,
// documentation and reserved ranges, and IPv4 addresses embedded in IPv6
// (IPv4-mapped, NAT64, 6to4) that are any of those. In local mode loopback
// is allowed.
func (g Guard) CheckAddr(ip netip.Addr) error {
	if err := checkAddr(g.Mode, ip); err != nil {
		return blocked("%s is %v", ip, err)
	}
	return nil
}

func checkAddr(mode Mode, ip netip.Addr) error {
	if !ip.IsValid() {
		return errAddr
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		if nat64.Contains(ip) || sixTo4.Contains(ip) {
			b := ip.As16()
			v4 := netip.AddrFrom4([4]byte(b[12:16]))
			if sixTo4.Contains(ip) {
				v4 = netip.AddrFrom4([4]byte(b[2:6]))
			}
			return checkAddr(mode, v4)
		}
	}
	if mode.local() && ip.IsLoopback() {
		return nil
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return errAddr
	}
	for _, p := range refusedPrefixes {
		if p.Contains(ip) {
			return errAddr
		}
	}
	return nil
}

// dialTimeout bounds connection setup; the delivery's per-attempt context
// bounds everything.
const dialTimeout = 5 * time.Second

// DialContext dials address (host:port) like net.Dialer, but resolves the
// host with the Guard's Resolver, refuses the dial if any resolved address
// is refused, and checks the address each socket connects to once more in
// the dialer's Control hook (the last word: it sees the literal address
// the kernel is asked to connect to).
func (g Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("notify: dial %s: %w", address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("notify: dial %s: bad port", address)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		if err := g.CheckAddr(ip); err != nil {
			return nil, err
		}
		ips = []netip.Addr{ip.WithZone("")}
	} else {
		h := strings.ToLower(strings.TrimSuffix(host, "."))
		if _, loose := parseIPv4Loose(h); loose {
			return nil, blocked("host %q is an address in a non-standard form", host)
		}
		if !g.Mode.local() && (h == "localhost" || strings.HasSuffix(h, ".localhost")) {
			return nil, blocked("host %q is loopback", host)
		}
		if ips, err = g.resolve(ctx, host); err != nil {
			return nil, err
		}
	}
	d := net.Dialer{Timeout: dialTimeout, Control: g.control}
	var errs []error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// control is the net.Dialer Control hook: address is the literal ip:port
// about to be connected to.
func (g Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return blocked("cannot check dial address %q", address)
	}
	return g.CheckAddr(ap.Addr())
}

// Client is an HTTP client whose every connection goes through
// DialContext. It uses no proxy (a proxy would be the only address the
// dialer could check) and follows no redirects (a redirect is the
// endpoint's answer, reported as a failed delivery: a 3xx could point
// anywhere). TLS 1.2 or newer.
func (g Guard) Client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           g.DialContext,
			ForceAttemptHTTP2:     true,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   dialTimeout,
			MaxIdleConns:          32,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       60 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
