package devstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/jitsudo/jitsudo-serverless/infra/stepfunctions"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
	"github.com/jitsudo/jitsudo-serverless/shared/provider/recording"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// StateMachine is the workflow every request runs, statemachines/<name>.asl.json.
const StateMachine = "access-request"

// Workflow is the local Step Functions side of a stack: the shim running
// the real ASL file, and the worker Lambdas it invokes over a Lambda
// Invoke-compatible endpoint. The workers run with no caller credentials
// (they expire requests, provision and revoke access), so Lambda only
// answers the shim: it requires a random secret made for this start and
// given to the shim alone, and refuses browser requests
// (stepfunctions.RequireLambdaSecret). The dev server serves it on a
// loopback listener of its own, never on the API's.
type Workflow struct {
	Endpoint string // the shim behind Faults: the sfn clients' BaseEndpoint
	// Faults sits between every sfn client and the shim: tests make Step
	// Functions refuse calls for a while (stepfunctions.Faults).
	Faults *stepfunctions.Faults
	SFN    *workflow.SFN
	// API is the Step Functions edge of the API functions (SFN, with a
	// test hook that kills a function between its commit and its
	// workflow call).
	API *APIWorkflow
	// Clock is the stack's business time (Config.TimeScale): the API
	// functions see Now (tests may move it forward), the workers, the
	// sweeper and the shim's timers Base.
	Clock *Clock
	// WorkerClock is the workers' clock (the wall clock unless a test
	// moves it: a grant provisioned while it runs 57 s behind ends 3 s
	// after it is active, though durations are at least a minute).
	WorkerClock *Clock
	// ProviderFaults sits between every function and Provider
	// (provider_faults.go).
	ProviderFaults *ProviderFaults
	// Driver performs committed transitions' workflow effects from the
	// table's stream (half of the relay-outbox function; outbox.go).
	Driver   *workflow.Driver
	Provider access.Provider
	// Sweeper finishes overdue work as the sweep-overdue function does on
	// its schedule (Stack runs it every Config.SweepEvery; tests call Run
	// with their own clock).
	Sweeper *workflow.Sweeper
	Lambda  http.Handler // serve at the lambdaBase given to StartWorkflow
	Workers *workflow.Workers
	stop    func()
}

// StartWorkflow starts the shim for the state machine with its Lambda tasks
// pointing at lambdaBase (where the caller serves Workflow.Lambda), and
// builds the workers over s with the recording provider.
func StartWorkflow(ctx context.Context, s *store.Store, lambdaBase string, logger *slog.Logger, shimLog io.Writer) (*Workflow, error) {
	return StartWorkflowWith(ctx, s, recording.New(s), lambdaBase, logger, shimLog)
}

// StartWorkflowWith is StartWorkflow with the workers' provider prov (the
// Identity Center provider against a stand-in, in tests).
func StartWorkflowWith(ctx context.Context, s *store.Store, prov access.Provider, lambdaBase string, logger *slog.Logger, shimLog io.Writer) (*Workflow, error) {
	return startWorkflow(ctx, s, prov, lambdaBase, logger, shimLog, NewClock(1))
}

