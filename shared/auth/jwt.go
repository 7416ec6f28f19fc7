package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/jitsudo/jitsudo-serverless/shared/auth/principal"
)

// verifierFor returns the token verifier, running OIDC discovery on first use
// when no JWKS URL is configured. A failed discovery is remembered for
// discoveryRetryWait so a down issuer is not hammered.
func (a *Authorizer) verifierFor(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	now := a.now()
	if a.discoveryErr != nil && now.Sub(a.discoveryAt) < discoveryRetryWait && now.Sub(a.discoveryAt) >= 0 {
		return nil, a.discoveryErr
	}
	// Values (the HTTP client) from the base context, deadline from both.
	dctx, cancel := context.WithTimeout(a.baseCtx, discoveryTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	p, err := oidc.NewProvider(dctx, a.cfg.Issuer)
	if err != nil {
		a.discoveryErr, a.discoveryAt = fmt.Errorf("oidc discovery of %s: %w", a.cfg.Issuer, err), now
		return nil, a.discoveryErr
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURL == "" {
		a.discoveryErr, a.discoveryAt = fmt.Errorf("oidc discovery of %s: no jwks_uri", a.cfg.Issuer), now
		return nil, a.discoveryErr
	}
	a.discoveryErr = nil
	a.verifier = oidc.NewVerifier(a.cfg.Issuer, newKeySet(meta.JWKSURL, a.httpClient, a.oidcCfg.SupportedSigningAlgs, a.cfg.Now), a.oidcCfg)
	return a.verifier, nil
}

func (a *Authorizer) authenticateBearer(ctx context.Context, tenant, header string) (Identity, error) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Identity{}, unauthorized("Authorization must be \"Bearer <token>\"", nil)
	}
	token = strings.TrimLeft(token, " ")
	if token == "" || len(token) > maxTokenLen || strings.ContainsAny(token, " \t\r\n,") {
		return Identity{}, unauthorized("malformed bearer token", nil)
	}
	iss, ok := peekIssuer(token)
	if !ok {
		return Identity{}, unauthorized("invalid bearer token", errors.New("no readable iss"))
	}
	// Which issuers this tenant trusts: its own (settings), and the
	// default issuer when it has none or still accepts it (migration).
	te, err := a.tenantIdentity(ctx, tenant)
	if err != nil {
		return Identity{}, unavailable("tenant identity settings unavailable", err)
	}
	idp := te.settings
	var (
		v         *oidc.IDTokenVerifier
		audiences []string
		own       = idp != nil && iss == idp.IssuerURL
		groupsC   = a.cfg.GroupsClaim
		adminG    = a.cfg.AdminGroup
		emailC    = "email"
	)
	switch {
	case own:
		v = a.tenantVerifier(idp)
		audiences = append([]string{idp.Audience}, idp.ExtraAudiences...)
		groupsC, adminG = orDefault(idp.GroupsClaim, defaultGroupsClaim), orDefault(idp.AdminGroup, defaultAdminGroup)
		emailC = orDefault(idp.EmailClaim, "email")
	case a.oidcCfg != nil && iss == a.cfg.Issuer && (idp == nil || idp.AcceptDefaultIssuer):
		if v, err = a.verifierFor(ctx); err != nil {
			return Identity{}, unavailable("OIDC issuer unavailable", err)
		}
	case a.oidcCfg == nil && idp == nil:
		return Identity{}, unauthorized("bearer tokens are not accepted: no OIDC issuer configured", nil)
	default:
		return Identity{}, issuerNotTrusted(iss)
	}
	idt, err := v.Verify(ctx, token)
	if err != nil {
		// go-oidc flattens its errors; a JWKS fetch failure (issuer down while
		// the token's kid is not cached) is the only non-token failure.
		if strings.Contains(err.Error(), "fetching keys") && !errors.Is(ctx.Err(), context.Canceled) {
			return Identity{}, unavailable("OIDC key set unavailable", err)
		}
		return Identity{}, unauthorized("invalid bearer token", err)
	}
	var raw json.RawMessage
	if err := idt.Claims(&raw); err != nil {
		return Identity{}, unauthorized("invalid bearer token", err)
	}
	claims, err := decodeClaims(raw)
	if err != nil {
		return Identity{}, unauthorized("invalid bearer token", err)
	}
	if own && !audienceOK(claims, audiences) {
		return Identity{}, unauthorized("invalid bearer token", errors.New("audience not accepted by this tenant"))
	}
	if err := a.checkTimes(claims); err != nil {
		return Identity{}, err
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Identity{}, unauthorized("token has no subject", nil)
	}

	// The tenant claim: required and equal to X-Tenant-ID for the default
	// issuer (it serves every tenant); optional for a tenant's own issuer,
	// but when present it must name this tenant.
	tv, present := lookupClaim(claims, a.cfg.TenantClaim)
	tclaim, isString := tv.(string)
	absent := !present || tv == nil || (isString && tclaim == "")
	switch {
	case absent && own:
	case absent:
		return Identity{}, unauthorized(fmt.Sprintf("token has no %q claim", a.cfg.TenantClaim), nil)
	case !isString:
		return Identity{}, unauthorized(fmt.Sprintf("token claim %q is not a string", a.cfg.TenantClaim), nil)
	case tclaim != tenant:
		return Identity{}, &Error{Status: 403, Code: CodeTenantMismatch, Message: "the token belongs to another tenant than X-Tenant-ID"}
	}
	// The default issuer names any tenant; only an existing one is served
	// (no settings or data written under a tenant never created).
	if te.missing {
		return Identity{}, unauthorized("no such tenant", fmt.Errorf("tenant %q does not exist", tenant))
	}

	// A person is (issuer, subject): the default issuer's people keep the
	// bare sub (existing data), a tenant issuer's are qualified.
	principalID, issuer := sub, ""
	if own {
		principalID, issuer = principal.Qualify(iss, sub), iss
	} else if principal.IsQualified(sub) {
		return Identity{}, unauthorized("token subject has the form of a qualified principal id", nil)
	}

	groups, err := groupsFrom(claims, groupsC)
	if err != nil {
		return Identity{}, unauthorized("invalid bearer token", err)
	}
	scopes := []string{ScopeRequestsRead, ScopeRequestsWrite}
	if slices.Contains(groups, adminG) {
		scopes = append(scopes, ScopeAdmin)
	}
	var email string
	if ev, ok := lookupClaim(claims, emailC); ok {
		email, _ = ev.(string)
	}
	name, _ := claims["name"].(string)
	return Identity{
		TenantID:      tenant,
		PrincipalID:   principalID,
		PrincipalType: PrincipalUser,
		Issuer:        issuer,
		Groups:        groups,
		Scopes:        scopes,
		Email:         email,
		EmailVerified: email != "" && emailVerified(claims),
		Name:          name,
	}, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// emailVerified reads the OIDC `email_verified` claim: JSON true, or the
// string "true" (some issuers send strings). Anything else (absent, null,
// false, another type) is not verified: the email then never identifies
// the person.
func emailVerified(claims map[string]any) bool {
	switch v := claims["email_verified"].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(strings.TrimSpace(v), "true")
	}
	return false
}

