package notify

import (
	"errors"
	"testing"
)

// control is the last check: the literal address a socket is about to
// connect to, whatever resolved it.
func TestDialControlChecksTheConnectAddress(t *testing.T) {
	t.Parallel()
	aws, local := Guard{Mode: ModeAWS}, Guard{Mode: ModeLocal}
	for _, c := range []struct {
		addr           string
		awsOK, localOK bool
	}{
		{"93.184.215.14:443", true, true},
		{"[2606:4700::1111]:443", true, true},
		{"127.0.0.1:80", false, true},
		{"[::1]:80", false, true},
		{"[::ffff:127.0.0.1]:80", false, true},
		{"169.254.169.254:80", false, false},
		{"[::ffff:169.254.169.254]:80", false, false},
		{"10.0.0.5:443", false, false},
		{"[fe80::1%eth0]:443", false, false},
		{"0.0.0.0:443", false, false},
		{"not-an-address:443", false, false},
	} {
		for _, g := range []struct {
			guard Guard
			ok    bool
		}{{aws, c.awsOK}, {local, c.localOK}} {
			err := g.guard.control("tcp", c.addr, nil)
			if g.ok != (err == nil) || err != nil && !errors.Is(err, ErrBlocked) {
				t.Errorf("%s %s: err = %v, want ok=%v", g.guard.Mode, c.addr, err, g.ok)
			}
		}
	}
}

func TestParseIPv4Loose(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1": "127.0.0.1", "2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1",
		"0x7f.1": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "127.1": "127.0.0.1", "127.0.1": "127.0.0.1",
		"0": "0.0.0.0", "0xA9FEA9FE": "169.254.169.254", "169.254.43518": "169.254.169.254",
		"example.com": "", "1.2.3.4.5": "", "256.1.1.1": "", "1.2.3.256": "", "08.1.1.1": "", "": "",
		"1..2": "", "0xg": "", "4294967296": "",
	} {
		ip, ok := parseIPv4Loose(in)
		got := ""
		if ok {
			got = ip.String()
		}
		if got != want {
			t.Errorf("parseIPv4Loose(%q) = %q, want %q", in, got, want)
		}
	}
}
