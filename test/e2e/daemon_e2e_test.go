//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/quadlet"
)

// TestMain doubles as the embedding daemon of TestCompanionSurvivesDaemonKill.
func TestMain(m *testing.M) {
	if name := os.Getenv("SKERRY_E2E_DAEMON_APP"); name != "" {
		os.Exit(daemon(name))
	}
	os.Exit(m.Run())
}

// daemon is a minimal embedding daemon: register the app and its companion, install, one
// reconcile pass of both, then report "ready" and wait to be killed.
func daemon(name string) int {
	n := newNode(&daemonTB{})
	ctx := context.Background()
	if err := n.comps.Register(name, ui(name)); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if _, err := n.o.Install(ctx, app(name)); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	rep := n.o.ReconcileAll(ctx)
	for _, u := range n.comps.Reconcile(ctx) {
		if u.Err != nil || u.Action != "none" || u.Rewritten {
			fmt.Println("companion acted:", u.Unit, u.Action, u.Rewritten, u.Err)
		}
	}
	fmt.Printf("ready acted=%d\n", rep.Acted())
	select {}
}

// daemonTB lets newNode run outside a test.
type daemonTB struct{ testing.TB }

func (*daemonTB) Helper()                   {}
func (*daemonTB) Cleanup(func())            {}
func (*daemonTB) Fatal(args ...any)         { fmt.Println(args...); os.Exit(1) }
func (*daemonTB) Fatalf(f string, a ...any) { fmt.Printf(f+"\n", a...); os.Exit(1) }

func startDaemon(t *testing.T, name string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SKERRY_E2E_DAEMON_APP="+name)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "ready") {
		cmd.Process.Kill()
		t.Fatalf("daemon: %q", line)
	}
	go io.Copy(io.Discard, out)
	return cmd, strings.TrimSpace(line)
}

func TestCompanionSurvivesDaemonKill(t *testing.T) {
	n := newNode(t)
	name := uniq("daemon")
	t.Cleanup(func() {
		ctx := context.Background()
		n.comps.Register(name, ui(name))
		n.comps.Remove(ctx, name)
		n.o.Uninstall(ctx, name, orchestrator.UninstallOptions{Purge: true})
	})
	d, _ := startDaemon(t, name)
	unit := quadlet.ServiceName(name + "-ui")
	before := n.mustBeHealthy(t, name+"-ui")
	appBefore := n.mustBeHealthy(t, name)
	if err := d.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.Wait()
	time.Sleep(3 * time.Second) // longer than the companion's RestartSec
	if st := n.unitState(t, unit); st.ActiveState != "active" {
		t.Fatalf("companion after the daemon's SIGKILL: %+v", st)
	}
	if after := n.mustBeHealthy(t, name+"-ui"); after.ID != before.ID {
		t.Fatal("the companion's container was replaced although nothing was wrong")
	}
	// The restarted daemon finds everything in place and changes nothing.
	d2, line := startDaemon(t, name)
	defer func() { d2.Process.Kill(); d2.Wait() }()
	if line != "ready acted=0" {
		t.Fatalf("restarted daemon: %q", line)
	}
	if after := n.obs(t, name+"-ui"); after.ID != before.ID {
		t.Fatal("the restarted daemon replaced the companion")
	}
	if after := n.obs(t, name); after.ID != appBefore.ID || !after.StartedAt.Equal(appBefore.StartedAt) {
		t.Fatal("the restarted daemon touched the healthy app")
	}
}
