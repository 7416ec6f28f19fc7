package template

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// writeRouteFunctions are the write-heavy routes with API Gateway limits of
// their own (below the default route's), beside the functions' per-principal
// limits (docs/limits.md).
var writeRouteFunctions = []string{"create-request", "post-message", "extend-grant"}

// numberParam returns a Number parameter's default and MinValue.
func numberParam(tp *tmpl, name string) (def, minValue float64, err error) {
	p, ok := tp.cfn.Parameters[name]
	if !ok {
		return 0, 0, fmt.Errorf("parameter %s is missing", name)
	}
	if p.Type != "Number" {
		return 0, 0, fmt.Errorf("parameter %s is %s, want Number", name, p.Type)
	}
	d, err := strconv.ParseFloat(fmt.Sprint(p.Default), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("parameter %s: default %v is not a number", name, p.Default)
	}
	if p.MinValue == nil {
		return d, 0, fmt.Errorf("parameter %s has no MinValue", name)
	}
	return d, *p.MinValue, nil
}

// refTo checks that n is `!Ref param` of a Number parameter whose MinValue
// is at least least.
func refTo(tp *tmpl, where string, n *yaml.Node, param string, least float64) []string {
	if got := marker(n); got != "Ref:"+param {
		return []string{fmt.Sprintf("%s is %q, want !Ref %s", where, got, param)}
	}
	if _, minValue, err := numberParam(tp, param); err != nil {
		return []string{err.Error()}
	} else if minValue < least {
		return []string{fmt.Sprintf("parameter %s allows %v (MinValue), want at least %v", param, minValue, least)}
	}
	return nil
}

// checkLimits: the HTTP API throttles every route (DefaultRouteSettings)
// and the write-heavy routes lower (their events' RouteSettings), from
// parameters; the authorizer has reserved concurrency (a parameter, at
// least 1: 0 would throttle every call); the functions get the
// per-principal limits from parameters whose defaults are the code's.
func checkLimits(tp *tmpl) []string {
	var errs []string
	apiID, _, err := tp.theHTTPAPI()
	if err != nil {
		return []string{err.Error()}
	}
	props := mapValue(resourceNode(tp, apiID), "Properties")
	drs := mapValue(props, "DefaultRouteSettings")
	errs = append(errs, refTo(tp, apiID+".DefaultRouteSettings.ThrottlingRateLimit", mapValue(drs, "ThrottlingRateLimit"), "ApiThrottlingRateLimit", 1)...)
	errs = append(errs, refTo(tp, apiID+".DefaultRouteSettings.ThrottlingBurstLimit", mapValue(drs, "ThrottlingBurstLimit"), "ApiThrottlingBurstLimit", 1)...)
	defRate, _, _ := numberParam(tp, "ApiThrottlingRateLimit")
	writeRate, _, _ := numberParam(tp, "WriteRouteThrottlingRateLimit")
	if writeRate > defRate {
		errs = append(errs, fmt.Sprintf("write routes' rate limit %v is above every route's %v", writeRate, defRate))
	}

	byFn := routeByFunction()
	for _, fn := range writeRouteFunctions {
		id := routes.LogicalID(fn)
		ev := eventProperties(tp, id)
		if ev == nil {
			errs = append(errs, id+" has no HttpApi event")
			continue
		}
		if r := byFn[fn]; marker(mapValue(ev, "Path")) != r.Path || marker(mapValue(ev, "Method")) != r.Method {
			errs = append(errs, fmt.Sprintf("%s's event is not %s", id, r.Key()))
		}
		rs := mapValue(ev, "RouteSettings")
		errs = append(errs, refTo(tp, id+" RouteSettings.ThrottlingRateLimit", mapValue(rs, "ThrottlingRateLimit"), "WriteRouteThrottlingRateLimit", 1)...)
		errs = append(errs, refTo(tp, id+" RouteSettings.ThrottlingBurstLimit", mapValue(rs, "ThrottlingBurstLimit"), "WriteRouteThrottlingBurstLimit", 1)...)
	}

	// The authorizer the API uses (not merely a function named so).
	_, a, err := tp.theHTTPAPI()
	if err == nil {
		_, def, aerr := defaultAuthorizer(a)
		if aerr != nil {
			errs = append(errs, aerr.Error())
		} else {
			arn := fmt.Sprint(def["FunctionArn"])
			authz := strings.TrimSuffix(strings.TrimPrefix(arn, "GetAtt:"), ".Arn")
			errs = append(errs, refTo(tp, authz+".ReservedConcurrentExecutions",
				mapValue(mapValue(resourceNode(tp, authz), "Properties"), "ReservedConcurrentExecutions"), "AuthorizerReservedConcurrency", 1)...)
		}
	}

	g, err := tp.cfn.GetServerlessGlobalFunction()
	if err != nil || g.Environment == nil {
		return append(errs, "Globals.Function has no Environment")
	}
	want := access.DefaultLimits()
	for _, v := range []struct {
		env, param string
		def        int64
	}{
		{"RATE_LIMIT_MESSAGES_PER_MINUTE", "RateLimitMessagesPerMinute", want.Messages.Max},
		{"RATE_LIMIT_REQUESTS_PER_MINUTE", "RateLimitRequestsPerMinute", want.Requests.Max},
		{"RATE_LIMIT_EXTENSIONS_PER_MINUTE", "RateLimitExtensionsPerMinute", want.Extensions.Max},
		{"MAX_MESSAGES_PER_REQUEST", "MaxMessagesPerRequest", want.MaxMessagesPerRequest},
	} {
		if got := g.Environment.Variables[v.env]; got != "Sub:${"+v.param+"}" {
			errs = append(errs, fmt.Sprintf("Globals %s is %q, want the parameter %s", v.env, got, v.param))
		}
		if d, _, err := numberParam(tp, v.param); err != nil {
			errs = append(errs, err.Error())
		} else if int64(d) != v.def {
			errs = append(errs, fmt.Sprintf("parameter %s defaults to %v, the code to %d", v.param, d, v.def))
		}
	}
	return errs
}

