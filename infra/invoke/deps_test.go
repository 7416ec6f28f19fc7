package invoke_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestAWSBinariesLinkNoStandIns: no function built for AWS (make build's
// tags) links a local stand-in or test-only package — the recording
// provider (a misconfigured deployment would approve access it never
// provisions), the dev identity issuer and provider (zitadel op), the fake AWS backends, the
// embedded DynamoDB or anything under infra/.
func TestAWSBinariesLinkNoStandIns(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lambda.norpc", "-deps", "-f", "{{.ImportPath}}", "../../functions/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/jitsudo/jitsudo-serverless/"
	forbidden := []string{"shared/provider/recording", "shared/auth/devissuer",
		"shared/store/dynamotest", "shared/store/dynamolocal", "infra/", "github.com/truora/minidyn", "github.com/zitadel/oidc",
		// test-only validators and drivers, and the SDK's config package (awsenv replaces it)
		"github.com/getkin/kin-openapi", "github.com/chromedp", "github.com/aws/aws-sdk-go-v2/config"}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 40 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, f := range forbidden {
			if strings.HasPrefix(p, mod+f) || strings.HasPrefix(p, f) {
				t.Errorf("a function built for AWS links %s", p)
			}
		}
	}
	// The local runs' tag does bring the stand-in provider in.
	out, err = exec.Command("go", "list", "-tags", "lambda.norpc,jitsudo_local", "-deps", "-f", "{{.ImportPath}}", "../../functions/provision-grant").CombinedOutput()
	if err != nil || !strings.Contains(string(out), mod+"shared/provider/recording") {
		t.Fatalf("provision-grant built with jitsudo_local does not link the recording provider: %v\n%s", err, out)
	}
}
