package invoke_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/jitsudo/jitsudo-serverless/"

// listDeps runs `go list` with make build's environment and tags and
// returns, per package matched by patterns, the packages it links.
func listDeps(t *testing.T, tags string, patterns ...string) map[string][]string {
	t.Helper()
	args := append([]string{"list", "-tags", tags, "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	return deps
}

// devOnly are the packages under shared/ that no function built for AWS
// may link, and why they live in shared/ at all.
var devOnly = map[string]string{
	// The local provider: a misconfigured deployment would approve access it
	// never provisions. Linked only with -tags jitsudo_local (make invoke).
	"shared/provider/recording": "jitsudo_local builds only",
}

// forbidden are third-party modules no function built for AWS may link:
// the embedded DynamoDB, the dev identity provider (zitadel op), the
// test-only OpenAPI validator and browser driver, and the SDK's config
// package (wiring.AWSConfig replaces it).
var forbidden = []string{"github.com/truora/minidyn", "github.com/zitadel/oidc",
	"github.com/getkin/kin-openapi", "github.com/chromedp", "github.com/aws/aws-sdk-go-v2/config"}

// TestAWSBinariesLinkNoStandIns: each function built as make build builds it
// for AWS (linux/arm64, -tags lambda.norpc) links, of this module, only
// packages under shared/ — nothing under infra/ (the embedded DynamoDB and
// dynamotest, the dev identity issuer, the stand-ins, the local stack) — and
// none of devOnly or forbidden. And every package under shared/ is linked by
// some function (or is in devOnly): shared/ is production code, test-only
// helpers live under infra/ or in _test files.
func TestAWSBinariesLinkNoStandIns(t *testing.T) {
	deps := listDeps(t, "lambda.norpc", "../../functions/...")
	if len(deps) < 40 {
		t.Fatalf("go list found only %d functions", len(deps))
	}
	linked := map[string]bool{}
	for fn, ps := range deps {
		for _, p := range ps {
			if rel, ok := strings.CutPrefix(p, mod); ok {
				linked[rel] = true
				if !strings.HasPrefix(rel, "shared/") {
					t.Errorf("%s links %s: only shared/ packages belong in a function built for AWS", fn, p)
				} else if why, dev := devOnly[rel]; dev {
					t.Errorf("%s links %s (%s)", fn, p, why)
				}
				continue
			}
			for _, f := range forbidden {
				if p == f || strings.HasPrefix(p, f+"/") {
					t.Errorf("%s links %s", fn, p)
				}
			}
		}
	}

	// Every non-test package under shared/ is in some AWS binary.
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}", "../../shared/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list shared: %v\n%s", err, out)
	}
	inShared := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		rel := strings.TrimPrefix(p, mod)
		inShared[rel] = true
		if _, dev := devOnly[rel]; !linked[rel] && !dev {
			t.Errorf("%s is linked by no function: test-only or dev-only code belongs under infra/ or in _test files", rel)
		}
	}
	for rel := range devOnly {
		if !inShared[rel] {
			t.Errorf("devOnly lists %s, which is no longer under shared/: remove the entry", rel)
		}
	}

	// The local runs' tag does bring the stand-in provider in.
	local := listDeps(t, "lambda.norpc,jitsudo_local", "../../functions/provision-grant")
	if !slices.Contains(local[mod+"functions/provision-grant"], mod+"shared/provider/recording") {
		t.Fatalf("provision-grant built with jitsudo_local does not link the recording provider: %v", local)
	}
}
