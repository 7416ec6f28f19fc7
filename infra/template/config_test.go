package template

import (
	"slices"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/shared/config"
)

// TestEnvironmentMatchesConfig: template.yaml sets only variables the
// code declares (shared/config.Vars, the one table of what functions
// read), never one the Lambda runtime owns, and sets every variable the
// table says the template sets.
func TestEnvironmentMatchesConfig(t *testing.T) {
	tp := loadTemplate(t)
	source := map[string]config.Source{}
	for _, v := range config.Vars {
		source[v.Name] = v.Source
	}
	set := map[string]bool{}
	for name, f := range tp.functions() {
		for k := range envOf(tp, f) {
			set[k] = true
			switch s, ok := source[k]; {
			case !ok:
				t.Errorf("%s sets %s, which no function reads (not in shared/config.Vars)", name, k)
			case s == config.Runtime:
				t.Errorf("%s sets %s, which the Lambda runtime sets", name, k)
			}
		}
	}
	for _, v := range config.Vars {
		if v.Source == config.Template && !set[v.Name] {
			t.Errorf("config.Vars says the template sets %s, but no function's environment has it", v.Name)
		}
	}
	if len(set) == 0 || !slices.ContainsFunc(config.Vars, func(v config.Var) bool { return set[v.Name] }) {
		t.Fatal("no environment found in the template")
	}
}
