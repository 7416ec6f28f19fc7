package access_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamotest"
	"github.com/jitsudo/jitsudo-serverless/shared/access"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

// person is a user caller with a given subject and email, verified or not.
func person(id, email string, verified bool, groups ...string) access.Caller {
	return access.Caller{TenantID: tenantA, ID: id, Type: "user", Groups: groups, Email: email, EmailVerified: verified}
}

var verifiedAlice = person("alice", "alice@example.com", true, "engineering", "approvers")

func wantPending(t *testing.T, e *env, id string, approvals int) {
	t.Helper()
	r, err := e.store.GetRequest(context.Background(), tenantA, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != access.StatusPending || len(r.Reviews) != approvals {
		t.Fatalf("request is %s with %d reviews, want pending with %d", r.Status, len(r.Reviews), approvals)
	}
}

// Self-approval is about the person: another spelling of alice's subject,
// or another subject with alice's verified email, is alice.
func TestSelfApprovalIsAboutThePerson(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := mustCreate(t, e, verifiedAlice, psInput(acctProd)).Request
	if r.Requester == nil || r.Requester.Subject != "alice" || r.Requester.Email != "alice@example.com" {
		t.Fatalf("requester keys not recorded: %+v", r.Requester)
	}
	for _, c := range []access.Caller{
		person("Alice", "alice@example.com", true, "approvers"),               // the case
		person("ALICE", "", false, "approvers"),                               // case alone
		person(" alice\u200b", "", false, "approvers"),                        // invisible characters
		person("\uff41\uff4c\uff49\uff43\uff45", "", false, "approvers"),      // full-width "alice"
		person("alice.smith", "Alice@Example.COM", true, "approvers"),         // another subject, her verified email
		person("a.smith@idp2", " alice@example.com ", true, "approvers"),      // a second IdP account
		person("Alice", "someone-else@example.com", true, "approvers", "x"),   // her subject, another email
		person("alice", "unverified@example.com", false, "approvers", "more"), // the very same id
	} {
		for name, do := range map[string]func(access.Caller, string, string) (access.Request, error){
			"approve": func(c access.Caller, id, why string) (access.Request, error) { return e.svc.Approve(ctx, c, id, why) },
			"deny":    func(c access.Caller, id, why string) (access.Request, error) { return e.svc.Deny(ctx, c, id, why) },
		} {
			if _, err := do(c, r.ID, "lgtm"); !errors.Is(err, access.ErrSelfApproval) {
				t.Errorf("%s by %q <%s verified=%v>: err = %v, want ErrSelfApproval", name, c.ID, c.Email, c.EmailVerified, err)
			}
		}
	}
	wantPending(t, e, r.ID, 0)
	// A genuinely different reviewer still approves.
	got, err := e.svc.Approve(ctx, person("bob", "bob@example.com", true, "approvers"), r.ID, "ok")
	if err != nil || got.Status != access.StatusApproved {
		t.Fatalf("bob: %v %s", err, got.Status)
	}
	if p := got.Reviews[0].Person; p == nil || p.Subject != "bob" || p.Email != "bob@example.com" {
		t.Fatalf("reviewer keys not recorded: %+v", got.Reviews[0])
	}
}

// N-of-M counts persons: two tokens of one person are one approval, and
// the second is refused as already reviewed.
func TestApprovalsCountDistinctPersons(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	r := mustCreate(t, e, verifiedAlice, psInput(acctTwo)).Request
	if r.ApprovalsRequired != 2 {
		t.Fatalf("approvals required %d", r.ApprovalsRequired)
	}
	bob := person("bob", "bob@example.com", true, "approvers")
	if got, err := e.svc.Approve(ctx, bob, r.ID, "1"); err != nil || got.Status != access.StatusPending {
		t.Fatalf("first approval: %v %s", err, got.Status)
	}
	for _, c := range []access.Caller{
		person("Bob", "bob@example.com", true, "approvers"),        // the other spelling
		person("robert", "BOB@example.com", true, "approvers"),     // another account, his verified email
		person("bob", "bob@example.com", true, "approvers"),        // the same token again
		person("BOB", "elsewhere@example.com", false, "approvers"), // his subject, unverified email
	} {
		if _, err := e.svc.Approve(ctx, c, r.ID, "2"); !errors.Is(err, access.ErrAlreadyReviewed) {
			t.Errorf("approval by %q <%s>: err = %v, want ErrAlreadyReviewed", c.ID, c.Email, err)
		}
		if _, err := e.svc.Deny(ctx, c, r.ID, "2"); !errors.Is(err, access.ErrAlreadyReviewed) {
			t.Errorf("deny by %q <%s>: err = %v, want ErrAlreadyReviewed", c.ID, c.Email, err)
		}
	}
	wantPending(t, e, r.ID, 1)
	// A different person completes it.
	got, err := e.svc.Approve(ctx, person("carol", "carol@example.com", true, "approvers"), r.ID, "2")
	if err != nil || got.Status != access.StatusApproved || got.GrantID == "" {
		t.Fatalf("second person: %v %+v", err, got)
	}
}

// Requests and reviews stored before the identity keys were recorded
// compare by their subject (normalised) and the request's stored email;
// such older reviews are counted by person too: an older 3-of-M request
// approved by "bob" and by "Bob" has one approval.
func TestSamePersonOnOlderItems(t *testing.T) {
	ctx := context.Background()
	st, client, table := dynamotest.New(t)
	e := newEnvOn(t, st, table)
	r := mustCreate(t, e, verifiedAlice, psInput(acctTwo)).Request
	if _, err := e.svc.Approve(ctx, person("bob", "bob@example.com", true, "approvers"), r.ID, "1"); err != nil {
		t.Fatal(err)
	}
	// Strip the keys, as an item written before this change.
	key := map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "T#" + tenantA + "#REQ#" + r.ID},
		"SK": &types.AttributeValueMemberS{Value: "META"},
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || out.Item == nil {
		t.Fatalf("get: %v", err)
	}
	item := out.Item
	if _, ok := item["requester"]; !ok {
		t.Fatal("no requester keys stored")
	}
	delete(item, "requester")
	reviews := item["reviews"].(*types.AttributeValueMemberL)
	for _, rv := range reviews.Value {
		m := rv.(*types.AttributeValueMemberM).Value
		if _, ok := m["person"]; !ok {
			t.Fatal("no reviewer keys stored")
		}
		delete(m, "person")
	}
	// The old code let "Bob" approve after "bob"; make it a 3-of-M request
	// so that it is still pending.
	second := map[string]types.AttributeValue{}
	for k, v := range reviews.Value[0].(*types.AttributeValueMemberM).Value {
		second[k] = v
	}
	second["reviewer_id"] = &types.AttributeValueMemberS{Value: "Bob"}
	reviews.Value = append(reviews.Value, &types.AttributeValueMemberM{Value: second})
	item["approvals_required"] = &types.AttributeValueMemberN{Value: "3"}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	old, err := st.GetRequest(ctx, tenantA, r.ID)
	if err != nil || old.Requester != nil || len(old.Reviews) != 2 || old.Reviews[0].Person != nil || old.Reviews[1].Person != nil {
		t.Fatalf("not an older item: %+v %v", old, err)
	}
	for _, c := range []access.Caller{
		person("Alice", "", false, "approvers"),
		person("alice2", "alice@example.com", true, "approvers"),
	} {
		if _, err := e.svc.Approve(ctx, c, r.ID, "2"); !errors.Is(err, access.ErrSelfApproval) {
			t.Errorf("%q <%s> on an older request: %v, want ErrSelfApproval", c.ID, c.Email, err)
		}
	}
	if _, err := e.svc.Approve(ctx, person("BOB", "", false, "approvers"), r.ID, "2"); !errors.Is(err, access.ErrAlreadyReviewed) {
		t.Errorf("BOB after an older review by bob: %v, want ErrAlreadyReviewed", err)
	}
	wantPending(t, e, r.ID, 2)
	got, err := e.svc.Approve(ctx, person("carol", "carol@example.com", true, "approvers"), r.ID, "2")
	if err != nil || got.Status != access.StatusPending {
		t.Fatalf("carol is the second person of three: %v %s", err, got.Status)
	}
	got, err = e.svc.Approve(ctx, person("dave", "dave@example.com", true, "approvers"), r.ID, "3")
	if err != nil || got.Status != access.StatusApproved {
		t.Fatalf("dave is the third: %v %s", err, got.Status)
	}
}

