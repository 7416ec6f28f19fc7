package webtest

import (
	"os"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/openapicheck"
)

// TestMain validates every /v1 call the scenarios make from Go (their
// set-up through devstack.Call, on http.DefaultClient) against the OpenAPI
// document; a call that does not match fails the run.
func TestMain(m *testing.M) { os.Exit(openapicheck.RunValidated(m)) }
