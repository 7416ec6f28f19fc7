package modroot

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindFromThisPackage(t *testing.T) {
	root, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "infra", "modroot", "modroot.go")); err != nil {
		t.Fatalf("Find() = %s, which does not hold this package: %v", root, err)
	}
}

func TestFindFromSkipsOtherModules(t *testing.T) {
	root, err := Find()
	if err != nil {
		t.Fatal(err)
	}
	// A nested module of another path (as a node_modules or vendored
	// tree could hold) is not the root.
	nested := filepath.Join(t.TempDir(), "other")
	if err := os.MkdirAll(filepath.Join(nested, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nested, "go.mod"), []byte("module example.com/other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := findFrom(filepath.Join(nested, "sub")); err == nil {
		t.Fatalf("findFrom(outside the repository) = %s, want an error", got)
	}
	ours := filepath.Join(root, "infra", "modroot")
	if got, err := findFrom(ours); err != nil || got != root {
		t.Fatalf("findFrom(%s) = %s, %v; want %s", ours, got, err, root)
	}
}
