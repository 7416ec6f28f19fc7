package tenantrole

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/identitystore"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

const (
	repoRoot     = "../.."
	templateFile = "template.yaml"
	mainTemplate = repoRoot + "/template.yaml"
	readmeFile   = repoRoot + "/docs/operations.md"
	providerDir  = repoRoot + "/shared/provider/identitycenter"

	// readmeSection is the section of the operations guide (docs/operations.md)
	// that documents onboarding.
	readmeSection = "## Onboarding a tenant's AWS organization"
)

// TenantRoleActions is every action the tenant role allows: what the
// Identity Center provider calls, CreateAccountAssignment's dependent
// actions, and what Identity Center does with the caller's permissions
// when the assignment's account is the management account itself. The
// operations guide (docs/operations.md) lists exactly these.
var TenantRoleActions = []string{
	"sso:CreateAccountAssignment",
	"sso:DeleteAccountAssignment",
	"sso:DescribeAccountAssignmentCreationStatus",
	"sso:DescribeAccountAssignmentDeletionStatus",
	"sso:ListAccountAssignments",
	"identitystore:GetUserId",
	"organizations:DescribeAccount",
	"organizations:DescribeOrganization",
	"iam:GetRole",
	"iam:CreateRole",
	"iam:DeleteRole",
	"iam:AttachRolePolicy",
	"iam:DetachRolePolicy",
	"iam:PutRolePolicy",
	"iam:DeleteRolePolicy",
	"iam:ListRolePolicies",
	"iam:ListAttachedRolePolicies",
	"iam:UpdateRole",
	"iam:UpdateRoleDescription",
	"iam:UpdateAssumeRolePolicy",
	"iam:GetSAMLProvider",
}

// The only resources IAM actions may act on: the roles and the SAML
// provider Identity Center manages in the account.
const (
	ssoRoles        = "Sub:arn:${AWS::Partition}:iam::*:role/aws-reserved/sso.amazonaws.com/*"
	ssoSAMLProvider = "Sub:arn:${AWS::Partition}:iam::*:saml-provider/AWSSSO_*"
)

// iamResources says where each IAM action may act.
func iamResource(action string) string {
	if action == "iam:GetSAMLProvider" {
		return ssoSAMLProvider
	}
	return ssoRoles
}

// The trust policy: only the jitsudo account, only with the external id.
const (
	trustedPrincipal = "Sub:arn:${AWS::Partition}:iam::${JitsudoAccountId}:root"
	externalIDRef    = "Ref:ExternalId"
)

// markers keeps intrinsics as marker strings ("Ref:X", "GetAtt:A.B",
// "Sub:<text>") instead of resolving them.
func markers() map[string]intrinsics.IntrinsicHandler {
	return map[string]intrinsics.IntrinsicHandler{
		"Ref": func(_ string, in, _ any) any { return fmt.Sprint("Ref:", in) },
		"Fn::GetAtt": func(_ string, in, _ any) any {
			if v, ok := in.([]any); ok {
				parts := make([]string, 0, len(v))
				for _, p := range v {
					parts = append(parts, fmt.Sprint(p))
				}
				return "GetAtt:" + strings.Join(parts, ".")
			}
			return fmt.Sprint("GetAtt:", in)
		},
		"Fn::Sub": func(_ string, in, _ any) any {
			if v, ok := in.([]any); ok && len(v) > 0 {
				return fmt.Sprint("Sub:", v[0])
			}
			return fmt.Sprint("Sub:", in)
		},
	}
}

func parse(data []byte) (*cloudformation.Template, error) {
	return goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: markers()})
}

// parseParameters parses a template for its Parameters only: every
// intrinsic function is dropped, so that fields typed as numbers (set
// there from Number parameters) decode.
func parseParameters(data []byte) (*cloudformation.Template, error) {
	drop := func(string, any, any) any { return nil }
	handlers := map[string]intrinsics.IntrinsicHandler{}
	for name := range markers() {
		handlers[name] = drop
	}
	return goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{IntrinsicHandlerOverrides: handlers})
}

