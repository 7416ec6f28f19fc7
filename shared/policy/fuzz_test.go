package policy

import (
	"reflect"
	"slices"
	"testing"

	cedar "github.com/cedar-policy/cedar-go"
	ast "github.com/cedar-policy/cedar-go/x/exp/ast"
)

// FuzzNormalize feeds hostile rule fields, conditions and policy_text to
// Normalize. Properties: no panic; any accepted rule has CedarText that
// parses to exactly one policy with the declared effect and scope and only
// our annotations; Normalize is idempotent; ParseRule(CedarText) gives the
// same rule back. Seed corpus: testdata/fuzz/FuzzNormalize.
func FuzzNormalize(f *testing.F) {
	f.Add("r1", "name", "notice", "permit", "in", "Group", "eng", "in", "AwsAccount", "111122223333", "when { context.duration_seconds <= 3600 }", "require", "")
	f.Add("r2", "n", "", "forbid", "any", "", "", "any", "", "", `true }; permit(principal, action, resource);`, "", "")
	f.Fuzz(func(t *testing.T, id, name, notice, effect, pScope, pType, pID, rScope, rType, rID, conditions, mode, policyText string) {
		r := Rule{ID: id, Name: name, Notice: notice, Enabled: true, Effect: effect, Priority: 7,
			PrincipalScopeType: pScope, PrincipalEntityType: pType, PrincipalEntityID: pID,
			ActionScopeType: ScopeEq, ActionIDs: []string{ActionRequestAccess},
			ResourceScopeType: rScope, ResourceEntityType: rType, ResourceEntityID: rID,
			Conditions: conditions, ApprovalMode: mode, PolicyText: policyText}
		if policyText != "" {
			r = Rule{PolicyText: policyText}
		}
		n, err := Normalize(r)
		if err != nil {
			if _, ok := err.(*ValidationError); !ok {
				t.Fatalf("error is not a *ValidationError: %T %v", err, err)
			}
			return
		}
		text, err := CedarText(n)
		if err != nil {
			t.Fatalf("accepted rule has no CedarText: %v", err)
		}
		list, err := cedar.NewPolicyListFromBytes("", []byte(text))
		if err != nil || len(list) != 1 {
			t.Fatalf("escaped: %d policies, %v\n%s", len(list), err, text)
		}
		p := (*ast.Policy)(list[0].AST())
		if (p.Effect == ast.EffectPermit) != (n.Effect == EffectPermit) {
			t.Fatalf("effect changed:\n%s", text)
		}
		kind, typ, eid, _ := decomposeScope(p.Principal)
		if kind != n.PrincipalScopeType || typ != n.PrincipalEntityType || eid != n.PrincipalEntityID {
			t.Fatalf("principal scope changed:\n%s\n%+v", text, n)
		}
		kind, typ, eid, _ = decomposeScope(p.Resource)
		if kind != n.ResourceScopeType || typ != n.ResourceEntityType || eid != n.ResourceEntityID {
			t.Fatalf("resource scope changed:\n%s\n%+v", text, n)
		}
		for _, a := range p.Annotations {
			if !knownAnnotations[string(a.Key)] {
				t.Fatalf("foreign annotation @%s:\n%s", a.Key, text)
			}
		}
		if got := p.Annotations[0]; string(got.Key) != "id" || string(got.Value) != n.ID {
			t.Fatalf("id annotation changed:\n%s", text)
		}
		if slices.IndexFunc(p.Annotations, func(a ast.AnnotationType) bool { return string(a.Key) == "notice" && string(a.Value) != n.Notice }) >= 0 {
			t.Fatalf("notice changed:\n%s", text)
		}
		again, err := Normalize(n)
		if err != nil || !reflect.DeepEqual(again, n) {
			t.Fatalf("Normalize not idempotent: %v\n%+v\n%+v", err, n, again)
		}
		back, err := ParseRule(text)
		if err != nil || !reflect.DeepEqual(back, n) {
			t.Fatalf("ParseRule(CedarText) differs: %v\n%+v\n%+v", err, n, back)
		}
		// The compiled rule must be usable.
		if _, err := Compile([]Rule{n}); err != nil {
			t.Fatalf("Compile of accepted rule: %v", err)
		}
	})
}
