//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package fault_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"time"
)

// removalWatch follows podman's events for the removal of one container.
type removalWatch struct {
	cancel  context.CancelFunc
	cmd     *exec.Cmd
	removed chan struct{} // closed at the first removal event
}

// watchRemoval starts following the removal events of container name (from now on).
func watchRemoval(name string) (*removalWatch, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	w := &removalWatch{cancel: cancel, removed: make(chan struct{})}
	w.cmd = exec.CommandContext(ctx, "podman", "events", "--filter", "container="+name, "--filter", "event=remove", "--format", "{{.Name}}")
	out, err := w.cmd.StdoutPipe()
	if err == nil {
		err = w.cmd.Start()
	}
	if err != nil {
		cancel()
		return nil, err
	}
	go func() {
		if sc := bufio.NewScanner(out); sc.Scan() {
			close(w.removed)
		}
	}()
	return w, nil
}

// stop ends the watch.
func (w *removalWatch) stop() {
	w.cancel()
	w.cmd.Wait()
}

// killAtRemoval SIGKILLs d as soon as w sees the removal (or when within passes, or d exits
// by itself) and returns how long after the daemon's start the kill came.
func (c *campaign) killAtRemoval(d *daemon, w *removalWatch, within time.Duration) time.Duration {
	select {
	case <-w.removed:
	case <-d.done:
	case <-time.After(within):
	}
	d.kill()
	return time.Since(d.started)
}

// killAtBtcRemoval runs the uninstall of cfg and SIGKILLs its daemon at btc's container removal.
func (c *campaign) killAtBtcRemoval(cfg childConfig) {
	w, err := watchRemoval(btcApp)
	if err != nil {
		c.t.Fatalf("[seed %d] podman events: %v", c.seed, err)
	}
	defer w.stop()
	time.Sleep(500 * time.Millisecond) // let podman events begin to follow
	d := c.start(cfg)
	at := c.killAtRemoval(d, w, 30*time.Second)
	fault := c.nextFault(fmt.Sprintf("SIGKILL at %s's container removal (podman event, %v) into uninstall", btcApp, at.Round(time.Millisecond)))
	c.afterSigkill(fault, "uninstall")
}
