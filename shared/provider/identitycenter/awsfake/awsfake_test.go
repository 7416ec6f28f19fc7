package awsfake_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	ssotypes "github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/jitsudo/jitsudo-serverless/shared/provider/identitycenter/awsfake"
)

// The fake's own contract, through the real SDK clients where they can
// send the request, and raw signed requests where the SDK's client-side
// validation would refuse to.

const (
	key      = "AKIAPLATFORM00000001"
	secret   = "platform-secret"
	role     = "arn:aws:iam::111122223333:role/broker"
	ext      = "external-id-01"
	instance = "arn:aws:sso:::instance/ssoins-0123456789abcdef"
	ps       = "arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-0123456789abcdef"
	acct     = "444455556666"
	user     = "906753c5b4-11111111-2222-3333-4444-555555555555"
)

func setup(t *testing.T) (*awsfake.Server, string, aws.Credentials) {
	t.Helper()
	f := awsfake.New()
	f.AddPlatformKey(key, secret)
	f.AddRole(role, ext)
	f.AddInstance(instance, "d-0123456789", role)
	f.AddUser("d-0123456789", user, "alice", "alice@example.com")
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	creds := assume(t, srv.URL, secret, ext)
	return f, srv.URL, creds
}

func assume(t *testing.T, url, secret, extID string) aws.Credentials {
	t.Helper()
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	out, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("test"), ExternalId: aws.String(extID)})
	if err != nil {
		return aws.Credentials{}
	}
	return aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), Expires: aws.ToTime(out.Credentials.Expiration), CanExpire: true}
}

func sso(url string, c aws.Credentials) *ssoadmin.Client {
	return ssoadmin.New(ssoadmin.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{},
		Credentials: credentials.StaticCredentialsProvider{Value: c}})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestSTS(t *testing.T) {
	f, url, creds := setup(t)
	if creds.AccessKeyID == "" || !strings.HasPrefix(creds.AccessKeyID, "ASIA") || time.Until(creds.Expires) < 50*time.Minute {
		t.Fatalf("credentials %+v", creds)
	}
	if s, ok := f.SessionOf(creds.AccessKeyID); !ok || s.ExternalID != ext || s.SessionName != "test" {
		t.Fatalf("session %+v", s)
	}
	if c := assume(t, url, "wrong-secret", ext); c.AccessKeyID != "" || f.Rejected(awsfake.OpAssumeRole) != 1 {
		t.Fatal("a wrong secret must fail the signature check")
	}
	c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")})
	_, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("test"), ExternalId: aws.String("nope")})
	if code(err) != "AccessDenied" {
		t.Fatalf("wrong external id: %v", err)
	}
	f.Throttle(awsfake.OpAssumeRole, 1)
	_, err = c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("test"), ExternalId: aws.String(ext)})
	if code(err) != "Throttling" {
		t.Fatalf("throttled: %v", err)
	}
	// The platform key itself may not call Identity Center.
	_, err = sso(url, aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}).ListAccountAssignments(context.Background(),
		&ssoadmin.ListAccountAssignmentsInput{InstanceArn: aws.String(instance), AccountId: aws.String(acct), PermissionSetArn: aws.String(ps)})
	if code(err) != "AccessDeniedException" {
		t.Fatalf("platform key on sso: %v", err)
	}
}

// raw sends a signed awsJson request the SDK would not send.
func raw(t *testing.T, url string, c aws.Credentials, target, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader([]byte(body)))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hex.EncodeToString(sum[:]), "sso", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestValidation(t *testing.T) {
	f, url, creds := setup(t)
	const target = "SWBExternalService.CreateAccountAssignment"
	good := `{"InstanceArn":"` + instance + `","TargetId":"` + acct + `","TargetType":"AWS_ACCOUNT","PermissionSetArn":"` + ps + `","PrincipalType":"USER","PrincipalId":"` + user + `"}`
	for name, body := range map[string]string{
		"missing InstanceArn": strings.Replace(good, `"InstanceArn":"`+instance+`",`, "", 1),
		"unknown field":       strings.Replace(good, `"TargetType"`, `"Bogus":1,"TargetType"`, 1),
		"bad TargetType":      strings.Replace(good, "AWS_ACCOUNT", "ACCOUNT", 1),
		"bad account":         strings.Replace(good, acct, "12", 1),
		"unknown user":        strings.Replace(good, "11111111-2222", "aaaaaaaa-2222", 1),
	} {
		status, m := raw(t, url, creds, target, body)
		if status != http.StatusBadRequest || m["__type"] != "ValidationException" {
			t.Errorf("%s: %d %v", name, status, m)
		}
	}
	if len(f.Assignments()) != 0 {
		t.Fatal("an invalid request was applied")
	}
	status, m := raw(t, url, creds, target, good)
	if status != http.StatusOK {
		t.Fatalf("good request: %d %v", status, m)
	}
	// A bad signature (the secret of another key) is refused.
	bad := creds
	bad.SecretAccessKey = "not-it"
	if status, m := raw(t, url, bad, target, good); status != http.StatusForbidden || m["__type"] != "InvalidSignatureException" {
		t.Fatalf("bad signature: %d %v", status, m)
	}
}

