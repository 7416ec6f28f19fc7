package testparallel_test

import (
	"flag"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/jitsudo/jitsudo-serverless/infra/testparallel"
)

var given, before string // -test.parallel as given on the command line ("" if not), and before AtLeast

func TestMain(m *testing.M) {
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			given = f.Value.String()
		}
	})
	before = flag.Lookup("test.parallel").Value.String()
	testparallel.AtLeast(64)
	os.Exit(m.Run())
}

// TestAtLeast: without -parallel on the command line the default is raised
// to 64 (unless GOMAXPROCS is already higher); an explicit -parallel is left as given (go test -parallel 3 runs
// this test in that case).
func TestAtLeast(t *testing.T) {
	got := flag.Lookup("test.parallel").Value.String()
	want := strconv.Itoa(max(64, runtime.GOMAXPROCS(0))) // a default above 64 is left alone
	switch {
	case given == "" && got != want:
		t.Errorf("-test.parallel %s (default %s), want %s", got, before, want)
	case given != "" && got != given:
		t.Errorf("-test.parallel given as %s, now %s", given, got)
	}
}
