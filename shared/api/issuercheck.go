package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/notify"
)

// Limits of the issuer check done when a tenant's identity settings are
// saved: the discovery document and the JWKS are fetched through the
// SSRF guard (the webhooks' one), each bounded in size, the whole check
// in time.
const (
	IssuerCheckTimeout = 5 * time.Second
	maxDiscoveryBytes  = 64 << 10
	maxIssuerJWKSBytes = 256 << 10
)

// IssuerCheck fetches and checks a tenant's issuer: its discovery
// document must name exactly this issuer and a jwks_uri, and the JWKS
// must hold at least one usable signature key. It returns the JWKS URL.
// A refusal is an *IssuerError (a 400 with its reason).
type IssuerCheck func(ctx context.Context, issuer string) (jwksURL string, err error)

// IssuerError is a refused issuer; Reason is safe to show to the admin.
type IssuerError struct{ Reason string }

func (e *IssuerError) Error() string { return "issuer refused: " + e.Reason }

func badIssuer(format string, args ...any) error {
	return &IssuerError{Reason: fmt.Sprintf(format, args...)}
}

// NewIssuerCheck is the IssuerCheck over guard's HTTP client; timeout 0
// means IssuerCheckTimeout.
func NewIssuerCheck(guard notify.Guard, timeout time.Duration) IssuerCheck {
	if timeout <= 0 {
		timeout = IssuerCheckTimeout
	}
	client := guard.Client()
	return func(ctx context.Context, issuer string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := checkIssuerURL(ctx, guard, "issuer_url", issuer); err != nil {
			return "", err
		}
		var meta struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := fetchJSON(ctx, client, timeout, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", maxDiscoveryBytes, "discovery document", &meta); err != nil {
			return "", err
		}
		if meta.Issuer != issuer {
			return "", badIssuer("the discovery document names the issuer %q, not %q", httpapi.Clip(meta.Issuer, 200), issuer)
		}
		if meta.JWKSURI == "" {
			return "", badIssuer("the discovery document has no jwks_uri")
		}
		if err := checkIssuerURL(ctx, guard, "jwks_uri", meta.JWKSURI); err != nil {
			return "", err
		}
		var set jose.JSONWebKeySet
		if err := fetchJSON(ctx, client, timeout, meta.JWKSURI, maxIssuerJWKSBytes, "JWKS", &set); err != nil {
			return "", err
		}
		if usableKeys(set) == 0 {
			return "", badIssuer("the JWKS at %s has no usable signature key (public RSA, EC or OKP, not for encryption)", httpapi.Clip(meta.JWKSURI, 200))
		}
		return meta.JWKSURI, nil
	}
}

func checkIssuerURL(ctx context.Context, guard notify.Guard, what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return badIssuer("%s must be an absolute URL without query or fragment", what)
	}
	if err := guard.CheckURL(ctx, raw); err != nil {
		if errors.Is(err, notify.ErrBlocked) {
			return badIssuer("%s: %s", what, strings.TrimPrefix(err.Error(), notify.ErrBlocked.Error()+": "))
		}
		return badIssuer("%s: the host does not resolve", what)
	}
	return nil
}

func fetchJSON(ctx context.Context, client *http.Client, timeout time.Duration, u string, limit int64, what string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return badIssuer("%s URL does not parse", what)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, notify.ErrBlocked) {
			return badIssuer("the %s's address is not allowed (private, loopback or link-local)", what)
		}
		if ctx.Err() != nil {
			return badIssuer("fetching the %s took longer than %s", what, timeout)
		}
		return badIssuer("the %s could not be fetched from %s", what, httpapi.Clip(u, 200))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return badIssuer("the %s at %s answered %d", what, httpapi.Clip(u, 200), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return badIssuer("fetching the %s took longer than %s", what, timeout)
		}
		return badIssuer("the %s could not be read", what)
	}
	if int64(len(body)) > limit {
		return badIssuer("the %s is larger than %d bytes", what, limit)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return badIssuer("the %s is not valid JSON (or holds a key of an unknown type)", what)
	}
	return nil
}

// usableKeys counts the public signature keys of a JWKS.
func usableKeys(set jose.JSONWebKeySet) int {
	n := 0
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() || k.Use == "enc" {
			continue
		}
		switch k.Algorithm {
		case "", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
			n++
		}
	}
	return n
}
