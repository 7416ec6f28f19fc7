// Package modroot finds this repository's module root from the working
// directory, for the local tooling (the Step Functions shim's files, the
// pinned goaws and RIE binaries in .bin) and its tests.
//
// It does not use runtime.Caller: make builds and tests everything with
// -trimpath (GOFLAGS in the Makefile), so that compiled packages do not
// depend on where the repository is checked out and a fresh clone reuses
// the Go build cache; under -trimpath, source file names are module paths,
// not directories. Tests run in their package's directory and make's
// commands at the repository root, so the working directory leads to it.
package modroot

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Module is this repository's module path.
const Module = "github.com/jitsudo/jitsudo-serverless"

// Find returns the nearest directory, from the working directory up, whose
// go.mod declares Module.
func Find() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("modroot: %w", err)
	}
	return findFrom(wd)
}

// findFrom is Find from dir instead of the working directory.
func findFrom(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("modroot: %w", err)
	}
	for {
		if declares(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("modroot: no go.mod of " + Module + " in the working directory or above (run from inside the repository)")
		}
		dir = parent
	}
}

// declares reports whether the go.mod at path declares Module.
func declares(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == Module
		}
	}
	return false
}
