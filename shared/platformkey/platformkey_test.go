package platformkey_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/platformkey"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// The loader runs against a real SSM API: moto_server (5.2.1, as
// infra/moto/with-moto.sh uses), started once for this test binary on a
// free loopback port.

var motoURL string

func TestMain(m *testing.M) {
	stop, err := startMoto()
	if err != nil {
		fmt.Fprintln(os.Stderr, "platformkey tests need moto_server (pip install 'moto[server]==5.2.1'):", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startMoto() (func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("moto_server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	motoURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second) // a loaded 2-core machine
	for time.Now().Before(deadline) {
		if r, err := http.Get(motoURL + "/moto-api/"); err == nil {
			r.Body.Close()
			return stop, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	return nil, errors.New("moto_server did not start")
}

func client(endpoint string) *ssm.Client {
	return ssm.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: wiring.LocalCredentials}, func(o *ssm.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.RetryMaxAttempts = 1
	})
}

// put stores a parameter under a name unique to the test.
func put(t *testing.T, typ types.ParameterType, value string) string {
	t.Helper()
	name := "/jitsudo/test/" + strings.ReplaceAll(t.Name(), "/", "-")
	_, err := client(motoURL).PutParameter(context.Background(), &ssm.PutParameterInput{
		Name: aws.String(name), Type: typ, Value: aws.String(value), Overwrite: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

const key = "platform_0123456789abcdefABCDEF"

func TestLoadsSecureString(t *testing.T) {
	name := put(t, types.ParameterTypeSecureString, key+"\n")
	got, err := platformkey.Load(context.Background(), client(motoURL), name)
	if err != nil || got != key {
		t.Fatalf("Load = %q, %v; want %q", got, err, key)
	}
	// The authorizer as deployed (no DYNAMODB_ENDPOINT: AWS) reads it
	// through FromSSM, here with moto as SSM's endpoint: the platform
	// identity on POST /v1/tenants.
	t.Setenv("TABLE_NAME", "jitsudo")
	t.Setenv("DYNAMODB_ENDPOINT", "")
	t.Setenv("CURSOR_SECRET", strings.Repeat("s", 32))
	t.Setenv("PLATFORM_ADMIN_KEY_PARAMETER", name)
	t.Setenv("PLATFORM_ADMIN_KEY", "")
	fromMoto := func(ctx context.Context, cfg aws.Config, name string) (string, error) {
		cfg.BaseEndpoint, cfg.Credentials = aws.String(motoURL), wiring.LocalCredentials
		return platformkey.FromSSM(ctx, cfg, name)
	}
	a, err := wiring.Authorizer(context.Background(), slog.New(slog.DiscardHandler), wiring.WithPlatformKeyParameter(fromMoto))
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.AuthorizeRoute(context.Background(), "POST /v1/tenants", map[string]string{"x-api-key": key})
	if err != nil || id.PrincipalType != auth.PrincipalPlatform {
		t.Fatalf("the loaded key does not authenticate the platform: %+v, %v", id, err)
	}
}

func TestFailsClosed(t *testing.T) {
	ctx := context.Background()
	t.Run("missing parameter", func(t *testing.T) {
		_, err := platformkey.Load(ctx, client(motoURL), "/jitsudo/test/nothing-here")
		var nf *types.ParameterNotFound
		if !errors.As(err, &nf) {
			t.Fatalf("want ParameterNotFound, got %v", err)
		}
	})
	t.Run("plain String parameter", func(t *testing.T) {
		name := put(t, types.ParameterTypeString, key)
		if _, err := platformkey.Load(ctx, client(motoURL), name); err == nil || !strings.Contains(err.Error(), "want a SecureString") {
			t.Fatalf("a String parameter was accepted: %v", err)
		}
	})
	t.Run("blank value", func(t *testing.T) {
		name := put(t, types.ParameterTypeSecureString, "   ")
		if _, err := platformkey.Load(ctx, client(motoURL), name); err == nil || !strings.Contains(err.Error(), "empty") {
			t.Fatalf("a blank key was accepted: %v", err)
		}
	})
	t.Run("SSM unreachable", func(t *testing.T) {
		if _, err := platformkey.Load(ctx, client("http://127.0.0.1:9"), "/jitsudo/x"); err == nil {
			t.Fatal("no error without SSM")
		}
	})
}