func decodeClaims(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if m == nil {
		return nil, errors.New("claims: not an object")
	}
	return m, nil
}

// checkTimes enforces exp (required), nbf and iat with the configured skew.
func (a *Authorizer) checkTimes(claims map[string]any) error {
	now, skew := a.now(), a.cfg.ClockSkew
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return unauthorized("invalid bearer token", err)
	}
	if !ok {
		return unauthorized("token has no expiry", nil)
	}
	if now.After(exp.Add(skew)) {
		return unauthorized("bearer token expired", nil)
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return unauthorized("invalid bearer token", err)
	}
	if ok && now.Add(skew).Before(nbf) {
		return unauthorized("bearer token not yet valid", nil)
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil {
		return unauthorized("invalid bearer token", err)
	}
	if ok && now.Add(skew).Before(iat) {
		return unauthorized("bearer token issued in the future", nil)
	}
	return nil
}

func numericDate(claims map[string]any, k string) (time.Time, bool, error) {
	v, ok := claims[k]
	if !ok || v == nil {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false, fmt.Errorf("claim %s is not a number", k)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false, fmt.Errorf("claim %s out of range", k)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// lookupClaim finds a top-level claim by name; failing that, a name with dots
// is followed as a path through nested objects ("realm_access.roles").
// Top-level first, so namespaced claims like "https://example.com/groups"
// work as-is.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// groupsFrom reads the groups claim: an array of strings, or one string.
// Missing or null means no groups; anything else is a malformed token.
func groupsFrom(claims map[string]any, name string) ([]string, error) {
	v, ok := lookupClaim(claims, name)
	if !ok || v == nil {
		return nil, nil
	}
	switch t := v.(type) {
	case string:
		if t == "" {
			return nil, nil
		}
		return []string{t}, nil
	case []any:
		if len(t) > maxContextListItems {
			return nil, fmt.Errorf("claim %s has more than %d groups", name, maxContextListItems)
		}
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("claim %s has a non-string element", name)
			}
			if s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	default:
		return nil, fmt.Errorf("claim %s is neither a string nor an array", name)
	}
}
