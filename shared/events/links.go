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
type APILinks struct {
	Base string
}

// NewLinks returns the APILinks of baseURL (a trailing slash is ignored).
func NewLinks(baseURL string) APILinks {
	return APILinks{Base: strings.TrimRight(strings.TrimSpace(baseURL), "/")}
}

// Links implements LinkBuilder.
func (l APILinks) Links(_, requestID, grantID string) Links {
	var out Links
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

// EnvAPIBaseURL is the environment variable with the API's base URL, from
// which event links are built (NewLinks).
const EnvAPIBaseURL = "API_BASE_URL"
