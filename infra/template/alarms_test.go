package template

import (
	"fmt"
	"slices"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"

	"github.com/jitsudo/jitsudo-serverless/shared/workflow"
)

const opsTopicID = "OpsTopic"

// wantAlarms: every fault of docs/failure-handling.md that an operator
// must hear about has an alarm on the ops topic: namespace, metric and
// the resource its dimension names ("" = no dimension, a custom metric).
var wantAlarms = []struct{ namespace, metric, dimension string }{
	{"AWS/States", "ExecutionsFailed", "Ref:AccessRequestStateMachine"},
	{"AWS/States", "ExecutionsTimedOut", "Ref:AccessRequestStateMachine"},
	{"AWS/States", "ExecutionsAborted", "Ref:AccessRequestStateMachine"},
	{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "GetAtt:RelayOutboxDLQ.QueueName"},
	{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "GetAtt:NotificationsDLQ.QueueName"},
	{"AWS/SQS", "ApproximateNumberOfMessagesVisible", "GetAtt:ExtendAuditChainDLQ.QueueName"},
	// the code's own names: an alarm on a metric nobody emits is silent
	{workflow.MetricNamespace, workflow.MetricRevokeFailures, ""},
	{workflow.MetricNamespace, workflow.MetricSweeperFindings, ""},
	{workflow.MetricNamespace, workflow.MetricStepFailures, ""},
	{"AWS/Lambda", "Errors", "Ref:AuthorizerFunction"},
	{"AWS/Lambda", "Errors", "Ref:SweepOverdueFunction"},
	{"AWS/Lambda", "Errors", "Ref:ExtendAuditChainFunction"},
	{"AWS/ApiGateway", "5xx", "Ref:HttpApi"},
}

// TestAlarms: the alarms exist, each notifies the ops topic, and the ops
// topic has an e-mail subscription when OpsEmail is given; every dead-letter
// queue of the template is watched.
func TestAlarms(t *testing.T) {
	tp := loadTemplate(t)
	report(t, checkAlarms(tp))
}

func checkAlarms(tp *tmpl) []string {
	var probs []string
	fail := func(f string, a ...any) { probs = append(probs, fmt.Sprintf(f, a...)) }
	if _, ok := tp.cfn.GetAllSNSTopicResources()[opsTopicID]; !ok {
		fail("no %s (AWS::SNS::Topic) for the alarms", opsTopicID)
	}
	subscribed := false
	for _, s := range tp.cfn.GetAllSNSSubscriptionResources() {
		if s.Protocol == "email" && s.TopicArn == "Ref:"+opsTopicID && s.Endpoint != nil && *s.Endpoint == "Ref:OpsEmail" {
			subscribed = true
		}
	}
	if !subscribed {
		fail("no e-mail subscription of %s to the OpsEmail parameter", opsTopicID)
	}
	if _, ok := tp.cfn.Parameters["OpsEmail"]; !ok {
		fail("no OpsEmail parameter")
	}
	alarms := tp.cfn.GetAllCloudWatchAlarmResources()
	has := func(a *cloudwatch.Alarm, namespace, metric, dim string) bool {
		if a.Namespace == nil || *a.Namespace != namespace || a.MetricName == nil || *a.MetricName != metric {
			return false
		}
		if dim == "" {
			return len(a.Dimensions) == 0
		}
		return slices.ContainsFunc(a.Dimensions, func(d cloudwatch.Alarm_Dimension) bool { return d.Value == dim })
	}
	for _, w := range wantAlarms {
		found := false
		for id, a := range alarms {
			if !has(a, w.namespace, w.metric, w.dimension) {
				continue
			}
			found = true
			if !slices.Contains(a.AlarmActions, "Ref:"+opsTopicID) {
				fail("%s: AlarmActions %v must include !Ref %s", id, a.AlarmActions, opsTopicID)
			}
			if a.TreatMissingData == nil || *a.TreatMissingData != "notBreaching" {
				fail("%s: TreatMissingData must be notBreaching (no data is no fault)", id)
			}
		}
		if !found {
			fail("no alarm on %s %s %s", w.namespace, w.metric, w.dimension)
		}
	}
	for q := range deadLetterQueues {
		queue := deadLetterQueues[q]
		if !slices.ContainsFunc(wantAlarms, func(w struct{ namespace, metric, dimension string }) bool {
			return w.dimension == "GetAtt:"+queue+".QueueName"
		}) {
			fail("dead-letter queue %s has no alarm", queue)
		}
	}
	return probs
}