func TestLimits(t *testing.T) {
	for _, e := range checkLimits(loadTemplate(t)) {
		t.Error(e)
	}
}

// TestLimitsChecksDetectBreakage: each check fails on a template that
// breaks it.
func TestLimitsChecksDetectBreakage(t *testing.T) {
	data, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new string }{
		{"no reserved concurrency", "      ReservedConcurrentExecutions: !Ref AuthorizerReservedConcurrency\n", ""},
		{"no default throttling", "        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit\n", ""},
		{"write route unthrottled", "            Path: /v1/requests/{id}/messages\n            RouteSettings:\n              ThrottlingRateLimit: !Ref WriteRouteThrottlingRateLimit\n", "            Path: /v1/requests/{id}/messages\n            RouteSettings:\n"},
		{"write routes above the default", "  WriteRouteThrottlingRateLimit:\n    Type: Number\n    Default: 20\n", "  WriteRouteThrottlingRateLimit:\n    Type: Number\n    Default: 2000\n"},
		{"reservation may be 0", "  AuthorizerReservedConcurrency:\n    Type: Number\n    Default: 50\n    MinValue: 1\n", "  AuthorizerReservedConcurrency:\n    Type: Number\n    Default: 50\n    MinValue: 0\n"},
		{"limit not configured", "        MAX_MESSAGES_PER_REQUEST: !Sub \"${MaxMessagesPerRequest}\"\n", ""},
		{"default differs from the code", "  RateLimitMessagesPerMinute:\n    Type: Number\n    Default: 30\n", "  RateLimitMessagesPerMinute:\n    Type: Number\n    Default: 300\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(data), c.old) {
				t.Fatalf("template has no %q", c.old)
			}
			tp, err := parseTemplate([]byte(strings.Replace(string(data), c.old, c.new, 1)))
			if err != nil {
				t.Fatalf("mutated template does not parse: %v", err)
			}
			if errs := checkLimits(tp); len(errs) == 0 {
				t.Fatal("the check passed a broken template")
			}
		})
	}
}
