package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jitsudo/jitsudo-serverless/shared/auth"
	"github.com/jitsudo/jitsudo-serverless/shared/routes"
	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

// The access-request workflow in template.yaml: the state machine, its
// worker functions (routes.Workers) and the non-circular STATE_MACHINE_ARN.

const (
	stateMachineFile = "statemachines/access-request.asl.json"
	stateMachineName = "${AWS::StackName}-access-request"
	stateMachineARN  = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" + stateMachineName
)

// sendTaskActions are what store-task-token may do to Step Functions.
var sendTaskActions = []string{"states:SendTaskFailure", "states:SendTaskSuccess"}

var placeholderRe = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// checkWorkflow: one STANDARD state machine from the ASL file whose
// DefinitionSubstitutions are exactly the workers' ARNs (and cover every
// placeholder of the file), which may invoke exactly the workers; workers
// have no events; STATE_MACHINE_ARN is built from the state machine's fixed
// name, and no function refers to the state machine (a cycle); the
// roles of store-task-token and of the approve, deny and cancel routes may
// SendTaskSuccess/Failure and nothing else does.
func checkWorkflow(tp *tmpl, root string) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }

	sms := tp.cfn.GetAllServerlessStateMachineResources()
	if len(sms) != 1 {
		return []string{fmt.Sprintf("want exactly one AWS::Serverless::StateMachine, have %d", len(sms))}
	}
	var smID string
	for id := range sms {
		smID = id
	}
	sm := sms[smID]
	if got := str(sm.Type); got != "STANDARD" {
		fail("%s: Type %q, want STANDARD (one long-lived execution per request)", smID, got)
	}
	if sm.Definition != nil {
		fail("%s: use DefinitionUri %s, not an inline Definition", smID, stateMachineFile)
	}
	if sm.DefinitionUri == nil || str(sm.DefinitionUri.String) != stateMachineFile {
		fail("%s: DefinitionUri must be %s", smID, stateMachineFile)
	}
	if got := str(sm.Name); got != "Sub:"+stateMachineName {
		fail("%s: Name is %q, want !Sub %q (STATE_MACHINE_ARN is built from it)", smID, got, stateMachineName)
	}
	if sm.Role != nil {
		fail("%s: use Policies, not a Role", smID)
	}

	want := map[string]string{}
	for _, w := range routes.Workers {
		want[routes.LogicalID(w)+"Arn"] = "GetAtt:" + routes.LogicalID(w) + ".Arn"
	}
	for k, v := range want {
		if got := sm.DefinitionSubstitutions[k]; got != v {
			fail("%s: DefinitionSubstitutions.%s is %q, want !GetAtt %s", smID, k, got, strings.TrimPrefix(v, "GetAtt:"))
		}
	}
	for k := range sm.DefinitionSubstitutions {
		if _, ok := want[k]; !ok {
			fail("%s: DefinitionSubstitutions.%s is not a worker's ARN", smID, k)
		}
	}
	if asl, err := os.ReadFile(filepath.Join(root, stateMachineFile)); err != nil {
		fail("%v", err)
	} else {
		used := map[string]bool{}
		for _, m := range placeholderRe.FindAllStringSubmatch(string(asl), -1) {
			used[m[1]] = true
			if _, ok := sm.DefinitionSubstitutions[m[1]]; !ok {
				fail("%s uses ${%s}, which DefinitionSubstitutions does not define", stateMachineFile, m[1])
			}
		}
		for k := range sm.DefinitionSubstitutions {
			if !used[k] {
				fail("%s: DefinitionSubstitutions.%s is not used by %s", smID, k, stateMachineFile)
			}
		}
	}

	// Policies: LambdaInvokePolicy on each worker, nothing else.
	var invokes []string
	if sm.Policies == nil || sm.Policies.SAMPolicyTemplateArray == nil {
		fail("%s: Policies must list a LambdaInvokePolicy per worker", smID)
	} else {
		for i, p := range *sm.Policies.SAMPolicyTemplateArray {
			if p.LambdaInvokePolicy == nil {
				raw, _ := json.Marshal(p)
				fail("%s: unexpected policy #%d %s", smID, i, raw)
				continue
			}
			invokes = append(invokes, p.LambdaInvokePolicy.FunctionName)
		}
	}
	var wantInvokes []string
	for _, w := range routes.Workers {
		wantInvokes = append(wantInvokes, "Ref:"+routes.LogicalID(w))
	}
	sort.Strings(invokes)
	sort.Strings(wantInvokes)
	if !slices.Equal(invokes, wantInvokes) {
		fail("%s: LambdaInvokePolicy functions %v, want %v", smID, invokes, wantInvokes)
	}

	fns := tp.functions()
	for _, w := range routes.Workers {
		id := routes.LogicalID(w)
		f, ok := fns[id]
		if !ok {
			continue // checkFunctionSet reports it
		}
		if len(f.Events) > 0 {
			fail("%s: a workflow worker has no events (invoked by %s only)", id, smID)
		}
	}

	// STATE_MACHINE_ARN: from the fixed name, for every function.
	if g, err := tp.cfn.GetServerlessGlobalFunction(); err == nil && g.Environment != nil {
		if got := g.Environment.Variables["STATE_MACHINE_ARN"]; got != "Sub:"+stateMachineARN {
			fail("Globals.Function.Environment %s is %q, want !Sub %q", "STATE_MACHINE_ARN", got, stateMachineARN)
		}
	} else {
		fail("Globals.Function.Environment %s is missing", "STATE_MACHINE_ARN")
	}
	for id, f := range fns {
		if f.Environment != nil {
			if v, ok := f.Environment.Variables["STATE_MACHINE_ARN"]; ok {
				fail("%s: overrides %s (%q); the global value is the only non-circular one", id, "STATE_MACHINE_ARN", v)
			}
		}
		if mentions(resourceNode(tp, id), smID) {
			fail("%s refers to %s: a cycle (the state machine refers to the workers); use STATE_MACHINE_ARN", id, smID)
		}
	}

	// SendTask*: only the roles of the functions that resume the approval
	// wait (store-task-token, and the approve/deny/cancel routes), only
	// those actions.
	storeRole := routes.LogicalID(routes.Workers[0]) + "Role"
	resumers := []string{"Ref:" + storeRole}
	for _, fn := range resumingRoutes {
		resumers = append(resumers, "Ref:"+routes.LogicalID(fn)+"Role")
	}
	resumers = append(resumers, "Ref:"+routes.LogicalID("relay-outbox")+"Role")
	granted := false
	for id, p := range tp.cfn.GetAllIAMPolicyResources() {
		doc, _ := json.Marshal(p.PolicyDocument)
		if !bytes.Contains(doc, []byte("states:")) {
			continue
		}
		var roles []string
		for _, r := range p.Roles {
			roles = append(roles, r)
		}
		if !slices.Equal(roles, resumers) {
			fail("%s: Step Functions permissions attached to %v, want exactly %v", id, roles, resumers)
		}
		var d struct {
			Statement []struct {
				Effect   string
				Action   any
				Resource any
			}
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			fail("%s: PolicyDocument: %v", id, err)
			continue
		}
		for _, st := range d.Statement {
			actions := strs(st.Action)
			sort.Strings(actions)
			if st.Effect != "Allow" || !slices.Equal(actions, sendTaskActions) {
				fail("%s: statement %s %v, want Allow %v", id, st.Effect, actions, sendTaskActions)
				continue
			}
			granted = true
		}
	}
	if !granted {
		fail("no AWS::IAM::Policy lets %s (store-task-token) call %v", storeRole, sendTaskActions)
	}
	return probs
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

