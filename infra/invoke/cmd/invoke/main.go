// Command invoke runs one function's bootstrap under the Lambda Runtime
// Interface Emulator with one event, against a fresh embedded DynamoDB
// seeded like the sample events expect (`make invoke FN=… EVENT=…`).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/jitsudo/jitsudo-serverless/infra/dynamolocal"
	"github.com/jitsudo/jitsudo-serverless/infra/invoke"
	"github.com/jitsudo/jitsudo-serverless/infra/modroot"
	"github.com/jitsudo/jitsudo-serverless/shared/store"
)

func main() {
	fn := flag.String("fn", "", "function directory name under functions/")
	event := flag.String("event", "", "event file, e.g. events/healthz.json")
	flag.Parse()
	if err := run(*fn, *event); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(fn, eventFile string) error {
	if fn == "" || eventFile == "" {
		return fmt.Errorf("usage: invoke -fn <function> -event <file>")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ev, err := os.ReadFile(eventFile)
	if err != nil {
		return err
	}
	root, err := modroot.Find()
	if err != nil {
		return err
	}
	rie, err := invoke.EnsureRIE(ctx, root)
	if err != nil {
		return err
	}
	out, err := os.MkdirTemp("", "jitsudo-invoke-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(out)
	if err := invoke.Build(ctx, root, out, fn); err != nil {
		return err
	}
	endpoint, stop := dynamolocal.Start()
	defer stop()
	const table = "jitsudo-invoke"
	client := dynamolocal.Client(endpoint)
	if err := store.CreateTable(ctx, client, table); err != nil {
		return err
	}
	s := store.New(client, table)
	if err := invoke.SeedEventFixtures(ctx, s); err != nil {
		return err
	}
	fx, err := invoke.Environment(ctx, fn, endpoint, table, s)
	if err != nil {
		return err
	}
	defer fx.Close()
	r, err := invoke.Start(ctx, rie, out+"/"+fn+"/bootstrap", fx.Env)
	if err != nil {
		return err
	}
	defer r.Close()
	payload, err := r.Invoke(ctx, ev)
	fmt.Fprint(os.Stderr, r.Logs())
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, payload, "", "  ") == nil {
		payload = pretty.Bytes()
	}
	fmt.Println(string(payload))
	return nil
}