func load(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

func statements(doc any) ([]map[string]any, error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var d struct {
		Version   string
		Statement []map[string]any
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("policy document %s: %w", raw, err)
	}
	if d.Version != "2012-10-17" {
		return nil, fmt.Errorf("policy document Version %q, want 2012-10-17", d.Version)
	}
	return d.Statement, nil
}

func pattern(p *string) (*regexp.Regexp, error) {
	if p == nil {
		return nil, fmt.Errorf("no AllowedPattern")
	}
	return regexp.Compile(*p)
}

// checkTenantRole: the parameters, one role whose trust policy trusts only
// the jitsudo account with the external id, and whose policies allow
// exactly TenantRoleActions (IAM ones only on Identity Center's own
// resources); its ARN is an output. mainTmpl is jitsudo's template.yaml:
// the default role name must be its TenantRoleName.
func checkTenantRole(data, mainTmpl []byte) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	tp, err := parse(data)
	if err != nil {
		return []string{err.Error()}
	}

	// Parameters.
	for name, c := range map[string]struct{ good, bad []string }{
		"JitsudoAccountId": {[]string{"123456789012"}, []string{"", "12345678901", "1234567890123", "*", "12345678901a"}},
		"ExternalId":       {[]string{"jitsudo-acme-00112233445566778899aabbccddeeff"}, []string{"", "a b", "*", "x\"y"}},
		"RoleName":         {[]string{"jitsudo-provisioner"}, []string{"", "*", "path/role", strings.Repeat("r", 65)}},
	} {
		p, ok := tp.Parameters[name]
		if !ok {
			fail("parameter %s is missing", name)
			continue
		}
		re, err := pattern(p.AllowedPattern)
		if err != nil {
			fail("parameter %s: %v", name, err)
			continue
		}
		for _, v := range c.good {
			if !re.MatchString(v) {
				fail("parameter %s: AllowedPattern refuses %q", name, v)
			}
		}
		for _, v := range c.bad {
			if re.MatchString(v) && (p.MinLength == nil || len(v) >= int(*p.MinLength)) {
				fail("parameter %s: AllowedPattern accepts %q", name, v)
			}
		}
	}
	if p, ok := tp.Parameters["JitsudoAccountId"]; ok && p.Default != nil {
		fail("parameter JitsudoAccountId must not have a default (the operator gives it)")
	}
	if p, ok := tp.Parameters["ExternalId"]; ok && p.Default != nil {
		fail("parameter ExternalId must not have a default (jitsudo generates it per tenant)")
	}
	if main, err := parseParameters(mainTmpl); err != nil {
		fail("main template: %v", err)
	} else {
		mine, theirs := tp.Parameters["RoleName"], main.Parameters["TenantRoleName"]
		if fmt.Sprint(mine.Default) != fmt.Sprint(theirs.Default) || theirs.Default == nil {
			fail("parameter RoleName: Default %v, but template.yaml's TenantRoleName (the only roles jitsudo may assume) defaults to %v", mine.Default, theirs.Default)
		}
		if mine.AllowedPattern == nil || theirs.AllowedPattern == nil || *mine.AllowedPattern != *theirs.AllowedPattern {
			fail("parameter RoleName: AllowedPattern must be template.yaml's TenantRoleName pattern")
		}
	}

	// Resources: one role, nothing else.
	roles := tp.GetAllIAMRoleResources()
	for id, r := range tp.Resources {
		if r.AWSCloudFormationType() != "AWS::IAM::Role" {
			fail("resource %s is a %s: the template holds the one role only", id, r.AWSCloudFormationType())
		}
	}
	if len(roles) != 1 {
		return append(probs, fmt.Sprintf("want exactly one AWS::IAM::Role, have %d", len(roles)))
	}
	var roleID string
	for id := range roles {
		roleID = id
	}
	role := roles[roleID]
	if got := fmt.Sprint(role.RoleName); role.RoleName == nil || *role.RoleName != "Ref:RoleName" {
		fail("%s: RoleName %s, want !Ref RoleName", roleID, got)
	}
	if role.Path != nil && *role.Path != "/" {
		fail("%s: Path %q: jitsudo assumes arn:…:role/<name>, without a path", roleID, *role.Path)
	}
	if len(role.ManagedPolicyArns) > 0 || role.PermissionsBoundary != nil {
		fail("%s: no managed policies: the inline policy is the whole grant", roleID)
	}

	// Trust policy.
	trust, err := statements(role.AssumeRolePolicyDocument)
	if err != nil {
		fail("%s: AssumeRolePolicyDocument: %v", roleID, err)
	} else if len(trust) != 1 {
		fail("%s: trust policy has %d statements, want 1", roleID, len(trust))
	} else {
		st := trust[0]
		principal, _ := json.Marshal(st["Principal"])
		condition, _ := json.Marshal(st["Condition"])
		if st["Effect"] != "Allow" || !slices.Equal(strs(st["Action"]), []string{"sts:AssumeRole"}) {
			fail("%s: trust statement %v %v, want Allow sts:AssumeRole", roleID, st["Effect"], st["Action"])
		}
		if want, _ := json.Marshal(map[string]any{"AWS": trustedPrincipal}); !bytes.Equal(principal, want) {
			fail("%s: trusted principal %s, want %s", roleID, principal, want)
		}
		if want, _ := json.Marshal(map[string]any{"StringEquals": map[string]any{"sts:ExternalId": externalIDRef}}); !bytes.Equal(condition, want) {
			fail("%s: trust condition %s, want %s", roleID, condition, want)
		}
		for k := range st {
			if !slices.Contains([]string{"Sid", "Effect", "Principal", "Action", "Condition"}, k) {
				fail("%s: trust statement has %s", roleID, k)
			}
		}
	}

	// Permissions.
	var actions []string
	for _, p := range role.Policies {
		sts, err := statements(p.PolicyDocument)
		if err != nil {
			fail("%s: policy %s: %v", roleID, p.PolicyName, err)
			continue
		}
		for _, st := range sts {
			for k := range st {
				if !slices.Contains([]string{"Sid", "Effect", "Action", "Resource"}, k) {
					fail("%s: policy %s: statement %v has %s (Allow, Action, Resource only)", roleID, p.PolicyName, st["Sid"], k)
				}
			}
			if st["Effect"] != "Allow" {
				fail("%s: policy %s: statement %v is not Allow", roleID, p.PolicyName, st["Sid"])
			}
			res := strs(st["Resource"])
			for _, a := range strs(st["Action"]) {
				actions = append(actions, a)
				want := []string{"*"}
				if strings.HasPrefix(a, "iam:") {
					want = []string{iamResource(a)}
				}
				if !slices.Equal(res, want) {
					fail("%s: %s on %v, want %v", roleID, a, res, want)
				}
			}
		}
	}
	sort.Strings(actions)
	want := slices.Sorted(slices.Values(TenantRoleActions))
	if !slices.Equal(actions, want) {
		fail("%s: allowed actions %v, want exactly TenantRoleActions %v", roleID, actions, want)
	}

	if o, ok := tp.Outputs["RoleArn"]; !ok || o.Value != "GetAtt:"+roleID+".Arn" {
		fail("output RoleArn must be !GetAtt %s.Arn", roleID)
	}
	return probs
}