// resourceNode returns the raw YAML node of a resource.
func resourceNode(tp *tmpl, id string) *yaml.Node {
	for i := 0; i+1 < len(tp.doc.Content); i += 2 {
		if tp.doc.Content[i].Value != "Resources" {
			continue
		}
		res := tp.doc.Content[i+1]
		for j := 0; j+1 < len(res.Content); j += 2 {
			if res.Content[j].Value == id {
				return res.Content[j+1]
			}
		}
	}
	return nil
}

// mentions reports whether any scalar under n names id as a Ref, GetAtt or
// Sub variable.
func mentions(n *yaml.Node, id string) bool {
	if n == nil {
		return false
	}
	if n.Value == id || strings.HasPrefix(n.Value, id+".") || strings.Contains(n.Value, "${"+id+"}") || strings.Contains(n.Value, "${"+id+".") {
		return true
	}
	for _, c := range n.Content {
		if mentions(c, id) {
			return true
		}
	}
	return false
}

// checkWorkerEvent: a worker's sample event is a strict workflow.TaskInput
// with the fields that worker reads.
func checkWorkerEvent(data []byte, fn string) []string {
	var in workflow.TaskInput
	if err := decodeStrict(data, &in); err != nil {
		return []string{"not a strict workflow.TaskInput: " + err.Error()}
	}
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if !auth.ValidTenantID(in.TenantID) {
		fail("tenant_id %q is not a valid tenant id", in.TenantID)
	}
	if in.RequestID == "" {
		fail("request_id is required")
	}
	needGrant := fn != workflow.FnStoreTaskToken && fn != workflow.FnApprovalTimeout
	if needGrant != (in.GrantID != "") {
		fail("grant_id present = %v, want %v for %s", in.GrantID != "", needGrant, fn)
	}
	if (fn == workflow.FnStoreTaskToken) != (in.TaskToken != "") {
		fail("task_token belongs to store-task-token only")
	}
	if (fn == workflow.FnFailGrant || fn == workflow.FnRecordFailure) != (in.Error != "") {
		fail("error (the States Language error) belongs to fail-grant and record-failure only")
	}
	return probs
}

// resumingRoutes are the API functions that resume the approval wait
// (SendTaskSuccess/SendTaskFailure); startingRoutes start executions.
// The workflow driver (half of relay-outbox) does both, for any of them.
var (
	resumingRoutes = []string{"approve-request", "deny-request", "cancel-request"}
	startingRoutes = []string{"create-request", "extend-grant", "relay-outbox"}
)

