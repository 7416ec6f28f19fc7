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
//   - the DynamoDB table's keys, attributes and GSIs equal store.TableSchema;
//   - Globals and per-function settings (runtime, arm64, bootstrap, env,
//     least-privilege table policies: read only where declared, CRUD
//     everywhere else; authorizer env vars); which functions may hold
//     which other policy (StepFunctionsExecutionPolicy: the routes that
//     start executions; SNSPublishMessagePolicy on the events topic:
//     publishingFunctions; an inline statement allowing only
//     sts:AssumeRole on arn:…:iam::*:role/${TenantRoleName}:
//     providerFunctions; an inline statement allowing only email
//     sns:Subscribe on the events topic and sns:Unsubscribe,
//     sns:SetSubscriptionAttributes on its subscriptions:
//     subscribingFunctions; SQSSendMessagePolicy on a dead-letter queue:
//     its own function, deadLetterQueues), and nothing else; the table
//     streams NEW_IMAGE;
//   - the access providers (aws_test.go): PROVIDER, PROVIDER_POLL_BUDGET
//     and Timeout of exactly the functions whose main.go imports
//     shared/provider/providers (the budget fits the timeout, routes stay
//     under API Gateway's 30 s), the ProviderMode and TenantRoleName
//     parameters, and no STS action anywhere else;
//   - the events topic: KMS-encrypted, its output, SNS_TOPIC_ARN and SNS
//     permissions on publishingFunctions and subscribingFunctions only
//     (exactly the functions passing snspub.Open or OpenSubscriptions
//     to wiring), one NOTICE_LEAD for every
//     worker, API_BASE_URL for linkingFunctions only;
//   - every routes.Background function's trigger (backgroundFunctions:
//     the reconciler's enabled schedule from ReconcileSchedule; the
//     relay's stream event source mapping — audit inserts only
//     (FilterCriteria), ReportBatchItemFailures, finite retries, its own
//     on-failure queue —; the deliverer's unfiltered subscription to the
//     events topic, its dead-letter queue and retries);
//   - the notification path (notifications_test.go): NOTIFY_MODE aws
//     everywhere, the dead-letter queues (SSE-SQS, 14 days, URL
//     outputs), the Timeout of the functions that deliver to channels
//     covers one delivery (notify's attempts, timeout and backoff); the
//     stream filter lets the sample audit record through and nothing
//     else; the channel sample bodies are what their names say;
//   - every function has sample events in events/ and every event file
//     belongs to a function; events decode strictly into the aws-lambda-go
//     types (or the workflow's task input) and match their route or
//     trigger.
//
// The checks are plain functions returning problems, so the tests also run
// them against deliberately broken copies of the template to prove they fail.
//
// What cfn-lint (make validate, after the SAM transform) checks is not
// repeated here: that every Ref, GetAtt, ${...} in Sub and condition
// resolves (E1020, E1010, E1019, E1028) and that the resources have no
// dependency cycle (E3004).
package template
