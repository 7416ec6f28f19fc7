// Package testparallel raises a test package's default -test.parallel, for
// suites whose parallel tests spend their time waiting (on a state
// machine's timers, a local stack's replies), not on CPU: go test's default
// (GOMAXPROCS, 2 on a small CI runner) would run those waits two at a time.
package testparallel

import (
	"flag"
	"runtime"
	"strconv"
)

// AtLeast sets -test.parallel to n unless it was given on the command line
// or GOMAXPROCS is already n or more. Call it from TestMain before m.Run.
func AtLeast(n int) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit && runtime.GOMAXPROCS(0) < n {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic(err) // testing registers test.parallel before TestMain runs
		}
	}
}
