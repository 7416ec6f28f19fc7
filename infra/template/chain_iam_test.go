package template

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/serverless"
	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/routes"
)

// Least privilege around the audit log (issue 11 item 6): only the chain
// extender writes the chain partitions (T#<tenant>#CHAIN) and MACs with
// the chain key; the verify function may only check MACs; the authorizer
// reads only what it reads.

const (
	chainExtender     = "extend-audit-chain"
	chainVerifier     = "verify-audit-log"
	chainKeyID        = "AuditChainKey"
	chainWriteDenyID  = "AuditChainWriteDeny"
	chainWriteDenyRef = "Ref:" + chainWriteDenyID
	platformKeyParam  = "PlatformAdminKeyParameter"
	// readPlatformKeyDoc: the authorizer's GetParameter on exactly the
	// parameter's ARN.
	readPlatformKeyDoc = `{"Statement":[{"Action":"ssm:GetParameter","Effect":"Allow","Resource":"Sub:arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${` + platformKeyParam + `}","Sid":"ReadPlatformAdminKey"}]}`
)

// chainWriteDenyDoc is AuditChainWriteDeny's document, exactly (as
// goformation decodes it, intrinsics as markers): Deny of every item
// write action on the table when any leading key (partition key) is a
// chain partition. TransactWriteItems is authorized per item as
// PutItem/UpdateItem/DeleteItem, so it is covered.
const chainWriteDenyDoc = `{"Statement":[{"Action":["dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:DeleteItem","dynamodb:BatchWriteItem"],` +
	`"Condition":{"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["T#*#CHAIN"]}},"Effect":"Deny","Resource":"GetAtt:Table.Arn","Sid":"NoAuditChainWrites"}],"Version":"2012-10-17"}`

// isAuthorizerReadsDoc: exactly two statements on exactly !GetAtt
// <table>.Arn (no index): Allow dynamodb:GetItem when every leading key
// is a tenant's (T#*), and Deny dynamodb:GetItem when a leading key has a
// second '#' (T#*#*) and is not an API key's hash partition (T#*#KEY#*).
// What is left: GetItem of T#<tenant> (the identity settings) and of
// T#<tenant>#KEY#<sha256> (an API key). Nothing else.
func isAuthorizerReadsDoc(d serverless.Function_IAMPolicyDocument, table string) bool {
	if len(d.Statement) != 2 || table == "" {
		return false
	}
	b, _ := json.Marshal(d.Statement)
	want := fmt.Sprintf(`[{"Action":"dynamodb:GetItem","Condition":{"ForAllValues:StringLike":{"dynamodb:LeadingKeys":["T#*"]}},"Effect":"Allow","Resource":"GetAtt:%[1]s.Arn","Sid":"ReadApiKeysAndIdentitySettings"},`+
		`{"Action":"dynamodb:GetItem","Condition":{"ForAllValues:StringNotLike":{"dynamodb:LeadingKeys":["T#*#KEY#*"]},"ForAnyValue:StringLike":{"dynamodb:LeadingKeys":["T#*#*"]}},"Effect":"Deny","Resource":"GetAtt:%[1]s.Arn","Sid":"NoOtherPartitions"}]`, table)
	return string(b) == want
}

// checkChainWriteDeny: the managed policy exists with exactly its
// document (checkSettings checks who holds it: every function with table
// access but the extender).
func checkChainWriteDeny(tp *tmpl) []string {
	mp, err := tp.cfn.GetIAMManagedPolicyWithName(chainWriteDenyID)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v (an AWS::IAM::ManagedPolicy)", chainWriteDenyID, err)}
	}
	b, _ := json.Marshal(mp.PolicyDocument)
	if string(b) != chainWriteDenyDoc {
		return []string{fmt.Sprintf("%s: document is\n%s\nwant\n%s", chainWriteDenyID, b, chainWriteDenyDoc)}
	}
	if len(mp.Roles) > 0 || len(mp.Users) > 0 || len(mp.Groups) > 0 {
		return []string{chainWriteDenyID + ": attach it through the functions' Policies, not Roles/Users/Groups"}
	}
	return nil
}

