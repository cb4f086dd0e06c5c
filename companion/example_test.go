package companion_test

import (
	"context"
	"fmt"
	"os"

	"github.com/skerry-dev/skerry/companion"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// A companion's missing image is pulled at its Install; Options.OnPull follows the pull: every
// progress update, then its end.
func ExampleOptions_OnPull() {
	dir, _ := os.MkdirTemp("", "companions")
	defer os.RemoveAll(dir)
	rt := rfake.New()
	rt.MakePullable("localhost/btc-ui:1")
	m, _ := companion.New(qfake.New(dir), rt, companion.Options{Dir: dir, Logger: quiet,
		OnPull: func(app, name string, p runtime.PullProgress, done bool) {
			if p.Config || done {
				fmt.Printf("%s of %s: %s layers=%d config=%v done=%v\n", name, app, p.Ref, p.Layers, p.Config, done)
			}
		}})
	ctx := context.Background()
	_ = m.Register("bitcoind", companion.Spec{Name: "bitcoind-ui", Image: "localhost/btc-ui:1"})
	if err := m.Install(ctx, "bitcoind"); err != nil {
		fmt.Println(err)
	}
	// Output:
	// bitcoind-ui of bitcoind: localhost/btc-ui:1 layers=3 config=true done=false
	// bitcoind-ui of bitcoind: localhost/btc-ui:1 layers=3 config=true done=true
}
