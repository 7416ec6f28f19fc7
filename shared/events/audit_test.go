package events_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/events"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// auditOf is the one audit event of action on resourceID.
func auditOf(t *testing.T, st *store.Store, tenant, action, resourceID string) access.AuditEvent {
	t.Helper()
	evs, _, err := st.ListAudit(context.Background(), tenant, access.AuditQuery{Action: action, ResourceID: resourceID}, access.Page{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit %s of %s: %v, %v; want one", action, resourceID, evs, err)
	}
	return evs[0]
}

func mapper(st *store.Store) events.Mapper {
	return events.Mapper{Loader: st, Rules: events.RuleChannels{Rules: st}, Links: events.NewLinks(apiBase)}
}

func mustEvent(t *testing.T, m events.Mapper, a access.AuditEvent) events.Event {
	t.Helper()
	ev, ok, err := m.Event(context.Background(), a)
	if err != nil || !ok {
		t.Fatalf("Event(%s %s) = ok %v, %v", a.Action, a.ID, ok, err)
	}
	if ev.Version != events.Version || ev.ID != a.ID || ev.TenantID != a.TenantID || !ev.OccurredAt.Equal(a.CreatedAt) ||
		ev.Actor != (events.Actor{ID: a.ActorID, Type: a.ActorType}) || ev.Reasoning != a.Reasoning {
		t.Fatalf("event header %+v of audit %+v", ev, a)
	}
	return ev
}

func links(requestID, grantID string, pending bool) events.Links {
	l := events.NewLinks(apiBase).Links(acme, requestID, grantID)
	if !pending {
		l.Approve, l.Deny = "", ""
	}
	return l
}

// TestRequestLifecycle: pending → approved through the real service and
// store; the pending event keeps saying pending after the approval.
func TestRequestLifecycle(t *testing.T) {
	t.Parallel()
	st, _, _ := dynamotest.New(t)
	svc := setupTenant(t, st, acme)
	ctx := context.Background()
	alice, bob := user(acme, "alice"), user(acme, "bob", "approvers")
	res, err := svc.Create(ctx, alice, input(acctReq), "")
	if err != nil {
		t.Fatal(err)
	}
	id := res.Request.ID
	m := mapper(st)
	created := auditOf(t, st, acme, access.AuditRequestCreated, id)
	pending := mustEvent(t, m, created)
	want := events.Request{
		ID: id, Status: access.StatusPending, RequesterID: "alice", RequesterEmail: "alice@example.com",
		Resource: events.Resource{Type: "aws_account", ID: acctReq}, PermissionSetARN: psARN, Action: "request_access",
		Justification: "JIRA-42: deploy hotfix to production", DurationSeconds: 3600, ApprovalMode: "require",
		ApprovalsRequired: 1, ApprovalDeadline: res.Request.ApprovalDeadline, CreatedAt: res.Request.CreatedAt,
	}
	if pending.Type != events.RequestPending || pending.Severity != events.SeverityInfo || pending.Request == nil ||
		!reflect.DeepEqual(*pending.Request, want) || pending.Grant != nil || pending.Message != nil {
		t.Fatalf("pending event %+v\nrequest %+v\nwant    %+v", pending, pending.Request, want)
	}
	if !slices.Equal(pending.Channels, []string{"ch_security"}) || pending.Links != links(id, "", true) {
		t.Fatalf("pending channels %v, links %+v", pending.Channels, pending.Links)
	}
	if pending.Links.Approve != apiBase+"/v1/requests/"+id+"/approve" {
		t.Fatalf("approve link %q", pending.Links.Approve)
	}

	if _, err := svc.Approve(ctx, bob, id, "looks right"); err != nil {
		t.Fatal(err)
	}
	approved := mustEvent(t, m, auditOf(t, st, acme, access.AuditRequestApproved, id))
	grantID := access.GrantIDFor(id)
	r := approved.Request
	if approved.Type != events.RequestApproved || r.Status != access.StatusApproved || r.DecidedBy != "bob" || r.GrantID != grantID ||
		r.Approvals != 1 || approved.Reasoning != "looks right" || approved.Links != links(id, grantID, false) ||
		!slices.Equal(approved.Channels, []string{"ch_security"}) {
		t.Fatalf("approved event %+v, request %+v", approved, r)
	}

	// The snapshot: mapped again now, the creation still says pending.
	again := mustEvent(t, m, created)
	if !reflect.DeepEqual(again, pending) {
		t.Fatalf("pending event mapped after the approval\n%+v\nwas\n%+v", again.Request, pending.Request)
	}

	// Without Rules: no channels, the rest alike.
	ev, ok, err := events.Mapper{Loader: st, Links: events.NewLinks(apiBase)}.Event(ctx, created)
	if err != nil || !ok || ev.Channels != nil || !reflect.DeepEqual(ev.Request, pending.Request) || ev.Links != pending.Links {
		t.Fatalf("without Rules: %+v, %v, %v", ev, ok, err)
	}
	// No LinkBuilder, empty base: no links.
	for _, lb := range []events.LinkBuilder{nil, events.NewLinks("")} {
		ev, _, err := events.Mapper{Loader: st, Links: lb}.Event(ctx, created)
		if err != nil || ev.Links != (events.Links{}) {
			t.Fatalf("links without a base: %+v, %v", ev.Links, err)
		}
	}
}

// TestPolicyDecisions: automatic approval, break-glass and a policy
// denial, each one event at creation.
func TestPolicyDecisions(t *testing.T) {
	t.Parallel()
	st, _, _ := dynamotest.New(t)
	svc := setupTenant(t, st, acme)
	ctx := context.Background()
	m := mapper(st)
	alice := user(acme, "alice")

	auto, err := svc.Create(ctx, alice, input(acctAuto), "")
	if err != nil {
		t.Fatal(err)
	}
	ev := mustEvent(t, m, auditOf(t, st, acme, access.AuditRequestApproved, auto.Request.ID))
	if ev.Type != events.RequestApproved || ev.Actor.Type != access.ActorTypePolicy || ev.Request.DecidedBy != access.DecidedByPolicy ||
		ev.Request.GrantID != auto.Grant.ID || ev.Request.Status != access.StatusApproved || ev.Severity != events.SeverityInfo ||
		!slices.Equal(ev.Channels, []string{"ch_auto"}) || ev.Links.Grant == "" || ev.Links.Approve != "" {
		t.Fatalf("auto: %+v %+v", ev, ev.Request)
	}

	bgIn := input("444455556666")
	bgIn.BreakGlass, bgIn.Reason = true, "SEV1: payments down, need admin now"
	bg, err := svc.Create(ctx, alice, bgIn, "")
	if err != nil {
		t.Fatal(err)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditRequestBreakGlass, bg.Request.ID))
	if ev.Type != events.RequestBreakGlass || ev.Severity != events.SeverityCritical || !ev.Request.BreakGlass ||
		ev.Request.Status != access.StatusApproved || !slices.Equal(ev.Channels, []string{"ch_oncall"}) {
		t.Fatalf("break-glass: %+v %+v", ev, ev.Request)
	}

	_, err = svc.Create(ctx, alice, input(acctFrozen), "")
	var pd *access.PolicyDeniedError
	if !errors.As(err, &pd) {
		t.Fatalf("frozen account: %v", err)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditRequestDenied, pd.Request.ID))
	if ev.Type != events.RequestDenied || ev.Request.Status != access.StatusDenied || ev.Actor.ID != access.DecidedByPolicy ||
		ev.Request.DecidedBy != access.DecidedByPolicy || ev.Reasoning == "" || ev.Channels != nil || ev.Links.Approve != "" {
		t.Fatalf("denied: %+v %+v", ev, ev.Request)
	}
}