// kmsActionsByResource maps each resource to the kms: actions its raw
// YAML names (function policies, key policies, anything), and reports
// wildcards (kms:* or a bare *) found in an Action.
func kmsActionsByResource(tp *tmpl) (map[string][]string, []string) {
	out := map[string][]string{}
	var wild []string
	res := mapValue(tp.doc, "Resources")
	if res == nil {
		return out, []string{"no Resources"}
	}
	for j := 0; j+1 < len(res.Content); j += 2 {
		id := res.Content[j].Value
		var walk func(n *yaml.Node, inAction bool)
		walk = func(n *yaml.Node, inAction bool) {
			if n.Kind == yaml.ScalarNode {
				switch {
				case strings.HasPrefix(n.Value, "kms:") && strings.ContainsAny(n.Value, "*?"):
					// administrative wildcards (Describe*, Put*, …) are
					// fine; one that covers a MAC operation is not
					if wildMatches(n.Value, "kms:GenerateMac") || wildMatches(n.Value, "kms:VerifyMac") {
						wild = append(wild, id+": "+n.Value)
					}
				case strings.HasPrefix(n.Value, "kms:"):
					out[id] = append(out[id], n.Value)
				case inAction && n.Value == "*":
					wild = append(wild, id+": Action *")
				}
				return
			}
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					k := n.Content[i].Value
					walk(n.Content[i+1], k == "Action" || k == "NotAction")
					if k == "NotAction" {
						wild = append(wild, id+": NotAction")
					}
				}
				return
			}
			for _, c := range n.Content {
				walk(c, inAction)
			}
		}
		walk(res.Content[j+1], false)
	}
	return out, wild
}

// wildMatches: IAM's action wildcard match (* any run, ? one character,
// case-insensitive).
func wildMatches(pattern, action string) bool {
	re := "(?i)^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(pattern)) + "$"
	return regexp.MustCompile(re).MatchString(action)
}

// checkChainKeyUse: kms:GenerateMac is named only by the extender's
// policy and by the key policy (which lets the account's IAM policies
// grant it: without that statement no IAM policy can); kms:VerifyMac
// only by those and the verify function's. No kms wildcard, no
// NotAction anywhere.
func checkChainKeyUse(tp *tmpl) []string {
	var probs []string
	ext, ver := routes.LogicalID(chainExtender), routes.LogicalID(chainVerifier)
	allowed := map[string][]string{
		"kms:GenerateMac": {ext, chainKeyID},
		"kms:VerifyMac":   {ext, ver, chainKeyID},
	}
	acts, wild := kmsActionsByResource(tp)
	for _, w := range wild {
		probs = append(probs, "wildcard or NotAction in a policy: "+w)
	}
	for act, who := range allowed {
		var holders []string
		for id, as := range acts {
			if slices.Contains(as, act) {
				holders = append(holders, id)
			}
		}
		slices.Sort(holders)
		want := slices.Sorted(slices.Values(who))
		if !slices.Equal(holders, want) {
			probs = append(probs, fmt.Sprintf("%s is named by %v, want exactly %v", act, holders, want))
		}
	}
	// The key policy: the account root may administer the key and its
	// IAM policies may grant the MAC operations; nobody is named directly.
	key := mapValue(mapValue(mapValue(tp.doc, "Resources"), chainKeyID), "Properties")
	if v := mapValue(key, "KeyUsage"); v == nil || v.Value != "GENERATE_VERIFY_MAC" {
		probs = append(probs, chainKeyID+": KeyUsage must be GENERATE_VERIFY_MAC")
	}
	return probs
}

// anchorBucketPolicyDoc is the anchor bucket's policy, exactly: nobody
// puts a delete marker over an anchor.
const anchorBucketPolicyDoc = `{"Statement":[{"Action":"s3:DeleteObject","Effect":"Deny","Principal":"*",` +
	`"Resource":"Sub:${AuditAnchorBucket.Arn}/*","Sid":"NoDeleteMarkersOverAnchors"}],"Version":"2012-10-17"}`

// checkAnchorBucket: the anchors' bucket has Object Lock and versioning,
// and exactly one bucket policy, anchorBucketPolicyDoc.
func checkAnchorBucket(tp *tmpl) []string {
	var probs []string
	b, err := tp.cfn.GetS3BucketWithName("AuditAnchorBucket")
	if err != nil {
		return []string{err.Error()}
	}
	if b.ObjectLockEnabled == nil || !*b.ObjectLockEnabled || b.VersioningConfiguration == nil || b.VersioningConfiguration.Status != "Enabled" {
		probs = append(probs, "AuditAnchorBucket: Object Lock and versioning must be enabled")
	}
	var docs []string
	for id, p := range tp.cfn.GetAllS3BucketPolicyResources() {
		if p.Bucket != "Ref:AuditAnchorBucket" {
			continue
		}
		d, _ := json.Marshal(p.PolicyDocument)
		docs = append(docs, id+": "+string(d))
	}
	if len(docs) != 1 || !strings.HasSuffix(docs[0], ": "+anchorBucketPolicyDoc) {
		probs = append(probs, fmt.Sprintf("AuditAnchorBucket: want one bucket policy %s; have %v", anchorBucketPolicyDoc, docs))
	}
	return probs
}

func TestAuditChainLeastPrivilege(t *testing.T) {
	tp := loadTemplate(t)
	report(t, append(checkChainWriteDeny(tp), checkChainKeyUse(tp)...))
	report(t, checkAnchorBucket(tp))
	// Who holds the deny, and the authorizer's reads: checkSettings.
	report(t, checkSettings(tp))
}

