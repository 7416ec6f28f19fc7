package notify_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// dns is the fake DNS of the guard tests.
func dns() *fakeResolver {
	return resolver(map[string][][]string{
		"public.example":     {{"93.184.215.14"}},
		"public6.example":    {{"2606:2800:21f:cb07:6820:80da:af6b:8b2c"}},
		"hooks.slack.com":    {{"34.237.1.1"}},
		"internal.example":   {{"10.0.0.5"}},
		"mixed.example":      {{"93.184.215.14", "10.0.0.5"}},
		"metadata.example":   {{"169.254.169.254"}},
		"cgnat.example":      {{"100.64.1.1"}},
		"ula.example":        {{"fd00::1"}},
		"linklocal6.example": {{"fe80::1"}},
		"mapped.example":     {{"::ffff:10.0.0.5"}},
		"nat64.example":      {{"64:ff9b::a9fe:a9fe"}}, // 169.254.169.254 through NAT64
		"sixto4.example":     {{"2002:7f00:1::1"}},     // 127.0.0.1 through 6to4
		"zero.example":       {{"0.0.0.0"}},
		"multicast.example":  {{"224.0.0.1"}},
		"bcast.example":      {{"255.255.255.255"}},
		"loop.example":       {{"127.0.0.1"}},
		"empty.example":      {{}},
	})
}

func TestGuardCheckURL(t *testing.T) {
	t.Parallel()
	long := "https://public.example/" + strings.Repeat("a", notify.MaxURLLen)
	cases := []struct {
		mode notify.Mode
		url  string
		ok   bool
	}{
		{notify.ModeAWS, "https://public.example/hook", true},
		{notify.ModeAWS, "https://public6.example/hook", true},
		{notify.ModeAWS, "https://PUBLIC.example./hook?x=1", true},
		{notify.ModeAWS, "https://public.example:8443/hook", true},

		// The metadata service, in every spelling.
		{notify.ModeAWS, "http://169.254.169.254/latest/meta-data", false},
		{notify.ModeAWS, "https://169.254.169.254/latest/meta-data", false},
		{notify.ModeAWS, "https://[::ffff:169.254.169.254]/latest/meta-data", false},
		{notify.ModeAWS, "https://[::ffff:a9fe:a9fe]/", false},
		{notify.ModeAWS, "https://metadata.example/latest/meta-data", false},
		{notify.ModeAWS, "https://nat64.example/", false},
		// Loopback, in every spelling.
		{notify.ModeAWS, "http://[::ffff:127.0.0.1]", false},
		{notify.ModeAWS, "https://[::ffff:127.0.0.1]/", false},
		{notify.ModeAWS, "https://[::1]/", false},
		{notify.ModeAWS, "https://127.0.0.1/", false},
		{notify.ModeAWS, "http://2130706433/", false},
		{notify.ModeAWS, "https://2130706433/", false},
		{notify.ModeAWS, "https://0x7f000001/", false},
		{notify.ModeAWS, "https://0x7f.1/", false},
		{notify.ModeAWS, "https://0177.0.0.1/", false},
		{notify.ModeAWS, "https://127.1/", false},
		{notify.ModeAWS, "https://localhost/", false},
		{notify.ModeAWS, "https://LOCALHOST./", false},
		{notify.ModeAWS, "https://api.localhost/", false},
		{notify.ModeAWS, "https://sixto4.example/", false},
		{notify.ModeAWS, "https://loop.example/", false},
		// Private and other non-public addresses behind names.
		{notify.ModeAWS, "https://internal.example/", false},
		{notify.ModeAWS, "https://mixed.example/", false}, // any bad address refuses the name
		{notify.ModeAWS, "https://cgnat.example/", false},
		{notify.ModeAWS, "https://ula.example/", false},
		{notify.ModeAWS, "https://linklocal6.example/", false},
		{notify.ModeAWS, "https://mapped.example/", false},
		{notify.ModeAWS, "https://zero.example/", false},
		{notify.ModeAWS, "https://multicast.example/", false},
		{notify.ModeAWS, "https://bcast.example/", false},
		{notify.ModeAWS, "https://empty.example/", false},
		// Public IP literals are refused too: names only.
		{notify.ModeAWS, "https://93.184.215.14/", false},
		// Form.
		{notify.ModeAWS, "http://public.example/hook", false},
		{notify.ModeAWS, "ftp://public.example/hook", false},
		{notify.ModeAWS, "https://user:pw@public.example/hook", false},
		{notify.ModeAWS, "https://public.example/hook#frag", false},
		{notify.ModeAWS, "https://[fe80::1%25eth0]/", false},
		{notify.ModeAWS, "https://pub lic.example/", false},
		{notify.ModeAWS, "https://under_score.example/", false},
		{notify.ModeAWS, "https://1.2.3.4.5/", false},
		{notify.ModeAWS, "//public.example/hook", false},
		{notify.ModeAWS, long, false},
		{"", "https://127.0.0.1/", false}, // the zero Mode is AWS

		// Local mode: loopback over http(s), nothing else non-public.
		{notify.ModeLocal, "http://127.0.0.1:8080/hook", true},
		{notify.ModeLocal, "https://127.0.0.1/hook", true},
		{notify.ModeLocal, "http://localhost:9/hook", true},
		{notify.ModeLocal, "http://[::1]:8080/", true},
		{notify.ModeLocal, "https://loop.example/", true},
		{notify.ModeLocal, "https://public.example/", true},
		{notify.ModeLocal, "http://169.254.169.254/latest/meta-data", false},
		{notify.ModeLocal, "https://169.254.169.254/latest/meta-data", false},
		{notify.ModeLocal, "https://internal.example/", false},
		{notify.ModeLocal, "http://public.example/", false}, // http only to loopback
		{notify.ModeLocal, "https://10.0.0.5/", false},
		{notify.ModeLocal, "https://metadata.example/", false},
	}
	for _, c := range cases {
		g := notify.Guard{Mode: c.mode, Resolver: dns()}
		err := g.CheckURL(t.Context(), c.url)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s %.60s: refused: %v", c.mode, c.url, err)
		case !c.ok && err == nil:
			t.Errorf("%s %.60s: allowed", c.mode, c.url)
		case !c.ok && !errors.Is(err, notify.ErrBlocked):
			t.Errorf("%s %.60s: %v, want ErrBlocked", c.mode, c.url, err)
		}
	}
}

