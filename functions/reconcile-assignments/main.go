// Command reconcile-assignments is the drift reconciler, run on an
// EventBridge schedule (template.yaml, ReconcileSchedule): for every
// tenant with AWS settings it compares live grants with the Identity
// Center assignments (providers.Reconcile).
package main

import (
	"github.com/jitsudo/jitsudo-serverless/shared/provider/providers"
	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

func main() {
	wiring.Reconciler("reconcile-assignments", providers.IdentityCenter, providers.NewReconcile, func(r providers.Reconcile) any { return r.Handle })
}
