package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/policy"
)

func TestCreateOutcomes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// require
	res, err := e.svc.Create(ctx, alice, psInput(acctProd), "")
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	if r.Status != access.StatusPending || r.ApprovalMode != policy.ModeRequire || r.ApprovalTimeout != 3600 ||
		r.ApprovalsRequired != 1 || r.ApprovalDeadline == nil || res.Grant != nil {
		t.Fatalf("require: %+v", r)
	}
	st := e.wf.Starts()
	if len(st) != 1 || st[0] != (access.WorkflowInput{TenantID: tenantA, RequestID: r.ID, Mode: policy.ModeRequire, ApprovalTimeoutSeconds: 3600}) {
		t.Fatalf("starts: %+v", st)
	}

	// auto
	res, err = e.svc.Create(ctx, alice, psInput(acctDev), "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.Status != access.StatusApproved || res.Grant == nil || res.Grant.Status != access.GrantProvisioning ||
		res.Grant.ID != access.GrantIDFor(res.Request.ID) || res.Request.GrantID != res.Grant.ID || res.Request.DecidedBy != access.DecidedByPolicy {
		t.Fatalf("auto: %+v %+v", res.Request, res.Grant)
	}
	if st := e.wf.Starts(); st[1].Mode != policy.ModeAuto || st[1].GrantID != res.Grant.ID {
		t.Fatalf("auto start: %+v", st[1])
	}

	// break-glass
	bg := psInput("444455556666")
	bg.BreakGlass = true
	bg.Reason = "SEV1: payments down, need admin now"
	res, err = e.svc.Create(ctx, mallory, bg, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.Status != access.StatusApproved || res.Request.ApprovalMode != policy.ModeBreakGlass || res.Grant == nil || !res.Grant.BreakGlass {
		t.Fatalf("break-glass: %+v", res.Request)
	}
	evs, _, err := e.svc.AuditLog(ctx, admin, access.AuditFilter{Action: access.AuditRequestBreakGlass}, access.Page{})
	if err != nil || len(evs) != 1 || evs[0].Severity != access.SeverityCritical || evs[0].ResourceID != res.Request.ID {
		t.Fatalf("break-glass audit: %+v %v", evs, err)
	}

	// deny (forbid) and deny (no applicable policy)
	for _, tc := range []struct {
		c  access.Caller
		in access.CreateInput
	}{{alice, psInput(acctFrozen)}, {mallory, psInput(acctProd)}} {
		res, err = e.svc.Create(ctx, tc.c, tc.in, "")
		var pd *access.PolicyDeniedError
		if !errors.As(err, &pd) || pd.Request.Status != access.StatusDenied || pd.Request.DecidedBy != access.DecidedByPolicy || pd.Decision.Reason == "" {
			t.Fatalf("deny: %v", err)
		}
		got, gerr := e.svc.Get(ctx, tc.c, pd.Request.ID)
		if gerr != nil || got.Status != access.StatusDenied || got.DecisionReasoning != pd.Decision.Reason {
			t.Fatalf("denied request stored: %+v %v", got, gerr)
		}
	}
	if len(e.wf.Starts()) != 3 {
		t.Fatalf("denied requests must not start workflows: %d", len(e.wf.Starts()))
	}
	if v := verify(t, e, tenantA); !v.Valid || v.Checked != 5 {
		t.Fatalf("audit: %+v", v)
	}
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 2001)
	big := map[string]any{"blob": strings.Repeat("y", 5000)}
	cases := []struct {
		name  string
		mod   func(*access.CreateInput)
		key   string
		field string
	}{
		{"unknown type", func(in *access.CreateInput) { in.Resource.Type = "aws_lambda" }, "", "resource.type"},
		{"bad account", func(in *access.CreateInput) { in.Resource.ID = "12345" }, "", "resource.id"},
		{"bad ou", func(in *access.CreateInput) {
			in.Resource = access.Resource{Type: "aws_organizational_unit", ID: "ou-x"}
		}, "", "resource.id"},
		{"bad ec2", func(in *access.CreateInput) {
			in.Resource = access.Resource{Type: "aws_ec2_instance", ID: "i-zz"}
			in.PermissionSetARN = ""
		}, "", "resource.id"},
		{"bad s3", func(in *access.CreateInput) {
			in.Resource = access.Resource{Type: "aws_s3_bucket", ID: "A_B"}
			in.PermissionSetARN = ""
		}, "", "resource.id"},
		{"bad rds", func(in *access.CreateInput) {
			in.Resource = access.Resource{Type: "aws_rds_instance", ID: "db1"}
			in.PermissionSetARN = ""
		}, "", "resource.id"},
		{"bad ps arn", func(in *access.CreateInput) { in.PermissionSetARN = "arn:aws:iam::1:role/x" }, "", "permission_set_arn"},
		{"ps without account", func(in *access.CreateInput) {
			in.Resource = access.Resource{Type: "aws_permission_set", ID: psARN}
			in.PermissionSetARN = ""
		}, "", "resource.account_id"},
		{"too short", func(in *access.CreateInput) { in.DurationSeconds = 59 }, "", "duration_seconds"},
		{"too long", func(in *access.CreateInput) { in.DurationSeconds = 7*24*3600 + 1 }, "", "duration_seconds"},
		{"no reason", func(in *access.CreateInput) { in.Reason = "   " }, "", "reason"},
		{"reason too long", func(in *access.CreateInput) { in.Reason = long }, "", "reason"},
		{"break-glass reason short", func(in *access.CreateInput) { in.BreakGlass = true; in.Reason = "urgent" }, "", "reason"},
		{"metadata too big", func(in *access.CreateInput) { in.Metadata = big }, "", "metadata"},
		{"bad action", func(in *access.CreateInput) { in.Action = "approve_request" }, "", "action"},
		{"bad idempotency key", func(*access.CreateInput) {}, "has space", "idempotency_key"},
		{"idempotency key too long", func(*access.CreateInput) {}, strings.Repeat("k", 129), "idempotency_key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := psInput(acctProd)
			tc.mod(&in)
			_, err := e.svc.Create(context.Background(), alice, in, tc.key)
			var ve *access.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want ValidationError, got %v", err)
			}
			found := false
			for _, f := range ve.Fields {
				found = found || f.Field == tc.field
			}
			if !found {
				t.Fatalf("want field %s in %v", tc.field, ve)
			}
		})
	}
	// Valid shapes of every resource type pass validation.
	for _, r := range []access.Resource{
		{Type: "aws_account", ID: "123456789012"},
		{Type: "aws_permission_set", ID: psARN, AccountID: "123456789012"},
		{Type: "aws_organizational_unit", ID: "ou-ab12-cdef5678"},
		{Type: "aws_organizational_unit", ID: "r-ab12"},
		{Type: "aws_ec2_instance", ID: "i-0123456789abcdef0", AccountID: "123456789012"},
		{Type: "aws_s3_bucket", ID: "my.bucket-1"},
		{Type: "aws_rds_instance", ID: "arn:aws:rds:eu-west-1:123456789012:db:orders"},
		{Type: "AwsAccount", ID: "123456789012"},
	} {
		if errs := access.ValidateResource(r); len(errs) != 0 {
			t.Errorf("ValidateResource(%+v) = %v", r, errs)
		}
	}
	if len(e.wf.Starts()) != 0 {
		t.Fatal("invalid input must not start anything")
	}
}