// onboarding returns the operations guide's onboarding section.
func onboarding(readme string) (string, bool) {
	i := strings.Index(readme, "\n"+readmeSection+"\n")
	if i < 0 {
		return "", false
	}
	rest := readme[i+1+len(readmeSection):]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest, true
}

// checkReadme: the onboarding section names every action of
// TenantRoleActions (as `action`), the template, and the parameter that
// switches provisioning.
func checkReadme(readme string) []string {
	sec, ok := onboarding(readme)
	if !ok {
		return []string{readmeFile + " has no section " + readmeSection}
	}
	var probs []string
	for _, a := range TenantRoleActions {
		if !strings.Contains(sec, "`"+a+"`") {
			probs = append(probs, fmt.Sprintf("README %q does not list `%s`", readmeSection, a))
		}
	}
	for _, s := range []string{"infra/tenant-role/template.yaml", "aws cloudformation deploy", "/v1/settings/aws", "external_id", "ProviderMode", "-tags jitsudo_local", "ReconcileSchedule", "TenantRoleName"} {
		if !strings.Contains(sec, s) {
			probs = append(probs, fmt.Sprintf("README %q does not mention %s", readmeSection, s))
		}
	}
	return probs
}

// providerCalls lists the Identity Center API operations the provider's
// source calls, as IAM actions: calls of methods of the SSO Admin and
// Identity Store clients.
func providerCalls(dir string) ([]string, error) {
	methods := func(v any, prefix string) map[string]string {
		m := map[string]string{}
		t := reflect.TypeOf(v)
		for i := range t.NumMethod() {
			if n := t.Method(i).Name; n != "Options" {
				m[n] = prefix + n
			}
		}
		return m
	}
	known := methods(&ssoadmin.Client{}, "sso:")
	for k, v := range methods(&identitystore.Client{}, "identitystore:") {
		known[k] = v
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if s, ok := c.Fun.(*ast.SelectorExpr); ok {
					if a, ok := known[s.Sel.Name]; ok {
						seen[a] = true
					}
				}
			}
			return true
		})
	}
	var out []string
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

