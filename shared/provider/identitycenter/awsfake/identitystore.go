package awsfake

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Identity Store GetUserId by a unique attribute. Only the two attributes
// the provider uses are supported: userName and emails.value (matched
// case-insensitively, as Identity Center treats them); others are a
// ValidationException here.

func (s *Server) getUserID(sess *Session, body []byte) reply {
	var in struct {
		IdentityStoreID     string `json:"IdentityStoreId"`
		AlternateIdentifier struct {
			UniqueAttribute *struct {
				AttributePath  string          `json:"AttributePath"`
				AttributeValue json.RawMessage `json:"AttributeValue"`
			} `json:"UniqueAttribute"`
			ExternalID *struct {
				Issuer string `json:"Issuer"`
				ID     string `json:"Id"`
			} `json:"ExternalId"`
		} `json:"AlternateIdentifier"`
	}
	if err := decodeStrict(body, &in); err != nil {
		return validation("%v", err)
	}
	if !reIdentityStoreID.MatchString(in.IdentityStoreID) {
		return validation("IdentityStoreId %q is not valid", in.IdentityStoreID)
	}
	if !s.storeAllowed(sess, in.IdentityStoreID) {
		return jsonErr(http.StatusBadRequest, "AccessDeniedException", "User: "+sess.RoleARN+" is not authorized to access identity store "+in.IdentityStoreID)
	}
	ua := in.AlternateIdentifier.UniqueAttribute
	if ua == nil || in.AlternateIdentifier.ExternalID != nil {
		return validation("AlternateIdentifier must be a UniqueAttribute (the fake supports no ExternalId)")
	}
	var value string
	if err := json.Unmarshal(ua.AttributeValue, &value); err != nil || value == "" {
		return validation("AttributeValue must be a non-empty string")
	}
	var match func(u user) bool
	switch ua.AttributePath {
	case "userName":
		match = func(u user) bool { return strings.EqualFold(u.userName, value) }
	case "emails.value":
		match = func(u user) bool { return u.email != "" && strings.EqualFold(u.email, value) }
	default:
		return validation("AttributePath %q is not a supported unique attribute", ua.AttributePath)
	}
	for _, u := range s.stores[in.IdentityStoreID] {
		if match(u) {
			return jsonOK(map[string]string{"IdentityStoreId": in.IdentityStoreID, "UserId": u.id})
		}
	}
	return jsonErr(http.StatusBadRequest, "ResourceNotFoundException", "USER not found.", "ResourceType", "USER")
}

// storeAllowed: the identity store belongs to an instance the session's
// role manages.
func (s *Server) storeAllowed(sess *Session, storeID string) bool {
	for _, in := range s.instances {
		if in.identityStoreID == storeID && in.roleARN == sess.RoleARN {
			return true
		}
	}
	return false
}
