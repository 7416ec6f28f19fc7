package notify_test

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// privateDNS answers every name with a private address: with it, no URL
// may pass the AWS-mode guard (names resolve private; IP literals are
// refused in AWS mode).
type privateDNS struct{}

func (privateDNS) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return []net.IPAddr{{IP: net.ParseIP("10.0.0.5")}}, nil
}

// FuzzGuardCheckURL: whatever the URL's spelling (IPv4 in decimal, hex or
// octal, IPv6 and mapped forms, userinfo, odd ports, percent-encoding), a
// host that is private once resolved never passes.
func FuzzGuardCheckURL(f *testing.F) {
	for _, s := range []string{
		"https://hooks.example.com/x", "http://169.254.169.254/latest/meta-data/", "https://[::ffff:127.0.0.1]/",
		"https://2130706433/", "https://0x7f.1/", "https://0177.0.0.1/", "https://user@10.0.0.1:443/",
		"https://%31%30.0.0.1/", "https://[fe80::1%25eth0]/", "https://localhost./", "https://127.1/",
		"https://hooks.slack.com/services/T/B/X", "HTTPS://EXAMPLE.COM", "https://[::]/", "https://0/",
	} {
		f.Add(s)
	}
	g := notify.Guard{Mode: notify.ModeAWS, Resolver: privateDNS{}}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := g.CheckURL(context.Background(), raw); err == nil {
			t.Fatalf("%q passed the guard, but every host it can name is private", raw)
		}
	})
}

// FuzzChannelInput: any create body either fails validation or yields a
// channel whose public view carries none of its secrets and whose URL (if
// any) is https.
func FuzzChannelInput(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","type":"generic_webhook","config":{"url":"https://hooks.example.com/p/SECRETPATH","headers":{"Authorization":"Bearer TOKENVALUE"}}}`,
		`{"name":"s","type":"slack_webhook","event_filters":["request.pending"],"config":{"url":"https://hooks.slack.com/services/T0/B0/SECRETPATH"}}`,
		`{"name":"e","type":"email","config":{"addresses":["a@example.com"]}}`,
		`{"name":"x","type":"generic_webhook","config":{"url":"http://127.0.0.1:9/","headers":{"X-Jitsudo-Signature":"v1=0"}}}`,
		`{"name":"\u0000","type":"slack_webhook","config":{"url":"https://hooks.slack.com/services/../../x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in notify.ChannelInput
		if json.Unmarshal(body, &in) != nil {
			return
		}
		ch, err := notify.NewChannel(notify.ModeAWS, "acme", "ch_1", in, time.Unix(1e9, 0))
		if err != nil {
			return
		}
		if ch.URL != "" && !strings.HasPrefix(strings.ToLower(ch.URL), "https://") {
			t.Fatalf("accepted a non-https URL in AWS mode: %q", ch.URL)
		}
		pub, err := json.Marshal(ch.Public())
		if err != nil {
			t.Fatal(err)
		}
		if ch.SigningSecret != "" && strings.Contains(string(pub), ch.SigningSecret) {
			t.Fatalf("public view shows the signing secret: %s", pub)
		}
		for k, v := range ch.Public().Headers {
			if v != notify.Redacted {
				t.Fatalf("public view shows header %s's value: %s", k, pub)
			}
		}
		// Scheme and host are shown; the path and query (Slack's token
		// lives there) never.
		if u, err := url.Parse(ch.URL); err == nil {
			secret := strings.TrimPrefix(u.EscapedPath(), "/")
			if u.RawQuery != "" {
				secret += "?" + u.RawQuery
			}
			shown := ch.Public().URL
			if i := strings.Index(shown, "://"); i >= 0 { // what follows scheme and host
				if j := strings.IndexByte(shown[i+3:], '/'); j >= 0 {
					shown = shown[i+3+j:]
				} else {
					shown = ""
				}
			}
			if len(secret) > 0 && secret != "…" && strings.Contains(shown, secret) {
				t.Fatalf("public view shows the URL's path %q: %s", secret, shown)
			}
		}
	})
}
