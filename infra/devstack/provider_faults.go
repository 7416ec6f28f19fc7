package devstack

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// ProviderFaults sits between every function and the stack's access
// provider (the recording provider): tests make revokes fail (a tenant
// that broke its role) or hold a provisioning call mid-flight (to stop its
// execution meanwhile). Everything else goes to the provider.
type ProviderFaults struct {
	access.Provider
	mu        sync.Mutex
	revokeErr error
	held      *HeldCall
}

// FailRevokes makes every Revoke fail with err from now on (nil: revokes
// work again). The assignment stays.
func (p *ProviderFaults) FailRevokes(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revokeErr = err
}

// HeldCall is a Provision call held mid-flight (HoldNextProvision).
type HeldCall struct {
	entered chan struct{}
	release chan heldResult
}

type heldResult struct {
	apply bool
	err   error
}

// Entered is closed when the held call has begun.
func (h *HeldCall) Entered() <-chan struct{} { return h.entered }

// Release ends the held call: apply makes the provider provision (its
// result is the call's unless err is set); err is then returned to the
// worker — apply with an error is a call that did its work and lost its
// answer, as a worker that dies right after the provider call.
func (h *HeldCall) Release(apply bool, err error) { h.release <- heldResult{apply, err} }

// heldTimeout bounds a hold a test forgot to release.
const heldTimeout = time.Minute

// HoldNextProvision holds the next Provision call until Release. The
// call runs to its end even if its invocation's context ends (a Lambda
// whose execution was stopped runs to completion, as on AWS).
func (p *ProviderFaults) HoldNextProvision() *HeldCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = &HeldCall{entered: make(chan struct{}), release: make(chan heldResult, 1)}
	return p.held
}

// Provision implements access.Provider.
func (p *ProviderFaults) Provision(ctx context.Context, a access.Assignment) error {
	p.mu.Lock()
	h := p.held
	p.held = nil
	p.mu.Unlock()
	if h == nil {
		return p.Provider.Provision(ctx, a)
	}
	close(h.entered)
	var r heldResult
	select {
	case r = <-h.release:
	case <-time.After(heldTimeout):
		return fmt.Errorf("devstack: provision of grant %s held for %s and never released", a.GrantID, heldTimeout)
	}
	if r.apply {
		if err := p.Provider.Provision(context.WithoutCancel(ctx), a); err != nil {
			return err
		}
	}
	return r.err
}

// Revoke implements access.Provider.
func (p *ProviderFaults) Revoke(ctx context.Context, a access.Assignment) error {
	p.mu.Lock()
	err := p.revokeErr
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("devstack: revoke of grant %s: %w", a.GrantID, err)
	}
	return p.Provider.Revoke(ctx, a)
}
