package events_test

import (
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/events"
)

func TestLinksPage(t *testing.T) {
	l := events.NewLinks("https://api.example.com/")
	got := l.Links("acme", "req_1", "grt_1")
	if got.Page != "https://api.example.com/ui/t/acme/requests/req_1" || got.Request != "https://api.example.com/v1/requests/req_1" ||
		got.Grant != "https://api.example.com/v1/grants/grt_1" {
		t.Fatalf("%+v", got)
	}
	t.Setenv(events.EnvAPIBaseURL, "https://api.example.com")
	t.Setenv(events.EnvUIBaseURL, "https://jitsudo.example.com/")
	got = events.LinksFromEnv().Links("a b", "req/2", "")
	if got.Page != "https://jitsudo.example.com/ui/t/a%20b/requests/req%2F2" || got.Grant != "" {
		t.Fatalf("%+v", got)
	}
	if got := events.LinksFromEnv().Links("acme", "", "grt_1"); got.Page != "" {
		t.Fatalf("a grant without its request has no page link: %+v", got)
	}
}
