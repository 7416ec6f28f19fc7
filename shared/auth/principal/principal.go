// Package principal is the form of a person's principal id: a person is
// (issuer, subject). A person from the deployment's default issuer keeps
// the bare `sub` as principal id (what was stored before tenants had
// their own identity providers); a person from a tenant's own issuer has
// the issuer-qualified id "<issuer>#<sub>". Issuer URLs never contain
// '#' (settings refuse them), and the authorizer refuses default-issuer
// subjects that have the qualified form, so the two never collide.
//
// It is a leaf package: the authorizer builds ids with it, and the access
// provider splits them to find a person's user name (the bare subject).
package principal

import "strings"

// Qualify is the principal id of subject sub at a tenant's issuer iss.
func Qualify(iss, sub string) string { return iss + "#" + sub }

// Split returns the issuer and the subject of a principal id: ("", id)
// for a bare (default-issuer) id or an id that is not a person's.
func Split(id string) (iss, sub string) {
	if !IsQualified(id) {
		return "", id
	}
	i := strings.IndexByte(id, '#')
	return id[:i], id[i+1:]
}

// IsQualified reports whether id has the qualified form: an http(s) URL,
// then '#', then a non-empty subject.
func IsQualified(id string) bool {
	if !strings.HasPrefix(id, "https://") && !strings.HasPrefix(id, "http://") {
		return false
	}
	i := strings.IndexByte(id, '#')
	return i > 0 && i < len(id)-1
}

// Subject is the bare subject of a principal id (the id itself when it
// is not qualified).
func Subject(id string) string {
	_, sub := Split(id)
	return sub
}
