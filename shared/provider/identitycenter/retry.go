package identitycenter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
)

// transientCodes are the API error codes worth retrying: throttling,
// conflicting concurrent operations (Identity Center allows one operation
// per assignment at a time) and server-side failures. STS's codes are
// included because credential retrieval fails through the same calls.
var transientCodes = map[string]bool{
	"ThrottlingException": true, "Throttling": true, "ThrottledException": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "SlowDown": true, "ConflictException": true,
	"InternalServerException": true, "InternalFailure": true, "InternalError": true,
	"ServiceUnavailable": true, "ServiceUnavailableException": true, "RequestTimeout": true, "RequestTimeoutException": true,
	"IDPCommunicationError": true,
	// Expired credentials: call invalidates the cache, the retry re-assumes.
	"ExpiredTokenException": true, "ExpiredToken": true,
}

// transient reports whether err is worth retrying.
func transient(err error) bool {
	if err == nil {
		return false
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return transientCodes[ae.ErrorCode()]
	}
	var se *smithyhttp.RequestSendError
	var de *smithy.DeserializationError
	var ne net.Error
	return errors.As(err, &se) || errors.As(err, &de) || errors.As(err, &ne) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}

func (p *Provider) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// jitter spreads d over [d/2, d) so that tasks throttled together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half)
}

// retry runs call until it succeeds, fails permanently, or RetryAttempts
// attempts failed transiently — then the error wraps access.ErrRetryable.
// A done ctx ends it with ctx's error in the chain.
func (p *Provider) retry(ctx context.Context, op string, call func(context.Context) error) error {
	attempts := orDefault(p.RetryAttempts, DefaultRetryAttempts)
	delay := orDefault(p.RetryBase, DefaultRetryBase)
	maxDelay := orDefault(p.RetryMax, DefaultRetryMax)
	for attempt := 1; ; attempt++ {
		err := call(ctx)
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("identitycenter: %s: %w", op, err)
		case !transient(err):
			return fmt.Errorf("identitycenter: %s: %w", op, err)
		case attempt >= attempts:
			return fmt.Errorf("identitycenter: %s: %w (gave up after %d attempts): %w", op, access.ErrRetryable, attempt, err)
		}
		d := jitter(delay)
		p.log().DebugContext(ctx, "identity center call failed transiently, retrying", "op", op, "attempt", attempt,
			"code", apiCode(err), "delay", d.String(), "error", err.Error())
		if serr := p.sleep(ctx, d); serr != nil {
			return fmt.Errorf("identitycenter: %s: %w (last error: %w)", op, serr, err)
		}
		delay = min(2*delay, maxDelay)
	}
}

// opStatus is what an asynchronous assignment request reports.
type opStatus struct {
	status, requestID, reason string
}

// wait polls until the request ends. SUCCEEDED → nil; FAILED → failed's
// error; still IN_PROGRESS after PollBudget → access.ErrRetryable.
func (p *Provider) wait(ctx context.Context, op string, st opStatus, poll func(ctx context.Context, requestID string) (opStatus, error), failed func(reason string) error) error {
	budget := orDefault(p.PollBudget, DefaultPollBudget)
	delay := orDefault(p.PollBase, DefaultPollBase)
	maxDelay := orDefault(p.PollMax, DefaultPollMax)
	var waited time.Duration
	for {
		switch st.status {
		case "SUCCEEDED":
			return nil
		case "FAILED":
			return failed(st.reason)
		case "IN_PROGRESS":
		default:
			return fmt.Errorf("identitycenter: %s %s: unexpected status %q", op, st.requestID, st.status)
		}
		if waited >= budget {
			return fmt.Errorf("identitycenter: %s %s: %w: still IN_PROGRESS after %s", op, st.requestID, access.ErrRetryable, waited)
		}
		d := min(delay, budget-waited)
		if err := p.sleep(ctx, d); err != nil {
			return fmt.Errorf("identitycenter: %s %s: %w", op, st.requestID, err)
		}
		waited += d
		delay = min(2*delay, maxDelay)
		next, err := poll(ctx, st.requestID)
		if err != nil {
			return err
		}
		st = next
	}
}
