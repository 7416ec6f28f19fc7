package events

import (
	"net/url"
	"strings"
)

// LinkBuilder makes the API links of an event (Event.Links). tenantID is
// passed for builders whose URLs differ by tenant; ids may be empty.
type LinkBuilder interface {
	Links(tenantID, requestID, grantID string) Links
}

// APILinks builds links into the jitsudo API at Base (e.g.
// https://api.example.com): request → <base>/v1/requests/<id>, approve and
// deny → .../approve and .../deny, grant → <base>/v1/grants/<id>. An empty
// Base builds no links. The tenant is not in the URL: the caller's
// credentials select it.
//
// UI is the base URL of the Approvals page (served by the same HTTP API
// by default): the request's page is <ui>/ui/t/<tenant>/requests/<id>.
type APILinks struct {
	Base string
	UI   string
}

// NewLinks returns the APILinks of baseURL (a trailing slash is ignored);
// the page links go to the same origin, which serves the Approvals page.
func NewLinks(baseURL string) APILinks {
	b := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	return APILinks{Base: b, UI: b}
}

// Links implements LinkBuilder.
func (l APILinks) Links(tenantID, requestID, grantID string) Links {
	var out Links
	if l.UI != "" && tenantID != "" && requestID != "" {
		out.Page = l.UI + "/ui/t/" + url.PathEscape(tenantID) + "/requests/" + url.PathEscape(requestID)
	}
	if l.Base == "" {
		return out
	}
	if requestID != "" {
		out.Request = l.Base + "/v1/requests/" + url.PathEscape(requestID)
		out.Approve = out.Request + "/approve"
		out.Deny = out.Request + "/deny"
	}
	if grantID != "" {
		out.Grant = l.Base + "/v1/grants/" + url.PathEscape(grantID)
	}
	return out
}