// TestMessagesCancelExpire: a message (with its body), a cancellation,
// one review of two (not notified), an expiry (warning), a rule change
// (not notified).
func TestMessagesCancelExpire(t *testing.T) {
	t.Parallel()
	st, _, _ := dynamotest.New(t)
	svc := setupTenant(t, st, acme)
	ctx := context.Background()
	m := mapper(st)
	alice, bob := user(acme, "alice"), user(acme, "bob", "approvers")

	r1, err := svc.Create(ctx, alice, input(acctReq), "")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := svc.PostMessage(ctx, bob, r1.Request.ID, "why production?")
	if err != nil {
		t.Fatal(err)
	}
	posted := auditOf(t, st, acme, access.AuditMessagePosted, r1.Request.ID)
	ev := mustEvent(t, m, posted)
	if ev.Type != events.RequestMessage || ev.Message == nil ||
		*ev.Message != (events.Message{ID: msg.ID, AuthorID: "bob", AuthorType: "approver", Body: "why production?"}) ||
		ev.Request.Status != access.StatusPending || !slices.Equal(ev.Channels, []string{"ch_security"}) ||
		ev.Links != links(r1.Request.ID, "", true) {
		t.Fatalf("message: %+v %+v", ev, ev.Message)
	}
	// A Loader that can only list messages (no GetMessage): the body is
	// found by walking the conversation.
	lister := events.Mapper{Loader: struct {
		events.Loader
		events.MessageLister
	}{st, st}}
	if ev, _, err := lister.Event(ctx, posted); err != nil || ev.Message == nil || ev.Message.Body != "why production?" {
		t.Fatalf("message through MessageLister: %+v, %v", ev.Message, err)
	}
	// A Loader that cannot list messages: the body stays empty.
	bare := events.Mapper{Loader: struct{ events.Loader }{st}}
	ev, _, err = bare.Event(ctx, posted)
	if err != nil || ev.Message == nil || ev.Message.ID != msg.ID || ev.Message.Body != "" {
		t.Fatalf("message without MessageLister: %+v, %v", ev.Message, err)
	}

	if _, err := svc.Cancel(ctx, alice, r1.Request.ID); err != nil {
		t.Fatal(err)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditRequestCancelled, r1.Request.ID))
	if ev.Type != events.RequestCancelled || ev.Request.Status != access.StatusCancelled || ev.Request.DecidedBy != "alice" || ev.Links.Deny != "" {
		t.Fatalf("cancelled: %+v %+v", ev, ev.Request)
	}

	r2, err := svc.Create(ctx, alice, input(acctTwo), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, bob, r2.Request.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Event(ctx, auditOf(t, st, acme, access.AuditRequestReviewed, r2.Request.ID)); ok || err != nil {
		t.Fatalf("request.reviewed: ok %v, %v; want not notified", ok, err)
	}
	if _, err := svc.ExpireRequest(ctx, acme, r2.Request.ID); err != nil {
		t.Fatal(err)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditRequestExpired, r2.Request.ID))
	if ev.Type != events.RequestExpired || ev.Severity != events.SeverityWarning || ev.Request.Status != access.StatusExpired ||
		ev.Request.DecidedBy != access.DecidedByTimeout || ev.Request.Approvals != 1 || ev.Request.ApprovalsRequired != 2 ||
		!slices.Equal(ev.Channels, []string{"ch_two"}) {
		t.Fatalf("expired: %+v %+v", ev, ev.Request)
	}

	admin := access.Caller{TenantID: acme, ID: "root", Type: access.ActorTypeUser, Admin: true}
	if err := svc.RecordRuleChange(ctx, admin, access.AuditRuleUpdated, "require", map[string]any{"revision": 2}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := m.Event(ctx, auditOf(t, st, acme, access.AuditRuleUpdated, "require")); ok || err != nil {
		t.Fatalf("rule.updated: ok %v, %v; want not notified", ok, err)
	}
}

