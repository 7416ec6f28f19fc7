// Package template holds the tests that keep template.yaml (the AWS SAM
// application), events/ and functions/ consistent with the route table
// (shared/routes), the table schema (shared/store.TableSchema) and the
// authorizer's configuration (shared/auth). It has no non-test code; run
// `go test ./infra/template/`.
//
// What is checked:
//
//   - every route of routes.Table is served by exactly one
//     AWS::Serverless::Function (logical id routes.LogicalID, CodeUri
//     functions/<fn>/) with an HttpApi event of the same method and path, and
//     no function serves a route outside the table; /healthz has Auth NONE,
//     every other route uses the default (Lambda) authorizer;
//   - routes.Functions() and the template's functions are the same set, and
//     each functions/<fn> has a main.go;
//   - every Ref, GetAtt, ${...} in Sub and condition name resolves;
//   - the DynamoDB table's keys, attributes and GSIs equal store.TableSchema;
//   - Globals and per-function settings (runtime, arm64, bootstrap, env,
//     least-privilege table policies, authorizer env vars);
//   - every function has sample events in events/ and every event file
//     belongs to a function; events decode strictly into the aws-lambda-go
//     types and match their route.
//
// The checks are plain functions returning problems, so the tests also run
// them against deliberately broken copies of the template to prove they fail.
package template