func TestAuditChainChecksDetectBreakage(t *testing.T) {
	orig, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	both := func(tp *tmpl) []string {
		return append(append(checkChainWriteDeny(tp), checkChainKeyUse(tp)...), checkSettings(tp)...)
	}
	cases := []struct{ name, old, new string }{
		{"deny dropped from an API function", "CodeUri: functions/post-message/\n      Description: POST /v1/requests/{id}/messages (post to the conversation on a request)\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n        - !Ref AuditChainWriteDeny\n",
			"CodeUri: functions/post-message/\n      Description: POST /v1/requests/{id}/messages (post to the conversation on a request)\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n"},
		{"deny dropped from a worker", "CodeUri: functions/record-failure/\n      Description: \"workflow: the Catch of every step; a failed expiry -> revoke_failed, other failures audited (the sweeper finishes them)\"\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n        - !Ref AuditChainWriteDeny\n",
			"CodeUri: functions/record-failure/\n      Description: \"workflow: the Catch of every step; a failed expiry -> revoke_failed, other failures audited (the sweeper finishes them)\"\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n"},
		{"deny on the extender", "      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n        - Statement:\n            - Effect: Allow\n              Action: [kms:GenerateMac, kms:VerifyMac]",
			"      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n        - !Ref AuditChainWriteDeny\n        - Statement:\n            - Effect: Allow\n              Action: [kms:GenerateMac, kms:VerifyMac]"},
		{"deny without BatchWriteItem", "dynamodb:DeleteItem, dynamodb:BatchWriteItem]", "dynamodb:DeleteItem]"},
		{"deny on another partition", `dynamodb:LeadingKeys: ["T#*#CHAIN"]`, `dynamodb:LeadingKeys: ["T#*#CHAINS"]`},
		{"deny with ForAllValues", "              ForAnyValue:StringLike:\n                dynamodb:LeadingKeys: [\"T#*#CHAIN\"]", "              ForAllValues:StringLike:\n                dynamodb:LeadingKeys: [\"T#*#CHAIN\"]"},
		{"authorizer reads the whole table", "        - Statement:\n            - Sid: ReadApiKeysAndIdentitySettings\n", "        - DynamoDBReadPolicy: {TableName: !Ref Table}\n        - Statement:\n            - Sid: ReadApiKeysAndIdentitySettings\n"},
		{"authorizer queries", "              Action: dynamodb:GetItem\n              Resource: !GetAtt Table.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"T#*\"]",
			"              Action: [dynamodb:GetItem, dynamodb:Query]\n              Resource: !GetAtt Table.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"T#*\"]"},
		{"authorizer reads every partition", "                ForAllValues:StringNotLike:\n                  dynamodb:LeadingKeys: [\"T#*#KEY#*\"]", "                ForAllValues:StringNotLike:\n                  dynamodb:LeadingKeys: [\"T#*\"]"},
		{"GenerateMac for verify", "              Action: kms:VerifyMac\n", "              Action: [kms:VerifyMac, kms:GenerateMac]\n"},
		{"plain platform key", "          PLATFORM_ADMIN_KEY_PARAMETER: !Ref PlatformAdminKeyParameter\n", "          PLATFORM_ADMIN_KEY_PARAMETER: !Ref PlatformAdminKeyParameter\n          PLATFORM_ADMIN_KEY: !Ref Stage\n"},
		{"any parameter readable", "parameter${PlatformAdminKeyParameter}", "parameter/*"},
		{"kms wildcard", "              Action: kms:VerifyMac\n", "              Action: kms:*Mac\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustCatch(t, orig, c.old, c.new, both) })
	}
	for _, c := range []struct{ name, old, new string }{
		{"delete markers allowed", "            Action: s3:DeleteObject\n            Resource: !Sub \"${AuditAnchorBucket.Arn}/*\"", "            Action: s3:DeleteObjectTagging\n            Resource: !Sub \"${AuditAnchorBucket.Arn}/*\""},
		{"deny on a prefix only", "            Resource: !Sub \"${AuditAnchorBucket.Arn}/*\"", "            Resource: !Sub \"${AuditAnchorBucket.Arn}/anchors/x/*\""},
		{"no object lock", "      ObjectLockEnabled: true\n", "      ObjectLockEnabled: false\n"},
	} {
		t.Run(c.name, func(t *testing.T) { mustCatch(t, orig, c.old, c.new, checkAnchorBucket) })
	}
	t.Run("extender without its schedule", func(t *testing.T) {
		mustCatch(t, orig, "        Anchor:\n          Type: Schedule\n", "        Anchor:\n          Type: SQS\n", checkBackground)
	})
	t.Run("schedule on another parameter", func(t *testing.T) {
		mustCatch(t, orig, "Schedule: !Ref AuditAnchorSchedule", "Schedule: !Ref SweepSchedule", checkBackground)
	})
}