// TestGrantLifecycle: active, revoked, failed, expired; break-glass grants
// are critical; an earlier grant event keeps its state.
func TestGrantLifecycle(t *testing.T) {
	t.Parallel()
	st, _, _ := dynamotest.New(t)
	svc := setupTenant(t, st, acme)
	ctx := context.Background()
	m := mapper(st)
	alice, carol := user(acme, "alice"), user(acme, "carol")

	auto, err := svc.Create(ctx, alice, input(acctAuto), "")
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.ProvisionGrant(ctx, acme, auto.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	activeAudit := auditOf(t, st, acme, access.AuditGrantActive, g.ID)
	active := mustEvent(t, m, activeAudit)
	wantGrant := events.Grant{
		ID: g.ID, RequestID: auto.Request.ID, Status: access.GrantActive, GranteeID: "alice", GranteeEmail: "alice@example.com",
		Resource: events.Resource{Type: "aws_account", ID: acctAuto}, PermissionSetARN: psARN,
		GrantedAt: g.GrantedAt, ExpiresAt: g.ExpiresAt,
	}
	if active.Type != events.GrantActive || active.Severity != events.SeverityInfo || active.Grant == nil || !reflect.DeepEqual(*active.Grant, wantGrant) ||
		active.Request == nil || active.Request.ID != auto.Request.ID || !slices.Equal(active.Channels, []string{"ch_auto"}) ||
		active.Links != links(auto.Request.ID, g.ID, false) {
		t.Fatalf("active: %+v\ngrant %+v\nwant  %+v", active, active.Grant, wantGrant)
	}

	ext, err := svc.ExtendGrant(ctx, alice, g.ID, access.ExtendInput{DurationSeconds: 1800, Justification: "the deploy runs long"})
	if err != nil {
		t.Fatal(err)
	}
	ev := mustEvent(t, m, auditOf(t, st, acme, access.AuditGrantExtended, g.ID))
	if ev.Type != events.GrantExtended || ev.Grant.Status != access.GrantActive || !ev.Grant.ExpiresAt.Equal(*ext.Grant.ExpiresAt) ||
		!ev.Grant.ExpiresAt.Equal(g.ExpiresAt.Add(30*time.Minute)) || !slices.Equal(ev.Channels, []string{"ch_extend"}) ||
		ev.Reasoning != "the deploy runs long" {
		t.Fatalf("extended: %+v %+v", ev, ev.Grant)
	}
	// The activation still says when the grant was to end then.
	if again := mustEvent(t, m, activeAudit); !again.Grant.ExpiresAt.Equal(*g.ExpiresAt) {
		t.Fatalf("active event after the extension ends %v, want %v", again.Grant.ExpiresAt, g.ExpiresAt)
	}

	if _, err := svc.RevokeGrant(ctx, alice, g.ID, "done early"); err != nil {
		t.Fatal(err)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditGrantRevoked, g.ID))
	if ev.Type != events.GrantRevoked || ev.Grant.Status != access.GrantRevoked || ev.Grant.RevokedBy != "alice" || ev.Reasoning != "done early" {
		t.Fatalf("revoked: %+v %+v", ev, ev.Grant)
	}
	if again := mustEvent(t, m, activeAudit); again.Grant.Status != access.GrantActive || again.Grant.RevokedBy != "" || !reflect.DeepEqual(again.Request, active.Request) {
		t.Fatalf("active event after the revocation: %+v, was %+v", again.Grant, active.Grant)
	}

	failing, err := svc.Create(ctx, carol, input(acctAuto), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FailGrant(ctx, acme, failing.Grant.ID, "permission set not provisioned"); err != nil {
		t.Fatal(err)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditGrantFailed, failing.Grant.ID))
	if ev.Type != events.GrantFailed || ev.Severity != events.SeverityWarning || ev.Grant.Status != access.GrantFailed ||
		ev.Grant.FailureReason != "permission set not provisioned" || ev.Grant.GrantedAt != nil {
		t.Fatalf("failed: %+v %+v", ev, ev.Grant)
	}

	bgIn := input("444455556666")
	bgIn.BreakGlass, bgIn.Reason = true, "SEV1: payments down, need admin now"
	bg, err := svc.Create(ctx, alice, bgIn, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ProvisionGrant(ctx, acme, bg.Grant.ID); err != nil {
		t.Fatal(err)
	}
	// The scheduled expiry, at the grant's end (before it, it is a no-op).
	atEnd := *svc
	atEnd.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := atEnd.ExpireGrant(ctx, acme, bg.Grant.ID); err != nil {
		t.Fatal(err)
	}
	for action, typ := range map[string]string{access.AuditGrantActive: events.GrantActive, access.AuditGrantExpired: events.GrantExpired} {
		ev := mustEvent(t, m, auditOf(t, st, acme, action, bg.Grant.ID))
		if ev.Type != typ || ev.Severity != events.SeverityCritical || !ev.Grant.BreakGlass || !slices.Equal(ev.Channels, []string{"ch_oncall"}) {
			t.Fatalf("break-glass %s: %+v %+v", action, ev, ev.Grant)
		}
	}
}

// TestItemsGone: when the request or grant item is not there, the event is
// built from the audit snapshot.
func TestItemsGone(t *testing.T) {
	t.Parallel()
	st, _, _ := dynamotest.New(t)
	svc := setupTenant(t, st, acme)
	empty, _, _ := dynamotest.New(t)
	ctx := context.Background()
	alice := user(acme, "alice")
	res, err := svc.Create(ctx, alice, input(acctReq), "")
	if err != nil {
		t.Fatal(err)
	}
	auto, err := svc.Create(ctx, alice, input(acctAuto), "")
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.ProvisionGrant(ctx, acme, auto.Grant.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := events.Mapper{Loader: empty, Rules: events.RuleChannels{Rules: st}}
	created := auditOf(t, st, acme, access.AuditRequestCreated, res.Request.ID)
	ev := mustEvent(t, m, created)
	want := events.Request{
		ID: res.Request.ID, Status: access.StatusPending, RequesterID: "alice",
		Resource: events.Resource{Type: "aws_account", ID: acctReq}, PermissionSetARN: psARN,
		Justification: created.Reasoning, DurationSeconds: 3600, ApprovalMode: "require", CreatedAt: created.CreatedAt,
	}
	if !reflect.DeepEqual(*ev.Request, want) || !slices.Equal(ev.Channels, []string{"ch_security"}) {
		t.Fatalf("request from snapshot %+v\nwant %+v (channels %v)", *ev.Request, want, ev.Channels)
	}
	ev = mustEvent(t, m, auditOf(t, st, acme, access.AuditGrantActive, g.ID))
	wantGrant := events.Grant{
		ID: g.ID, RequestID: auto.Request.ID, Status: access.GrantActive, GranteeID: "alice",
		Resource: events.Resource{Type: "aws_account", ID: acctAuto}, PermissionSetARN: psARN, ExpiresAt: g.ExpiresAt,
	}
	if !reflect.DeepEqual(*ev.Grant, wantGrant) || ev.Request != nil {
		t.Fatalf("grant from snapshot %+v\nwant %+v (request %+v)", *ev.Grant, wantGrant, ev.Request)
	}
}

func TestTypeAndSeverity(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(action, status, severity string) access.AuditEvent {
		a := access.AuditEvent{ID: "evt_1", TenantID: acme, Action: action, ResourceID: "x", Severity: severity, CreatedAt: at}
		if status != "" {
			a.Metadata = map[string]any{"status": status}
		}
		return a
	}
	for _, tc := range []struct {
		a        access.AuditEvent
		typ      string
		severity string
	}{
		{mk("request.created", "pending", "info"), events.RequestPending, events.SeverityInfo},
		{mk("request.created", "approved", "info"), events.RequestApproved, events.SeverityInfo},
		{mk("request.created", "denied", "info"), events.RequestDenied, events.SeverityInfo},
		{mk("request.approved", "approved", "critical"), events.RequestApproved, events.SeverityCritical},
		{mk("request.break_glass", "approved", "info"), events.RequestBreakGlass, events.SeverityCritical},
		{mk("request.denied", "denied", "info"), events.RequestDenied, events.SeverityInfo},
		{mk("request.cancelled", "cancelled", "info"), events.RequestCancelled, events.SeverityInfo},
		{mk("request.expired", "expired", "info"), events.RequestExpired, events.SeverityWarning},
		{mk("message.posted", "", "info"), events.RequestMessage, events.SeverityInfo},
		{mk("grant.active", "active", "info"), events.GrantActive, events.SeverityInfo},
		{mk("grant.failed", "failed", "info"), events.GrantFailed, events.SeverityWarning},
		{mk("grant.revoke_failed", "revoke_failed", "critical"), events.GrantRevokeFailed, events.SeverityCritical},
		{mk("grant.expired", "expired", "critical"), events.GrantExpired, events.SeverityCritical},
		{mk("grant.revoked", "revoked", "info"), events.GrantRevoked, events.SeverityInfo},
		{mk("grant.extended", "active", "info"), events.GrantExtended, events.SeverityInfo},
		{mk("request.reviewed", "pending", "info"), "", ""},
		{mk("rule.created", "", "info"), "", ""},
		{mk("rules.imported", "", "info"), "", ""},
		{mk("something.new", "", "info"), "", ""},
	} {
		typ, ok, err := events.TypeOf(tc.a)
		if err != nil || ok != (tc.typ != "") || typ != tc.typ {
			t.Errorf("TypeOf(%s) = %q, %v, %v; want %q", tc.a.Action, typ, ok, err, tc.typ)
			continue
		}
		if ok {
			if sev := events.SeverityOf(tc.a, typ); sev != tc.severity {
				t.Errorf("SeverityOf(%s) = %s, want %s", tc.a.Action, sev, tc.severity)
			}
		}
	}
	// A failed break-glass grant is critical, not a warning.
	bgFail := mk("grant.failed", "failed", "info")
	bgFail.Metadata["break_glass"] = true
	if sev := events.SeverityOf(bgFail, events.GrantFailed); sev != events.SeverityCritical {
		t.Errorf("break-glass grant.failed severity %s", sev)
	}
	for _, a := range []access.AuditEvent{mk("request.created", "bogus", "info"), {Action: "request.approved", TenantID: acme}} {
		if _, ok, err := (events.Mapper{}).Event(context.Background(), a); ok || !errors.Is(err, events.ErrMalformed) {
			t.Errorf("Event(%+v) = %v, %v; want ErrMalformed", a, ok, err)
		}
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	l := events.NewLinks(" https://api.example.com/ ").Links(acme, "req_1", "grt_1")
	want := events.Links{
		Page:    "https://api.example.com/ui/t/" + acme + "/requests/req_1",
		Request: "https://api.example.com/v1/requests/req_1", Approve: "https://api.example.com/v1/requests/req_1/approve",
		Deny: "https://api.example.com/v1/requests/req_1/deny", Grant: "https://api.example.com/v1/grants/grt_1",
	}
	if l != want {
		t.Fatalf("links %+v", l)
	}
	if l := events.NewLinks("https://x").Links(acme, "", "grt_1"); l != (events.Links{Grant: "https://x/v1/grants/grt_1"}) {
		t.Fatalf("grant only: %+v", l)
	}
}

func TestAuditFromStreamImageRejects(t *testing.T) {
	t.Parallel()
	s, n := lambdaevents.NewStringAttribute, lambdaevents.NewNumberAttribute
	request := map[string]lambdaevents.DynamoDBAttributeValue{"PK": s("T#acme#REQ#req_1"), "SK": s("META"), "entity_type": s("REQUEST")}
	if _, ok, err := events.AuditFromStreamImage(request); ok || err != nil {
		t.Fatalf("request item: ok %v, %v", ok, err)
	}
	// An audit item in acme's chain claiming to be globex's.
	forged := map[string]lambdaevents.DynamoDBAttributeValue{
		"PK": s("T#acme#AUDIT"), "SK": s("EVT#00000000000000000001"), "entity_type": s("AUDIT"),
		"id": s("evt_1"), "tenant_id": s(globex), "seq": n("1"), "action": s("request.created"),
	}
	if _, _, err := events.AuditFromStreamImage(forged); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("forged tenant: %v", err)
	}
	forged["tenant_id"], forged["seq"] = s(acme), s("one")
	if _, _, err := events.AuditFromStreamImage(forged); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("undecodable seq: %v", err)
	}
}

// TestDriftEvent: the reconciler's drift.detected (access.RecordDrift) is
// notified as a warning with what it found.
func TestDriftEvent(t *testing.T) {
	t.Parallel()
	st, _, _ := dynamotest.New(t)
	svc := setupTenant(t, st, acme)
	ctx := context.Background()
	if err := svc.RecordDrift(ctx, acme, map[string]any{"repaired_count": 1, "removed_count": 2, "unexpected_count": 1,
		"unexpected": []string{"account 111122223333, permission set ps, principal root"}}); err != nil {
		t.Fatal(err)
	}
	ev := mustEvent(t, mapper(st), auditOf(t, st, acme, access.AuditDriftDetected, acme))
	if ev.Type != events.DriftDetected || ev.Severity != events.SeverityWarning || ev.Drift == nil ||
		ev.Drift.Repaired != 1 || ev.Drift.Removed != 2 || len(ev.Drift.Unexpected) != 1 || ev.Request != nil || ev.Grant != nil {
		t.Fatalf("drift event: %+v %+v", ev, ev.Drift)
	}
}