func TestWorkflow(t *testing.T) {
	report(t, checkWorkflow(loadTemplate(t), repoRoot))
}

// TestWorkerNames: the workflow package's function names are routes.Workers.
func TestWorkerNames(t *testing.T) {
	names := []string{workflow.FnStoreTaskToken, workflow.FnApprovalTimeout, workflow.FnProvisionGrant, workflow.FnFailGrant, workflow.FnExpireGrant, workflow.FnNotifyExpiring, workflow.FnRecordFailure}
	if !slices.Equal(names, routes.Workers) {
		t.Errorf("workflow worker names %v, routes.Workers %v", names, routes.Workers)
	}
	var w workflow.Workers
	for _, n := range routes.Workers {
		if _, ok := w.Handlers()[n]; !ok {
			t.Errorf("workflow.Workers.Handlers has no %s", n)
		}
	}
}

// TestWorkflowChecksDetectBreakage: like TestChecksDetectBreakage, for the
// workflow block.
func TestWorkflowChecksDetectBreakage(t *testing.T) {
	orig, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatal(err)
	}
	wf := func(tp *tmpl) []string { return checkWorkflow(tp, repoRoot) }
	cases := []struct {
		name, old, new string
		check          func(*tmpl) []string
	}{
		{"express", "      Type: STANDARD\n", "      Type: EXPRESS\n", wf},
		{"other ASL", "DefinitionUri: statemachines/access-request.asl.json", "DefinitionUri: statemachines/other.asl.json", wf},
		{"substitution to the wrong worker", "FailGrantFunctionArn: !GetAtt FailGrantFunction.Arn", "FailGrantFunctionArn: !GetAtt ExpireGrantFunction.Arn", wf},
		{"substitution missing", "        ExpireGrantFunctionArn: !GetAtt ExpireGrantFunction.Arn\n", "", wf},
		{"invoke policy missing", "        - LambdaInvokePolicy: {FunctionName: !Ref ProvisionGrantFunction}\n", "", wf},
		{"unnamed state machine", "      Name: !Sub \"${AWS::StackName}-access-request\"\n", "", wf},
		{"ARN not matching the name", "stateMachine:${AWS::StackName}-access-request", "stateMachine:${AWS::StackName}-requests", wf},
		{"cycle", "      CodeUri: functions/store-task-token/\n", "      CodeUri: functions/store-task-token/\n      Environment:\n        Variables:\n          STATE_MACHINE_ARN: !Ref AccessRequestStateMachine\n", wf},
		{"worker with an HTTP route", "      CodeUri: functions/expire-grant/\n", "      CodeUri: functions/expire-grant/\n      Events:\n        Api:\n          Type: HttpApi\n          Properties:\n            ApiId: !Ref HttpApi\n            Method: POST\n            Path: /v1/expire\n", wf},
		{"send task to another role", "        - !Ref StoreTaskTokenFunctionRole\n", "        - !Ref FailGrantFunctionRole\n", wf},
		{"send task role missing", "        - !Ref DenyRequestFunctionRole\n", "", wf},
		{"send task widened", "Action: [states:SendTaskSuccess, states:SendTaskFailure]", "Action: [states:SendTaskSuccess, states:SendTaskFailure, states:StartExecution]", wf},
		{"start execution on another route", "      CodeUri: functions/get-request/\n      Description: GET /v1/requests/{id} (read an access request)\n      Policies:\n", "      CodeUri: functions/get-request/\n      Description: GET /v1/requests/{id} (read an access request)\n      Policies:\n        - StepFunctionsExecutionPolicy: {StateMachineName: !Sub \"${AWS::StackName}-access-request\"}\n", checkSettings},
		{"create-request cannot start", "        - StepFunctionsExecutionPolicy: {StateMachineName: !Sub \"${AWS::StackName}-access-request\"}\n", "", checkSettings},
		{"worker without table policy", "          PROVIDER_POLL_BUDGET: 60s\n      Policies:\n        - DynamoDBCrudPolicy: {TableName: !Ref Table}\n", "          PROVIDER_POLL_BUDGET: 60s\n      Policies:\n", checkSettings},
		{"worker not deployed", "  ApprovalTimeoutWorkerFunction:\n", "  ApprovalTimeoutFunction:\n", checkFunctionSet},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { mustCatch(t, orig, c.old, c.new, c.check) })
	}

	for _, c := range []struct{ name, file, event string }{
		{"token on the wrong worker", "provision-grant.json", `{"tenant_id":"acme","request_id":"r","grant_id":"g","task_token":"t"}`},
		{"grant worker without grant", "expire-grant.json", `{"tenant_id":"acme","request_id":"r"}`},
		{"unknown field", "approval-timeout-worker.json", `{"tenant_id":"acme","request_id":"r","mode":"require"}`},
		{"store without token", "store-task-token.json", `{"tenant_id":"acme","request_id":"r"}`},
	} {
		t.Run("events/"+c.name, func(t *testing.T) {
			fn, _ := eventFunction(c.file)
			if probs := checkWorkerEvent([]byte(c.event), fn); len(probs) == 0 {
				t.Error("checkWorkerEvent passed a broken event")
			}
		})
	}
}
