// Package devstack runs the whole system on localhost: the embedded
// DynamoDB, a local OIDC issuer, and a gateway that does what API Gateway
// (HTTP API, payload 2.0) does in AWS — match the route, run the Lambda
// authorizer, then hand the route's Lambda handler the same v2 event it
// would get in AWS. Nothing in it bypasses authentication.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/httpapi"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// LambdaHandler is a function's Lambda entry point for HTTP API events.
type LambdaHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Authorizer is what the gateway asks before every non-public route.
type Authorizer interface {
	HandleRequest(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error)
	AuthorizeRoute(ctx context.Context, routeKey string, headers map[string]string) (auth.Identity, error)
}

// Gateway routes HTTP requests to Lambda handlers like API Gateway does.
type Gateway struct {
	mux    *http.ServeMux
	authz  Authorizer
	fns    map[string]LambdaHandler
	logger *slog.Logger
}

// MaxPayloadBytes is API Gateway's request payload limit.
const MaxPayloadBytes = 10 << 20

// NewGateway serves every route of routes.Table with fns[route.Function].
func NewGateway(authz Authorizer, fns map[string]LambdaHandler, logger *slog.Logger) (*Gateway, error) {
	g := &Gateway{mux: http.NewServeMux(), authz: authz, fns: fns, logger: logger}
	for _, rt := range routes.Table {
		if fns[rt.Function] == nil {
			return nil, fmt.Errorf("devstack: no handler for function %q", rt.Function)
		}
		g.mux.Handle(rt.Pattern(), g.route(rt))
	}
	return g, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := g.mux.Handler(r); pattern == "" {
		// A known path with another method is a 405 naming the methods
		// it has (API Gateway answers such a call with a bare 404: an
		// HTTP API has no notion of a path apart from its routes).
		if allow := g.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			httpapi.WriteJSON(w, http.StatusMethodNotAllowed, &httpapi.Error{Code: "method_not_allowed",
				Message: r.Method + " is not allowed here; allowed: " + strings.Join(allow, ", ")})
			return
		}
		httpapi.WriteJSON(w, http.StatusNotFound, &httpapi.Error{Code: "not_found", Message: "no route for " + r.Method + " " + r.URL.Path})
		return
	}
	g.mux.ServeHTTP(w, r)
}

// allowed lists the methods of the routes whose path matches r's.
func (g *Gateway) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := g.mux.Handler(probe); pattern != "" && m != r.Method {
			allow = append(allow, m)
		}
	}
	return allow
}

var paramRe = regexp.MustCompile(`\{([a-zA-Z_][a-zA-Z0-9_]*)\+?\}`)

func (g *Gateway) route(rt routes.Route) http.Handler {
	params := paramRe.FindAllStringSubmatch(rt.Path, -1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ev, err := g.event(r, rt, params)
		if err != nil {
			httpapi.WriteError(w, err)
			return
		}
		if !rt.Public {
			ok := g.authorize(r.Context(), w, &ev)
			if !ok {
				return
			}
		}
		resp, err := g.invoke(r.Context(), rt.Function, ev)
		if err != nil {
			g.logger.Error("function failed", "function", rt.Function, "error", err.Error())
			httpapi.WriteJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
			return
		}
		writeResponse(w, resp)
		g.logger.Info("request", "route", rt.Key(), "function", rt.Function, "status", resp.StatusCode,
			"request_id", ev.RequestContext.RequestID, "ms", time.Since(start).Milliseconds())
	})
}

// event builds the payload 2.0 event API Gateway would send.
func (g *Gateway) event(r *http.Request, rt routes.Route, params [][]string) (events.APIGatewayV2HTTPRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
	if err != nil {
		return events.APIGatewayV2HTTPRequest{}, httpapi.Errorf(http.StatusBadRequest, "bad_request", "could not read the request body")
	}
	if len(body) > MaxPayloadBytes {
		return events.APIGatewayV2HTTPRequest{}, httpapi.Errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body exceeds API Gateway's 10 MB limit")
	}
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	var pathParams map[string]string
	for _, p := range params {
		if pathParams == nil {
			pathParams = map[string]string{}
		}
		pathParams[p[1]] = r.PathValue(p[1])
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := time.Now().UTC()
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: rt.Key(), RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: headers, QueryStringParameters: query, PathParameters: pathParams,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: rt.Key(), AccountID: "000000000000", Stage: "$default", RequestID: requestID(),
			APIID: "local", DomainName: r.Host, DomainPrefix: "local",
			Time: now.Format("02/Jan/2006:15:04:05 -0700"), TimeEpoch: now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: ip, UserAgent: r.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev, nil
}

// authorize runs the Lambda authorizer on ev and, when it allows, puts its
// context on ev. When it denies, API Gateway would answer a bare 403; the
// dev gateway answers with the precise {code, message, details} instead.
func (g *Gateway) authorize(ctx context.Context, w http.ResponseWriter, ev *events.APIGatewayV2HTTPRequest) bool {
	req := events.APIGatewayV2CustomAuthorizerV2Request{
		Version: "2.0", Type: "REQUEST",
		RouteArn: "arn:aws:execute-api:local:000000000000:local/$default/" + strings.Replace(ev.RouteKey, " ", "", 1),
		RouteKey: ev.RouteKey, RawPath: ev.RawPath, RawQueryString: ev.RawQueryString,
		Headers: ev.Headers, QueryStringParameters: ev.QueryStringParameters, PathParameters: ev.PathParameters,
		RequestContext: ev.RequestContext,
	}
	resp, err := g.authz.HandleRequest(ctx, req)
	if err != nil {
		var ae *auth.Error
		if _, explained := g.authz.AuthorizeRoute(ctx, ev.RouteKey, ev.Headers); errors.As(explained, &ae) {
			httpapi.WriteJSON(w, ae.Status, &httpapi.Error{Code: ae.Code, Message: ae.Message})
			return false
		}
		httpapi.WriteJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		return false
	}
	if !resp.IsAuthorized {
		_, explained := g.authz.AuthorizeRoute(ctx, ev.RouteKey, ev.Headers)
		var ae *auth.Error
		if errors.As(explained, &ae) {
			httpapi.WriteJSON(w, ae.Status, &httpapi.Error{Code: ae.Code, Message: ae.Message})
		} else {
			httpapi.WriteJSON(w, http.StatusForbidden, &httpapi.Error{Code: "forbidden", Message: "Forbidden"})
		}
		return false
	}
	ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: resp.Context}
	return true
}

// invoke hands ev to the function as Lambda would: serialised to JSON and
// back, so nothing but what survives the wire reaches the handler.
func (g *Gateway) invoke(ctx context.Context, function string, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("marshal event: %w", err)
	}
	var wire events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &wire); err != nil {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("unmarshal event: %w", err)
	}
	return g.fns[function](ctx, wire)
}

func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) {
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range resp.MultiValueHeaders {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if b, err := base64.StdEncoding.DecodeString(resp.Body); err == nil {
			body = b
		}
	}
	status := resp.StatusCode
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
