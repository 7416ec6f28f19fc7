package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// The same-person rule. Self-approval and the N-of-M count are about
// people, not about the strings a token happens to carry: a requester
// whose token says `sub: "Alice"` today and `sub: "alice"` tomorrow, or
// who holds two accounts at the identity provider with the same verified
// email, is one person. Two principals are the same person when any of
// their keys match:
//
//   - the issuer and the subject (principal id, which for a tenant's own
//     issuer is already qualified by it: shared/auth/principal),
//     normalised by NormalizeSubject. With the
//     default user_name mapping this is also the person's Identity Center
//     user, whose user names do not distinguish case;
//   - the verified email, normalised by NormalizeEmail. Only an email the
//     token marks verified (email_verified true) is a key; with the email
//     mapping it is also the person's Identity Center user, which is why
//     a tenant mapping by email refuses callers without a verified email
//     (ErrEmailUnverified).
//
// Requests and reviews record the keys of who wrote them (Request.Requester,
// Review.Person). Items stored before these fields existed compare by their
// subject, and a request's stored email counts as a key too (then it was
// all there was; a wrong match can only refuse an approval, never allow
// one).

// Person is the identity keys of a principal, normalised.
type Person struct {
	// Issuer is the tenant's own issuer that authenticated the person;
	// empty for the deployment's default issuer (and for everything
	// stored before tenants had their own). A person is (issuer, subject):
	// the same subject at two issuers is two people.
	Issuer  string `json:"-" dynamodbav:"issuer,omitempty"`
	Subject string `json:"-" dynamodbav:"subject"`
	Email   string `json:"-" dynamodbav:"email,omitempty"` // verified only
}

// NormalizeSubject is the comparison form of a principal id: surrounding
// space and invisible format characters (zero-width spaces and joiners,
// soft hyphens, byte-order marks) removed, full-width ASCII folded to
// ASCII, and Unicode simple case folding (so "Alice", "ALICE" and "alice"
// are one subject; also the Kelvin sign and "k"). It is not full NFKC
// (golang.org/x/text is not a dependency), only the part that matters for
// names a person could type or an IdP could re-case.
func NormalizeSubject(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Cf, r):
			continue
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII
			r -= 0xFEE0
		case r == 0x3000: // ideographic space
			r = ' '
		}
		b.WriteRune(foldRune(r))
	}
	return strings.TrimSpace(b.String())
}

// NormalizeEmail is the comparison form of an email address: as
// NormalizeSubject (domains and, in practice, local parts are not
// case-sensitive). Sub-addresses ("+tag") and dots are kept: they can be
// different mailboxes.
func NormalizeEmail(s string) string { return NormalizeSubject(s) }

// foldRune maps r to one representative of its simple case-folding orbit
// (the orbit's smallest rune, lower-cased): the equivalence that
// strings.EqualFold uses, as a key.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return unicode.ToLower(m)
}

// Same reports whether p and q are the same person: the same issuer and
// normalised subject, or a verified email in common (whichever issuer
// vouched for it: an email is one mailbox, and a wrong match can only
// refuse an approval, never allow one).
func (p Person) Same(q Person) bool {
	if s := NormalizeSubject(p.Subject); s != "" && s == NormalizeSubject(q.Subject) && p.Issuer == q.Issuer {
		return true
	}
	e := NormalizeEmail(p.Email)
	return e != "" && e == NormalizeEmail(q.Email)
}

// PersonOf is the caller's keys: its subject, and its email if verified.
func PersonOf(c Caller) Person {
	p := Person{Issuer: c.Issuer, Subject: NormalizeSubject(c.ID)}
	if c.EmailVerified {
		p.Email = NormalizeEmail(c.Email)
	}
	return p
}

// RequesterPerson is the keys of r's requester: those recorded with the
// request, or for a request stored before they were, its requester id and
// email.
func RequesterPerson(r Request) Person {
	if r.Requester != nil {
		return *r.Requester
	}
	return Person{Subject: NormalizeSubject(r.RequesterID), Email: NormalizeEmail(r.RequesterEmail)}
}

// reviewerPerson is the keys of a review's author: those recorded with it,
// or for an older review its reviewer id.
func reviewerPerson(rv Review) Person {
	if rv.Person != nil {
		return *rv.Person
	}
	return Person{Subject: NormalizeSubject(rv.ReviewerID)}
}

// isRequester: c is the person who asked for r.
func isRequester(c Caller, r Request) bool {
	return c.ID == r.RequesterID || PersonOf(c).Same(RequesterPerson(r))
}

// reviewedBy returns the review of r by the same person as c, if any.
func reviewedBy(r Request, c Caller) (Review, bool) {
	me := PersonOf(c)
	for _, rv := range r.Reviews {
		if rv.ReviewerID == c.ID || reviewerPerson(rv).Same(me) {
			return rv, true
		}
	}
	return Review{}, false
}

// distinctApprovals counts the approvals of r by distinct persons (older
// reviews, recorded by id only, may hold two spellings of one person).
func distinctApprovals(r Request) int {
	var seen []Person
	for _, rv := range r.Reviews {
		if rv.Decision != StatusApproved {
			continue
		}
		p := reviewerPerson(rv)
		if !slices.ContainsFunc(seen, p.Same) {
			seen = append(seen, p)
		}
	}
	return len(seen)
}

// checkProviderIdentity refuses a person without a verified email when the
// tenant maps people to their provider user by email (ErrEmailUnverified):
// such a token's email could be anyone's, and with that mapping the email
// IS the Identity Center user who would be granted access. API keys are
// not people and are not checked.
func (s *Service) checkProviderIdentity(ctx context.Context, c Caller) error {
	if c.Type == ActorTypeAPIKey || (c.EmailVerified && c.Email != "") || s.UsersByEmail == nil {
		return nil
	}
	byEmail, err := s.UsersByEmail(ctx, c.TenantID)
	if err != nil {
		return fmt.Errorf("access: how %s maps users: %w", c.TenantID, err)
	}
	if byEmail {
		return ErrEmailUnverified
	}
	return nil
}