func TestGuardResolverFailureIsNotABlock(t *testing.T) {
	t.Parallel()
	g := notify.Guard{Resolver: dns()}
	err := g.CheckURL(t.Context(), "https://nx.example/")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || errors.Is(err, notify.ErrBlocked) {
		t.Fatalf("err = %v, want the resolver's error", err)
	}
}

func TestGuardCheckAddr(t *testing.T) {
	t.Parallel()
	for _, a := range []string{
		"10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "100.64.0.1", "100.127.255.255",
		"0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255", "240.0.0.1", "192.0.2.1", "198.18.0.1",
		"::", "::1", "fc00::1", "fd12::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::a00:1", "2002:a00:1::1", "2001:db8::1", "::10.0.0.1",
	} {
		if err := (notify.Guard{}).CheckAddr(netip.MustParseAddr(a)); !errors.Is(err, notify.ErrBlocked) {
			t.Errorf("%s: allowed", a)
		}
	}
	for _, a := range []string{"93.184.215.14", "8.8.8.8", "100.128.0.1", "2606:4700::1111", "64:ff9b::808:808", "::ffff:8.8.8.8"} {
		if err := (notify.Guard{}).CheckAddr(netip.MustParseAddr(a)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	local := notify.Guard{Mode: notify.ModeLocal}
	if err := local.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("local 127.0.0.1: %v", err)
	}
	if err := local.CheckAddr(netip.MustParseAddr("169.254.169.254")); err == nil {
		t.Error("local 169.254.169.254: allowed")
	}
}

// connCounter is an HTTP server on 127.0.0.1 that counts the TCP
// connections it accepts.
func connCounter(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// The client refuses to connect to a non-public address even when asked
// directly (no CheckURL before): the check is in the dialer.
func TestGuardClientRefusesAtDial(t *testing.T) {
	t.Parallel()
	srv, conns := connCounter(t, func(w http.ResponseWriter, _ *http.Request) {})
	client := notify.Guard{Mode: notify.ModeAWS, Resolver: dns()}.Client()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, u := range []string{
		srv.URL,                               // http://127.0.0.1:port
		"http://[::ffff:127.0.0.1]:" + port,   // mapped
		"http://loop.example:" + port,         // a name resolving to loopback
		"http://2130706433:" + port,           // inet_aton form
		"http://localhost:" + port,            // refused by name, never resolved
		"http://0x7f000001:" + port + "/hook", // hex form
	} {
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: connected", u)
			continue
		}
		if !errors.Is(err, notify.ErrBlocked) {
			t.Errorf("%s: %v, want ErrBlocked", u, err)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the server accepted %d connections", n)
	}
	// The same client in local mode does connect.
	resp, err := notify.Guard{Mode: notify.ModeLocal}.Client().Get(srv.URL)
	if err != nil {
		t.Fatalf("local mode: %v", err)
	}
	resp.Body.Close()
}

// Redirects are the endpoint's answer, never followed.
func TestGuardClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target, conns := connCounter(t, func(w http.ResponseWriter, _ *http.Request) {})
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/elsewhere", http.StatusTemporaryRedirect))
	t.Cleanup(redirector.Close)
	resp, err := notify.Guard{Mode: notify.ModeLocal}.Client().Post(redirector.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || conns.Load() != 0 {
		t.Fatalf("status %d, target connections %d: the redirect was followed", resp.StatusCode, conns.Load())
	}
}