// A tenant that maps people to Identity Center users by email refuses
// people without a verified email, to request and to review: their email
// could be anyone's, and it would name the user granted access.
func TestEmailMappingNeedsVerifiedEmail(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.svc.UsersByEmail = e.store.UsersByEmail
	settings := store.AWSSettings{
		TenantID: tenantA, InstanceARN: "arn:aws:sso:::instance/ssoins-0123456789abcdef", IdentityStoreID: "d-1234567890",
		Region: "eu-west-1", RoleARN: "arn:aws:iam::111122223333:role/jitsudo", ExternalID: "x",
		UserAttribute: store.UserAttributeUserName, UpdatedAt: time.Now(),
	}
	// No settings, and user-name mapping: an unverified email is no obstacle
	// (it is just not a key).
	unverified := person("dave", "dave@example.com", false, "engineering")
	r1 := mustCreate(t, e, unverified, psInput(acctProd)).Request
	if r1.Requester.Email != "" || r1.RequesterEmail != "dave@example.com" {
		t.Fatalf("an unverified email is kept for display but is no key: %+v", r1)
	}
	saved, err := e.store.PutAWSSettings(ctx, settings, 0)
	if err != nil {
		t.Fatal(err)
	}
	r2 := mustCreate(t, e, unverified, psInput(acctDev)).Request
	if r2.Status != access.StatusApproved {
		t.Fatalf("user_name mapping: %s", r2.Status)
	}

	// Now by email.
	settings.UserAttribute = store.UserAttributeEmail
	if _, err := e.store.PutAWSSettings(ctx, settings, saved.Version); err != nil {
		t.Fatal(err)
	}
	for _, c := range []access.Caller{
		person("erin", "erin@example.com", false, "engineering"),
		person("erin", "", true, "engineering"), // verified, but no email
		person("erin", "", false, "engineering"),
	} {
		if _, err := e.svc.Create(ctx, c, psInput(acctTwo), ""); !errors.Is(err, access.ErrEmailUnverified) {
			t.Errorf("create by %q <%s> verified=%v: %v, want ErrEmailUnverified", c.ID, c.Email, c.EmailVerified, err)
		}
	}
	if rs, _, err := e.svc.List(ctx, admin, access.ListFilter{RequesterID: "erin"}, access.Page{}); err != nil || len(rs) != 0 {
		t.Fatalf("a refused create stored something: %d %v", len(rs), err)
	}
	// Reviewing r1 (pending) needs a verified email too.
	if _, err := e.svc.Approve(ctx, person("bob", "bob@example.com", false, "approvers"), r1.ID, ""); !errors.Is(err, access.ErrEmailUnverified) {
		t.Fatalf("approve with an unverified email: %v", err)
	}
	if _, err := e.svc.Deny(ctx, person("bob", "", false, "approvers"), r1.ID, ""); !errors.Is(err, access.ErrEmailUnverified) {
		t.Fatalf("deny without an email: %v", err)
	}
	wantPending(t, e, r1.ID, 0)
	// Verified people go on as before; API keys are not people.
	if res := mustCreate(t, e, person("erin", "erin@example.com", true, "engineering"), psInput(acctTwo)); res.Request.Status != access.StatusPending {
		t.Fatalf("verified requester: %s", res.Request.Status)
	}
	if _, err := e.svc.Create(ctx, access.Caller{TenantID: tenantA, ID: "key_ci", Type: access.ActorTypeAPIKey}, psInput(acctDev), ""); err != nil {
		t.Fatalf("API key: %v", err)
	}
	if got, err := e.svc.Approve(ctx, person("bob", "bob@example.com", true, "approvers"), r1.ID, ""); err != nil || got.Status != access.StatusApproved {
		t.Fatalf("verified reviewer: %v %s", err, got.Status)
	}
}

func TestNormalizeSubject(t *testing.T) {
	same := [][2]string{
		{"alice", "Alice"}, {"alice", " ALICE "}, {"alice", "al\u00adice"}, {"alice", "\ufeffalice"},
		{"alice", "\uff21\uff4c\uff49\uff43\uff45"}, {"kelvin", "\u212aelvin"}, {"ſam", "SAM"},
		{"00u1ab2CD3", "00U1AB2cd3"}, {"σ", "Σ"},
	}
	for _, p := range same {
		if access.NormalizeSubject(p[0]) != access.NormalizeSubject(p[1]) {
			t.Errorf("%q and %q differ: %q %q", p[0], p[1], access.NormalizeSubject(p[0]), access.NormalizeSubject(p[1]))
		}
	}
	differ := [][2]string{{"alice", "alice2"}, {"alice", "alic"}, {"a.lice", "alice"}, {"alice+1@x", "alice@x"}, {"", "x"}}
	for _, p := range differ {
		if access.NormalizeSubject(p[0]) == access.NormalizeSubject(p[1]) {
			t.Errorf("%q and %q are one subject", p[0], p[1])
		}
	}
	if (access.Person{}).Same(access.Person{}) {
		t.Error("two empty persons are the same")
	}
}