func report(t *testing.T, probs []string) {
	t.Helper()
	for _, p := range probs {
		t.Error(p)
	}
}

func TestTenantRole(t *testing.T) {
	report(t, checkTenantRole(load(t, templateFile), load(t, mainTemplate)))
}

func TestReadmeListsTheActions(t *testing.T) {
	report(t, checkReadme(string(load(t, readmeFile))))
}

// TestRoleCoversTheProvider: every Identity Center call the provider
// makes is allowed by the role.
func TestRoleCoversTheProvider(t *testing.T) {
	calls, err := providerCalls(providerDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) < 5 {
		t.Fatalf("found only %v in %s: is the scan still reading the provider?", calls, providerDir)
	}
	for _, c := range calls {
		if !slices.Contains(TenantRoleActions, c) {
			t.Errorf("the provider calls %s, which the tenant role does not allow", c)
		}
	}
	t.Logf("provider calls %v", calls)
}

// TestChecksDetectBreakage runs the checks on broken copies of the
// template and the README.
func TestChecksDetectBreakage(t *testing.T) {
	orig, mainTmpl := load(t, templateFile), load(t, mainTemplate)
	cases := []struct{ name, old, new string }{
		{"anyone may assume", "              AWS: !Sub \"arn:${AWS::Partition}:iam::${JitsudoAccountId}:root\"\n", "              AWS: \"*\"\n"},
		{"another account", "iam::${JitsudoAccountId}:root", "iam::${AWS::AccountId}:root"},
		{"no external id", "            Condition:\n              StringEquals:\n                sts:ExternalId: !Ref ExternalId\n", ""},
		{"external id as a pattern", "              StringEquals:\n                sts:ExternalId", "              StringLike:\n                sts:ExternalId"},
		{"fixed external id", "sts:ExternalId: !Ref ExternalId", "sts:ExternalId: jitsudo"},
		{"trust widened", "            Action: sts:AssumeRole\n", "            Action: [sts:AssumeRole, sts:TagSession]\n"},
		{"wildcard action", "                  - sso:ListAccountAssignments\n", "                  - sso:*\n"},
		{"missing action", "                  - organizations:DescribeOrganization\n", ""},
		{"extra action", "                  - identitystore:GetUserId\n", "                  - identitystore:GetUserId\n                  - identitystore:DescribeUser\n"},
		{"IAM on every role", "Resource: !Sub \"arn:${AWS::Partition}:iam::*:role/aws-reserved/sso.amazonaws.com/*\"", "Resource: \"*\""},
		{"SAML provider on roles", "                  - iam:UpdateAssumeRolePolicy\n", "                  - iam:UpdateAssumeRolePolicy\n                  - iam:GetSAMLProvider\n"},
		{"NotAction", "                Action:\n                  - iam:GetSAMLProvider\n", "                NotAction:\n                  - iam:GetSAMLProvider\n"},
		{"account id pattern", "AllowedPattern: \"^[0-9]{12}$\"", "AllowedPattern: \"^[0-9]+$\""},
		{"role name out of step", "    Default: jitsudo-provisioner\n", "    Default: jitsudo-broker\n"},
		{"role under a path", "      RoleName: !Ref RoleName\n", "      RoleName: !Ref RoleName\n      Path: /jitsudo/\n"},
		{"admin on top", "      MaxSessionDuration: 3600\n", "      MaxSessionDuration: 3600\n      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]\n"},
		{"no output", "  RoleArn:\n", "  Role:\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(c.old)) {
				t.Fatalf("mutation is stale: %q not in %s", c.old, templateFile)
			}
			probs := checkTenantRole(bytes.Replace(orig, []byte(c.old), []byte(c.new), 1), mainTmpl)
			if len(probs) == 0 {
				t.Error("checkTenantRole passed a broken template")
			} else {
				t.Logf("caught: %s", probs[0])
			}
		})
	}
	readme := string(load(t, readmeFile))
	for _, c := range []struct{ name, old, new string }{
		{"action not listed", "`iam:GetSAMLProvider`", "iam:GetSAMLProvider"},
		{"section renamed", readmeSection + "\n", "## Onboarding\n"},
	} {
		t.Run("README "+c.name, func(t *testing.T) {
			if !strings.Contains(readme, c.old) {
				t.Fatalf("mutation is stale: %q not in %s", c.old, readmeFile)
			}
			if probs := checkReadme(strings.Replace(readme, c.old, c.new, 1)); len(probs) == 0 {
				t.Error("checkReadme passed a broken README")
			}
		})
	}
}
