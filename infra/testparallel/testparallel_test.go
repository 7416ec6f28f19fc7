package testparallel_test

import (
	"flag"
	"os"
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
// to 64; an explicit -parallel is left as given (go test -parallel 3 runs
// this test in that case).
func TestAtLeast(t *testing.T) {
	got := flag.Lookup("test.parallel").Value.String()
	switch {
	case given == "" && got != "64":
		t.Errorf("-test.parallel %s (default %s), want 64", got, before)
	case given != "" && got != given:
		t.Errorf("-test.parallel given as %s, now %s", given, got)
	}
}
