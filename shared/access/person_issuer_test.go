package access

import "testing"

// TestPersonIsIssuerAndSubject: the same sub from two issuers is two
// people; from one issuer, one person (under any spelling); a verified
// email in common is one person whatever the issuers.
func TestPersonIsIssuerAndSubject(t *testing.T) {
	own := "https://acme.okta.com/oauth2/default"
	def := Caller{TenantID: "acme", ID: "sam", Type: "user"}
	mine := Caller{TenantID: "acme", ID: own + "#sam", Issuer: own, Type: "user"}
	if PersonOf(def).Same(PersonOf(mine)) {
		t.Fatal("default-issuer sam and acme-issuer sam are one person")
	}
	// Stored before issuers existed: a bare subject is the default issuer's.
	if !(Person{Subject: "SAM"}).Same(PersonOf(def)) || (Person{Subject: "sam"}).Same(PersonOf(mine)) {
		t.Fatal("legacy person mapping")
	}
	same := mine
	same.ID = own + "#SAM"
	if !PersonOf(mine).Same(PersonOf(same)) {
		t.Fatal("one issuer, two spellings: not one person")
	}
	// Requester and reviewer: another issuer's sam may review; sam never.
	r := Request{RequesterID: def.ID, Requester: new(PersonOf(def))}
	if isRequester(mine, r) {
		t.Fatal("acme-issuer sam counted as the default-issuer requester")
	}
	if !isRequester(def, r) {
		t.Fatal("the requester is not the requester")
	}
	withEmail := func(c Caller, e string) Caller { c.Email, c.EmailVerified = e, true; return c }
	if !PersonOf(withEmail(def, "sam@acme.example")).Same(PersonOf(withEmail(mine, "Sam@acme.example"))) {
		t.Fatal("one verified email, two people")
	}
}
