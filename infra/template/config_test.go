package template

import (
	"slices"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/wiring"
)

// TestEnvironmentMatchesConfig: template.yaml sets only variables the
// code declares (shared/wiring.Vars, the one table of what functions
// read), never one the Lambda runtime owns, and sets every variable the
// table says the template sets.
func TestEnvironmentMatchesConfig(t *testing.T) {
	tp := loadTemplate(t)
	source := map[string]wiring.Source{}
	for _, v := range wiring.Vars {
		source[v.Name] = v.Source
	}
	set := map[string]bool{}
	for name, f := range tp.functions() {
		for k := range envOf(tp, f) {
			set[k] = true
			switch s, ok := source[k]; {
			case !ok:
				t.Errorf("%s sets %s, which no function reads (not in shared/wiring.Vars)", name, k)
			case s == wiring.Runtime:
				t.Errorf("%s sets %s, which the Lambda runtime sets", name, k)
			}
		}
	}
	for _, v := range wiring.Vars {
		if v.Source == wiring.Template && !set[v.Name] {
			t.Errorf("wiring.Vars says the template sets %s, but no function's environment has it", v.Name)
		}
	}
	if len(set) == 0 || !slices.ContainsFunc(wiring.Vars, func(v wiring.Var) bool { return set[v.Name] }) {
		t.Fatal("no environment found in the template")
	}
}
