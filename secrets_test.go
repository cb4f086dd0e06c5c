package skerry_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"text/template"
	"time"

	"github.com/skerry-dev/skerry"
	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	rfake "github.com/skerry-dev/skerry/runtime/fake"
)

// secretApps is demoApps with bitcoind and its UI consuming an RPC password as a secret and in
// a rendered file named for both.
func secretApps(t *testing.T, password *atomic.Value, consumers ...string) []skerry.App {
	apps := demoApps()
	btc := &apps[0]
	value := func(context.Context) ([]byte, error) { return []byte(password.Load().(string)), nil }
	btc.Secrets = []orchestrator.Secret{{Name: "rpc", Value: value}}
	btc.Container.Secrets = []runtime.SecretRef{{Name: "rpc", Kind: runtime.SecretEnv, Target: "RPC_PASSWORD"}}
	btc.Hooks = []hooks.Hook{hooks.TemplateFile{Path: filepath.Join(t.TempDir(), "bitcoin.conf"),
		Template: template.Must(template.New("c").Parse("rpcpassword={{.}}\n")),
		Data:     func(ctx context.Context) (any, error) { b, _ := value(ctx); return string(b), nil }, Consumers: consumers}}
	btc.Companions[0].Secrets = []runtime.SecretRef{{Name: "rpc"}}
	return apps
}

func TestSupervisorBringsAppAndCompanionOntoARotatedSecret(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var password atomic.Value
		password.Store("one")
		store := rfake.NewSecrets()
		n := newNode(t, skerry.Options{Secrets: store}, secretApps(t, &password, "bitcoind", "bitcoind-ui")...)
		stop := n.start(t)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		_, before, _ := n.rt.Container("bitcoind")
		uiBefore, _ := n.units.Running(uiUnit)
		password.Store("two")
		n.sup.Trigger()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		_, after, _ := n.rt.Container("bitcoind")
		uiAfter, _ := n.units.Running(uiUnit)
		if before.ID == after.ID || uiBefore == uiAfter || !strings.Contains(uiAfter, "io.skerry.inputs") {
			t.Fatalf("after a rotation: bitcoind %s -> %s, UI unit changed %v", before.ID, after.ID, uiBefore != uiAfter)
		}
		if v, _ := store.Value("rpc"); string(v) != "two" {
			t.Fatalf("the store holds %q", v)
		}
		stop()
	})
}

func TestSupervisorRefusesUnknownConsumer(t *testing.T) {
	var password atomic.Value
	password.Store("one")
	rt := rfake.New()
	_, err := skerry.New(rt, qfake.New(t.TempDir()), skerry.Options{Secrets: rfake.NewSecrets(), Logger: quiet},
		secretApps(t, &password, "bitcoind", "bitcoind-gui")...)
	if !errors.Is(err, runtime.ErrInvalidSpec) || rt.TotalCalls() != 0 {
		t.Fatalf("New with a rendered file for an unknown companion: %v, %d runtime calls", err, rt.TotalCalls())
	}
	n := newNode(t, skerry.Options{Secrets: rfake.NewSecrets()})
	_, err = n.sup.Install(context.Background(), secretApps(t, &password, "bitcoind", "bitcoind-gui")[0])
	if !errors.Is(err, runtime.ErrInvalidSpec) || n.rt.TotalCalls() != 0 {
		t.Fatalf("Install of it: %v, %d runtime calls", err, n.rt.TotalCalls())
	}
}
