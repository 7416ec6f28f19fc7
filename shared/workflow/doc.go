// Package workflow is the access-request workflow's Go side: SFN, the
// access.Workflow over AWS Step Functions (service/sfn), and Workers, the
// Lambda handlers of the state machine's Task states
// (statemachines/access-request.asl.json; functions/<worker>/main.go only
// wire them).
//
// One Standard execution per request, named after the request id, with
// input {tenant_id, request_id, grant_id, mode, approval_timeout_seconds}:
//
//	ChooseMode ─ require ──► WaitForApproval (.waitForTaskToken, StoreTaskToken,
//	   │                        TimeoutSecondsPath approval_timeout_seconds)
//	   │                        ├─ success {status: approved, grant_id} ──► ApprovedMeanwhile
//	   │                        ├─ Denied / Cancelled / Expired ─────────► Closed
//	   │                        └─ States.Timeout ─► ApprovalTimeout ─► ApprovedMeanwhile
//	   │                                             (ExpireRequest)     ├─ approved with a grant ─► Provision
//	   │                                                                 └─ otherwise (also an approved
//	   │                                                                    extension request) ► Closed
//	   └─ auto | break_glass ─► Provision (Retry Retryable + Lambda service errors,
//	                              2 s × 2, 6 attempts, ≤ 30 s apart)
//	                              ├─ any error ─► FailGrant ─► ProvisioningFailed (Fail)
//	                              └─ ok ─► WaitUntilNotice ($.grant.notify_at)
//	                                        ─► NotifyExpiringSoon (grant.expiring_soon)
//	                                        ─► WaitUntilExpiry ($.grant.expires_at)
//	                                        ─► ExpireGrant ─► StillActive
//	                                              ├─ active (extended) ─► WaitUntilNotice
//	                                              └─ ended ─► Done
//
// Extension. An extension moves the grant's end in the table only. The
// execution notices at its next wake-up: NotifyExpiringSoon, when the
// notice is not due yet, returns the new notice time as the next wake-up;
// ExpireGrant before the end is a no-op that returns the grant active;
// StillActive loops back to wait for the new notice and end.
//
// State transitions (states entered, plus one per retry; what Standard
// workflows bill):
//
//	auto / break_glass                           8
//	require, approved                           10
//	require, denied or cancelled                 3
//	require, timed out (request expired)         5
//	require, timed out but approved meanwhile   11
//	provisioning failed                          4 (+ FailGrant retries)
//	each extension noticed after the notice      +5 (one more loop)
//
// so a require lifecycle stays at or under 11 without retries (budget 12).
//
// Races. A decision commits first and then resumes the wait with the token
// stored on the request. If the decision came before StoreTaskToken stored
// the token, StoreTaskToken finds the request decided and resumes the wait
// itself. If a resume is lost, or arrives after the timeout (ErrTaskGone),
// the ApprovalTimeoutWorker's ExpireRequest finds the request decided and
// returns it unchanged; an approved one is provisioned from there. Every
// worker is idempotent, so Step Functions' at-least-once retries are safe.
//
// Errors. aws-lambda-go reports a returned error's type name as the Lambda
// errorType, which Step Functions uses as the States Language error name:
// workers return *Retryable for transient failures (matched by Retry) and
// *Permanent for the rest.
package workflow
