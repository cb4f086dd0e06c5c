//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

// composeFile writes a compose file of n services equivalent to the bench apps, named
// project-000 ..., and returns its path.
func composeFile(project string, n int) (string, error) {
	dir := filepath.Join(os.TempDir(), "skerry-bench", project)
	var b []byte
	b = append(b, "services:\n"...)
	for i := range n {
		b = fmt.Appendf(b, "  s%03d:\n    image: %s\n    container_name: %s-%03d\n    command: [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n"+
			"    stop_grace_period: 1s\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/\"]\n      interval: %ds\n",
			i, image, project, i, int(checkInterval/time.Second))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "compose.yaml")
	return path, os.WriteFile(path, b, 0o644)
}

func composeCmd(file, project string, args ...string) error {
	cmd := exec.Command("podman-compose", append([]string{"-f", file, "-p", project}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("podman-compose %v: %v\n%s", args, err, out)
	}
	return nil
}

// allHealthy runs the health check of every named container, all at once, round after round
// until all passed: what a script around `podman-compose up -d` does to know the apps are up.
func (e *env) allHealthy(ctx context.Context, names []string) error {
	deadline := time.Now().Add(5 * time.Minute)
	pending := names
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy: %v", pending)
		}
		ok := make([]bool, len(pending))
		var wg sync.WaitGroup
		for i, n := range pending {
			wg.Go(func() {
				h, err := e.rt.Runtime.RunHealthCheck(ctx, n)
				ok[i] = err == nil && h == runtime.HealthHealthy
			})
		}
		wg.Wait()
		var still []string
		for i, n := range pending {
			if !ok[i] {
				still = append(still, n)
			}
		}
		if pending = still; len(pending) > 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}
