// Package policy is jitsudo's policy engine: tenant rules in the original
// JITSudo's decomposed form, assembled into Cedar (cedar-go v1.9.1) and
// evaluated with priority tiers. No AWS in here.
//
// # Rules
//
// A Rule is validated and canonicalized by Normalize (API input is hostile):
// id ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ (not "export"/"import"); effect
// permit|forbid; principal scope any|eq|in|is|is_in over User/Group;
// action scope any|eq|in over request_access, approve_request, extend_grant;
// resource scope any|eq|in|is|is_in over AwsAccount, AwsPermissionSet,
// AwsOrganizationalUnit, AwsS3Bucket, AwsRdsInstance, AwsEc2Instance. For
// is_in, *_entity_type is the `is` type and *_entity_id names the container
// as Type::id ("Group::engineering", "AwsAccount::123456789012"). The
// original's principal_entity_id "group:engineering" (with an empty type) is
// accepted for eq/in and canonicalized to Group/"engineering".
// approval_mode is required on a permit covering request_access; require
// gets approval_timeout DefaultApprovalTimeout (4h) and approvals_required 1
// by default; timeouts are canonicalized ("90m" -> "1h30m"). Forbids carry
// no approval fields. conditions must be only when { … } / unless { … }
// clauses (a bare expression is rejected with a hint); they are parsed in
// isolation and stored in cedar-go's canonical printing, so comments and
// formatting tricks cannot survive.
//
// Escape checks: the rule is assembled as a Cedar AST (not by string
// concatenation), printed, parsed back and compared: exactly one policy, the
// declared effect, scope and annotations, and the same conditions. A
// policy_text must be exactly one statement with only our annotations
// (@id, @name, @description, @priority, @enabled, @approval_mode,
// @approval_timeout, @approvals_required, @notice, @notification_channel);
// decomposed fields given alongside must be empty or agree; a policy_text
// without @enabled is enabled.
//
// A forbid given without a priority (NormalizeInput with priorityGiven
// false, or Import of a forbid without @priority) gets
// DefaultForbidPriority (1000); Normalize keeps a rule's priority as it is.
// Shadowed lists forbids that a higher-priority permit may pre-empt.
//
// # Decisions
//
// Compile drops disabled rules and sorts by priority desc, id asc. Tiers are
// groups of equal priority. The first tier in which a policy applies or
// errors decides: an error denies (cedar-go would skip an erroring forbid),
// else any forbid denies, else the permits allow with the most restrictive
// mode (require > break_glass > auto), the shortest timeout and the largest
// approvals_required among the winners. No tier decides: deny, "no
// applicable policy". break_glass permits only exist when the request asks
// for break-glass; if that pass does not end in a break_glass allow, the
// ordinary decision (break_glass permits excluded) is returned with a
// reason prefixed "break-glass not permitted; ordinary decision: ".
//
// Entities are derived from the request: User (parents: its Groups),
// Group, the resource (parent: AwsAccount when AccountID is set, else the OU
// when OUID is set), the account (parent: AwsOrganizationalUnit when OUID is
// set). Context: duration_seconds (the time asked for; for extend_grant
// the increment), total_duration_seconds (the grant's total if the request
// succeeds: for extend_grant its end after the extension minus its start,
// otherwise duration_seconds), justification, break_glass, now (datetime;
// time.Now() when Request.Now is zero), mode, requester {id, groups,
// entity, <attributes>}, metadata (see metadataValue), account (the
// AwsAccount the resource is or is in, when there is one).
//
// A rule whose resource scope names an account (== AwsAccount, is AwsAccount,
// is AwsAccount in …) is evaluated as covering everything inside the account,
// so it governs a request for a permission set on that account exactly as it
// governs a request for the bare account (see account.go).
//
// # Speed
//
// Decide evaluates only candidate rules: each rule sits in one index bucket
// (its principal scope entity, else its resource scope entity, else a
// catch-all list); a request looks up the buckets of its principal's and
// resource's ancestors, filters by exact scope match and evaluates the
// candidates tier by tier with cedar.Authorize over a candidate iterator.
// A rule not in the candidates has a false scope, and a false scope
// short-circuits the policy to false without evaluating its conditions, so
// the result (including errors) equals DecideFullScan, the reference that
// runs cedar.Authorize over every rule of each tier.
package policy
