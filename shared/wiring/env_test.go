package wiring

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadersRefuseUndeclaredNames(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Lookup of an undeclared name did not panic")
		}
	}()
	lookup("NOT_A_JITSUDO_VARIABLE")
}

func TestDuration(t *testing.T) {
	t.Setenv("NOTICE_LEAD", "")
	if d, err := duration("NOTICE_LEAD", time.Minute); err != nil || d != time.Minute {
		t.Fatalf("unset: %v %v", d, err)
	}
	t.Setenv("NOTICE_LEAD", " 90s ")
	if d, err := duration("NOTICE_LEAD", time.Minute); err != nil || d != 90*time.Second {
		t.Fatalf("90s: %v %v", d, err)
	}
	for _, bad := range []string{"0s", "-1m", "soon"} {
		t.Setenv("NOTICE_LEAD", bad)
		if _, err := duration("NOTICE_LEAD", time.Minute); err == nil || !strings.Contains(err.Error(), "NOTICE_LEAD") {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestVarsAreUniqueAndSourced(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars {
		if seen[v.Name] || v.Doc == "" || (v.Source != Template && v.Source != Runtime && v.Source != Local) {
			t.Errorf("%+v: duplicate, undocumented or without a source", v)
		}
		seen[v.Name] = true
	}
}

// TestNothingElseReadsTheEnvironment: production code (shared/,
// functions/) reads environment variables only through this package, so
// the table is complete. Test-only packages still under shared/ are
// exempt.
func TestNothingElseReadsTheEnvironment(t *testing.T) {
	exempt := regexp.MustCompile(`shared/wiring/|/dynamotest/|/dynamolocal/`)
	fset := token.NewFileSet()
	for _, root := range []string{"../../shared", "../../functions"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || exempt.MatchString(filepath.ToSlash(path)) {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "os" && slices.Contains([]string{"Getenv", "LookupEnv", "Environ"}, sel.Sel.Name) {
					t.Errorf("%s: os.%s: read the environment through shared/wiring (and declare the variable in wiring.Vars)", fset.Position(sel.Pos()), sel.Sel.Name)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDocumented: docs/configuration.md's table lists exactly the
// variables of Vars (the runtime's own aside).
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	table := doc[:]
	if i := strings.Index(string(doc), "\n## "); i > 0 {
		table = doc[:i]
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(table), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(cells[2], -1) {
			documented[m[1]] = true
		}
	}
	for _, v := range Vars {
		if v.Source != Runtime && !documented[v.Name] {
			t.Errorf("%s is in Vars but not in docs/configuration.md's table", v.Name)
		}
	}
	for name := range documented {
		if !Declared(name) {
			t.Errorf("docs/configuration.md documents %s, which no function reads (not in Vars)", name)
		}
	}
}

// TestMainsOnlyCallWiring: every function's main.go is one call to this
// package (its starters build the dependencies and start the runtime):
// the wiring lives here, not in the mains.
func TestMainsOnlyCallWiring(t *testing.T) {
	mains, err := filepath.Glob("../../functions/*/main.go")
	if err != nil || len(mains) < 40 {
		t.Fatalf("found %d mains: %v", len(mains), err)
	}
	fset := token.NewFileSet()
	for _, m := range mains {
		f, err := parser.ParseFile(fset, m, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		calls := 0
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Name.Name == "main" && d.Recv == nil && isWiringCall(d.Body.List) {
					calls++
					continue
				}
				t.Errorf("%s: func %s: a main.go has only main, one call to wiring", m, d.Name.Name)
			case *ast.GenDecl:
				if d.Tok != token.IMPORT {
					t.Errorf("%s: %s declaration: a main.go has only main, one call to wiring", m, d.Tok)
				}
			}
		}
		if calls != 1 {
			t.Errorf("%s: main is not one call to wiring", m)
		}
	}
}

// isWiringCall: body is one statement, a call of wiring.<Starter>.
func isWiringCall(body []ast.Stmt) bool {
	if len(body) != 1 {
		return false
	}
	es, ok := body[0].(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "wiring"
}
