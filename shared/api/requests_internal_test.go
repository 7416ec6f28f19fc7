package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
)

// The handlers hand the access service whether the caller's email is
// verified: the same-person rule and email-mapped tenants depend on it.
func TestCallerCarriesEmailVerified(t *testing.T) {
	for _, verified := range []bool{false, true} {
		id, err := auth.IdentityFromAuthorizerContext(auth.Identity{TenantID: "acme", PrincipalID: "Alice",
			PrincipalType: auth.PrincipalUser, Email: "alice@acme.example", EmailVerified: verified}.AuthorizerContext())
		if err != nil {
			t.Fatal(err)
		}
		c := caller(id)
		if c.EmailVerified != verified || c.Email != "alice@acme.example" || c.ID != "Alice" {
			t.Fatalf("verified=%v: caller %+v", verified, c)
		}
	}
}

func TestAccessErrorsOfThePerson(t *testing.T) {
	for err, want := range map[error]struct {
		status int
		code   string
	}{
		access.ErrSelfApproval:                                        {http.StatusForbidden, "self_approval"},
		access.ErrEmailUnverified:                                     {http.StatusForbidden, "email_unverified"},
		fmt.Errorf("wrapped: %w", access.ErrEmailUnverified):          {http.StatusForbidden, "email_unverified"},
		access.ErrAlreadyReviewed:                                     {http.StatusConflict, "already_reviewed"},
		fmt.Errorf("identitycenter: delete: %w", access.ErrRetryable): {http.StatusServiceUnavailable, "provider_unavailable"},
	} {
		var he *httpapi.Error
		if got := accessError(err, "request"); !errors.As(got, &he) || he.Status != want.status || he.Code != want.code {
			t.Errorf("%v → %v, want %d %s", err, got, want.status, want.code)
		}
	}
}