func TestDuplicateGuard(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first := mustCreate(t, e, alice, psInput(acctProd))
	_, err := e.svc.Create(ctx, alice, psInput(acctProd), "")
	var dup *access.DuplicateError
	if !errors.As(err, &dup) || dup.RequestID != first.Request.ID || dup.GrantID != "" {
		t.Fatalf("pending duplicate: %v", err)
	}
	// Another requester, or another permission set, is not a duplicate.
	other := psInput(acctProd)
	other.PermissionSetARN = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-fedcba9876543210"
	mustCreate(t, e, alice, other)
	mustCreate(t, e, user(tenantA, "erin", "engineering"), psInput(acctProd))
	// Ended without a grant → released.
	if _, err := e.svc.Cancel(ctx, alice, first.Request.ID); err != nil {
		t.Fatal(err)
	}
	second := mustCreate(t, e, alice, psInput(acctProd))
	if _, err := e.svc.Deny(ctx, bob, second.Request.ID, "no"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, alice, psInput(acctProd))

	// Live grant → duplicate names it; revoked → released.
	auto := mustCreate(t, e, alice, psInput(acctDev))
	_, err = e.svc.Create(ctx, alice, psInput(acctDev), "")
	if !errors.As(err, &dup) || dup.GrantID != auto.Grant.ID || dup.RequestID != auto.Request.ID {
		t.Fatalf("grant duplicate: %v", err)
	}
	if _, err := e.svc.ProvisionGrant(ctx, tenantA, auto.Grant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.RevokeGrant(ctx, alice, auto.Grant.ID, "done"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, e, alice, psInput(acctDev))
	// A policy denial does not hold the target.
	for range 2 {
		var pd *access.PolicyDeniedError
		if _, err := e.svc.Create(ctx, alice, psInput(acctFrozen), ""); !errors.As(err, &pd) {
			t.Fatalf("want denial, got %v", err)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.svc.Create(ctx, alice, psInput(acctProd), "key-1")
	if err != nil || first.Replayed {
		t.Fatal(err)
	}
	again, err := e.svc.Create(ctx, alice, psInput(acctProd), "key-1")
	if err != nil || !again.Replayed || again.Request.ID != first.Request.ID || again.Request.Status != access.StatusPending {
		t.Fatalf("replay: %+v %v", again, err)
	}
	if st := e.wf.Starts(); len(st) != 2 || st[1].RequestID != first.Request.ID {
		t.Fatalf("replay of a pending request starts its workflow again (harmless): %+v", st)
	}
	// The replay reflects the current state.
	if _, err := e.svc.Approve(ctx, bob, first.Request.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	again, err = e.svc.Create(ctx, alice, psInput(acctProd), "key-1")
	if err != nil || again.Request.Status != access.StatusApproved || again.Grant == nil {
		t.Fatalf("replay after approval: %+v %v", again, err)
	}
	// Same key, other body.
	changed := psInput(acctProd)
	changed.DurationSeconds = 7200
	if _, err := e.svc.Create(ctx, alice, changed, "key-1"); !errors.Is(err, access.ErrIdempotencyMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	// Keys are per requester.
	if _, err := e.svc.Create(ctx, user(tenantA, "erin", "engineering"), psInput(acctProd), "key-1"); err != nil {
		t.Fatal(err)
	}
	// A denied request replays as the same denial.
	_, err1 := e.svc.Create(ctx, alice, psInput(acctFrozen), "key-2")
	_, err2 := e.svc.Create(ctx, alice, psInput(acctFrozen), "key-2")
	var pd1, pd2 *access.PolicyDeniedError
	if !errors.As(err1, &pd1) || !errors.As(err2, &pd2) || pd1.Request.ID != pd2.Request.ID {
		t.Fatalf("denied replay: %v / %v", err1, err2)
	}

	// Workflow start failing: request stored and returned without error
	// (the workflow driver starts it from the stream); a retry with the
	// key starts it too.
	e.wf.failStart = 100
	res, err := e.svc.Create(ctx, alice, psInput(acctTwo), "key-3")
	if err != nil || res.Request.ID == "" {
		t.Fatalf("start failure: %v", err)
	}
	e.wf.failStart = 0
	n := len(e.wf.Starts())
	again, err = e.svc.Create(ctx, alice, psInput(acctTwo), "key-3")
	if err != nil || !again.Replayed || again.Request.ID != res.Request.ID || len(e.wf.Starts()) != n+1 {
		t.Fatalf("retry after start failure: %v", err)
	}

	// Concurrent creates with one key: one request.
	ids := make(chan string, 8)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			r, err := e.svc.Create(ctx, carol, psInput("555566667777"), "race")
			ids <- r.Request.ID
			errs <- err
		}()
	}
	seen := map[string]bool{}
	for range 8 {
		id := <-ids
		err := <-errs
		var pd *access.PolicyDeniedError
		if err != nil && !errors.As(err, &pd) {
			t.Fatalf("concurrent create: %v", err)
		}
		seen[id] = true
	}
	if len(seen) != 1 {
		t.Fatalf("concurrent creates with one key made %d requests", len(seen))
	}
}
