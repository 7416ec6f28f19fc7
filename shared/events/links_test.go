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
}
