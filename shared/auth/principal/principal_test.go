package principal

import "testing"

func TestQualifySplit(t *testing.T) {
	for _, c := range []struct{ iss, sub string }{
		{"https://acme.okta.com/oauth2/default", "00u1abcd"},
		{"http://127.0.0.1:8080/idp/acme", "alice"},
		{"https://login.microsoftonline.com/t/v2.0", "a#b"},
	} {
		id := Qualify(c.iss, c.sub)
		if !IsQualified(id) {
			t.Fatalf("%q not qualified", id)
		}
		if iss, sub := Split(id); iss != c.iss || sub != c.sub {
			t.Fatalf("Split(%q) = %q, %q", id, iss, sub)
		}
	}
	for _, bare := range []string{"alice", "alice#x", "https://x", "https://x#", "#a", ""} {
		if iss, sub := Split(bare); iss != "" || sub != bare {
			t.Fatalf("Split(%q) = %q, %q", bare, iss, sub)
		}
	}
}