// startWorkflow is StartWorkflowWith on clock (its scale also runs the
// shim's clock).
func startWorkflow(ctx context.Context, s *store.Store, prov access.Provider, lambdaBase string, logger *slog.Logger, shimLog io.Writer, clock *Clock) (*Workflow, error) {
	dir, err := stepfunctions.Dir()
	if err != nil {
		return nil, err
	}
	subs := map[string]string{}
	for _, w := range routes.Workers {
		subs[routes.LogicalID(w)+"Arn"] = stepfunctions.FunctionARN(w)
	}
	secret, err := stepfunctions.NewLambdaSecret()
	if err != nil {
		return nil, err
	}
	shim, stopShim, err := stepfunctions.Start(ctx, stepfunctions.Config{
		ASLFiles:       []string{filepath.Join(dir, "..", "..", "statemachines", StateMachine+".asl.json")},
		Substitutions:  subs,
		LambdaEndpoint: lambdaBase,
		LambdaSecret:   secret,
		Log:            shimLog,
		TimeScale:      clock.Scale,
		TimeOrigin:     clock.Origin,
	})
	if err != nil {
		return nil, fmt.Errorf("devstack: local Step Functions: %w", err)
	}
	faults, err := stepfunctions.NewFaults(shim)
	if err != nil {
		stopShim()
		return nil, err
	}
	faultSrv := httptest.NewServer(faults)
	endpoint := faultSrv.URL
	stop := func() { faultSrv.Close(); stopShim() }
	pf := &ProviderFaults{Provider: prov}
	wf := &Workflow{Endpoint: endpoint, Faults: faults, stop: stop, Provider: pf, ProviderFaults: pf,
		SFN: workflow.New(sfn.NewFromConfig(wiring.AWSConfig(endpoint, stepfunctions.Region)), stepfunctions.StateMachineARN(StateMachine))}
	wf.API, wf.Clock = &APIWorkflow{Workflow: wf.SFN}, clock
	// The workers' clock runs on the same business time as clock.Base,
	// plus an offset a test may set.
	wf.WorkerClock = &Clock{Origin: clock.Origin, Scale: clock.Scale}
	wf.Driver = &workflow.Driver{Repo: s, Workflow: wf.SFN, Logger: logger.With("function", "relay-outbox", "half", "drive")}
	svc := &access.Service{Repo: s, Policies: policy.NewCache().Source(s), Workflow: wf.SFN, Provider: wf.Provider,
		Now: wf.WorkerClock.Now, Logger: logger.With("function", "workers")}
	wf.Workers = &workflow.Workers{Service: svc, Workflow: wf.SFN, Now: wf.WorkerClock.Now, Logger: logger.With("function", "workers")}
	wf.Sweeper = &workflow.Sweeper{Index: s, Service: svc, Now: clock.Base, Logger: logger.With("function", "sweep-overdue")}
	wf.Lambda = stepfunctions.RequireLambdaSecret(secret, stepfunctions.LambdaInvokeHandler(wf.Workers.Handlers()))
	return wf, nil
}

// sweepEvery runs the sweeper every d until ctx ends, as the
// sweep-overdue function's EventBridge schedule does on AWS.
func (w *Workflow) sweepEvery(ctx context.Context, d time.Duration, logger *slog.Logger) {
	every(ctx, d, func(ctx context.Context) error {
		_, err := w.Sweeper.Run(ctx)
		return err
	}, logger)
}

// every runs run every d until ctx ends, as an EventBridge schedule does
// on AWS; a failed run is logged.
func every(ctx context.Context, d time.Duration, run func(context.Context) error, logger *slog.Logger) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := run(ctx); err != nil && ctx.Err() == nil {
				logger.Error("scheduled run failed", "error", err)
			}
		}
	}
}

// Close stops the shim.
func (w *Workflow) Close() {
	if w != nil && w.stop != nil {
		w.stop()
	}
}

// APIWorkflow is the API functions' access.Workflow: SFN, with a test hook.
type APIWorkflow struct {
	access.Workflow
	die atomic.Int64
}

// DieAtNextCalls makes the next n workflow calls of API functions kill
// their function instead (after its commit: a Start or Resume is the call
// right after one): the client's connection drops, as when API Gateway
// loses its Lambda mid-call, and the call is never made.
func (w *APIWorkflow) DieAtNextCalls(n int) { w.die.Store(int64(n)) }

func (w *APIWorkflow) maybeDie() {
	for {
		n := w.die.Load()
		if n <= 0 {
			return
		}
		if w.die.CompareAndSwap(n, n-1) {
			// The invocation ends here, as its process would: no
			// deferred recovery writes an answer (Goexit cannot be
			// recovered), and net/http drops the client's connection.
			runtime.Goexit()
		}
	}
}

// Start implements access.Workflow.
func (w *APIWorkflow) Start(ctx context.Context, in access.WorkflowInput) error {
	w.maybeDie()
	return w.Workflow.Start(ctx, in)
}

// Resume implements access.Workflow.
func (w *APIWorkflow) Resume(ctx context.Context, token string, out access.WorkflowOutcome) error {
	w.maybeDie()
	return w.Workflow.Resume(ctx, token, out)
}
