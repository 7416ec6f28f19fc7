package workflow

import (
	"context"
	"errors"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// NoProvider is the provider of functions built without one: every call
// fails (permanently). Only the functions built with wiring.WithProvider
// (provision-grant, fail-grant, expire-grant, revoke-grant, sweep-overdue
// and the reconciler) have a real one.
type NoProvider struct{}

var errNoProvider = errors.New("no access provider is configured in this function")

// Provision implements access.Provider.
func (NoProvider) Provision(context.Context, access.Assignment) error { return errNoProvider }

// Revoke implements access.Provider.
func (NoProvider) Revoke(context.Context, access.Assignment) error { return errNoProvider }