func TestAssignmentsLifecycle(t *testing.T) {
	f, url, creds := setup(t)
	ctx := context.Background()
	c := sso(url, creds)
	in := &ssoadmin.CreateAccountAssignmentInput{InstanceArn: aws.String(instance), TargetId: aws.String(acct), TargetType: ssotypes.TargetTypeAwsAccount,
		PermissionSetArn: aws.String(ps), PrincipalType: ssotypes.PrincipalTypeUser, PrincipalId: aws.String(user)}
	for range 2 { // idempotent
		out, err := c.CreateAccountAssignment(ctx, in)
		if err != nil || out.AccountAssignmentCreationStatus.Status != ssotypes.StatusValuesInProgress {
			t.Fatalf("%+v %v", out, err)
		}
		st, err := c.DescribeAccountAssignmentCreationStatus(ctx, &ssoadmin.DescribeAccountAssignmentCreationStatusInput{
			InstanceArn: aws.String(instance), AccountAssignmentCreationRequestId: out.AccountAssignmentCreationStatus.RequestId})
		if err != nil || st.AccountAssignmentCreationStatus.Status != ssotypes.StatusValuesSucceeded || st.AccountAssignmentCreationStatus.CreatedDate == nil {
			t.Fatalf("%+v %v", st, err)
		}
	}
	if len(f.Assignments()) != 1 {
		t.Fatalf("%v", f.Assignments())
	}
	// Paging.
	for i := range 4 {
		f.AddAssignment(awsfake.Assignment{InstanceARN: instance, AccountID: acct, PermissionSetARN: ps, PrincipalType: "GROUP",
			PrincipalID: "906753c5b4-0000000" + string(rune('0'+i)) + "-0000-0000-0000-000000000000"})
	}
	p := ssoadmin.NewListAccountAssignmentsPaginator(c, &ssoadmin.ListAccountAssignmentsInput{InstanceArn: aws.String(instance),
		AccountId: aws.String(acct), PermissionSetArn: aws.String(ps), MaxResults: aws.Int32(2)})
	n, pages := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.AccountAssignments)
		pages++
	}
	if n != 5 || pages != 3 {
		t.Fatalf("%d assignments in %d pages", n, pages)
	}
	// A failing plan: IN_PROGRESS twice, then FAILED with the reason.
	f.DelayNextDeletion(2, "boom")
	del := &ssoadmin.DeleteAccountAssignmentInput{InstanceArn: in.InstanceArn, TargetId: in.TargetId, TargetType: in.TargetType,
		PermissionSetArn: in.PermissionSetArn, PrincipalType: in.PrincipalType, PrincipalId: in.PrincipalId}
	out, err := c.DeleteAccountAssignment(ctx, del)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for range 3 {
		st, err := c.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
			InstanceArn: aws.String(instance), AccountAssignmentDeletionRequestId: out.AccountAssignmentDeletionStatus.RequestId})
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, string(st.AccountAssignmentDeletionStatus.Status)+":"+aws.ToString(st.AccountAssignmentDeletionStatus.FailureReason))
	}
	if strings.Join(statuses, ",") != "IN_PROGRESS:,IN_PROGRESS:,FAILED:boom" {
		t.Fatalf("statuses %v", statuses)
	}
	// Deleting (for real, then again: a missing one) succeeds.
	for range 2 {
		out, err := c.DeleteAccountAssignment(ctx, del)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.DescribeAccountAssignmentDeletionStatus(ctx, &ssoadmin.DescribeAccountAssignmentDeletionStatusInput{
			InstanceArn: aws.String(instance), AccountAssignmentDeletionRequestId: out.AccountAssignmentDeletionStatus.RequestId})
		if err != nil || st.AccountAssignmentDeletionStatus.Status != ssotypes.StatusValuesSucceeded {
			t.Fatalf("%+v %v", st, err)
		}
	}
	if len(f.Assignments()) != 4 {
		t.Fatalf("%v", f.Assignments())
	}
	// Faults.
	f.Conflict(awsfake.OpCreateAccountAssignment, 1)
	if _, err := c.CreateAccountAssignment(ctx, in); code(err) != "ConflictException" {
		t.Fatalf("conflict: %v", err)
	}
	f.LoseResponse(awsfake.OpCreateAccountAssignment, 1)
	if _, err := c.CreateAccountAssignment(ctx, in); err == nil {
		t.Fatal("lost response: no error")
	}
	if !f.HasAssignment(awsfake.Assignment{InstanceARN: instance, AccountID: acct, PermissionSetARN: ps, PrincipalType: "USER", PrincipalID: user}) {
		t.Fatal("lost response: not applied")
	}
	if f.Calls(awsfake.OpCreateAccountAssignment) != 4 {
		t.Fatalf("calls %d", f.Calls(awsfake.OpCreateAccountAssignment))
	}
}
