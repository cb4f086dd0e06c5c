//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/containers/podman/v5/pkg/bindings/images"

	"github.com/skerry-dev/skerry/runtime"
)

// Pull implements runtime.Images. Progress goes to opts.Progress when set (layers, not bytes:
// see runtime.PullProgress), else it is discarded; it is never printed to stderr.
func (r *Runtime) Pull(ctx context.Context, ref string, opts runtime.PullOptions) error {
	// No retries inside podman (its default is 3, with growing delays: ~9 s of a pass for an
	// image no registry has, seen in the fault campaign): skerry's next pass is the retry, and a
	// pass stays short, so a shutdown does not wait behind it.
	po := new(images.PullOptions).WithQuiet(true).WithProgressWriter(io.Discard).WithRetry(0)
	if opts.Progress != nil {
		po = po.WithQuiet(false).WithProgressWriter(newProgressWriter(ref, opts.Progress))
	}
	if opts.Insecure {
		po = po.WithSkipTLSVerify(true)
	}
	if _, err := images.Pull(r.with(ctx), ref, po); err != nil {
		return fmt.Errorf("podman: pull %s: %w", ref, mapErr(err, runtime.ErrImageNotFound))
	}
	return nil
}

// progressWriter turns the text lines of podman's pull stream ("Copying blob sha256:...",
// "Copying config sha256:...", "Writing manifest ...") into runtime.PullProgress callbacks.
type progressWriter struct {
	p       runtime.PullProgress
	partial []byte
	report  func(runtime.PullProgress)
}

func newProgressWriter(ref string, report func(runtime.PullProgress)) *progressWriter {
	return &progressWriter{p: runtime.PullProgress{Ref: ref, Bytes: -1}, report: report}
}

// Write implements io.Writer; a line may arrive in pieces.
func (w *progressWriter) Write(b []byte) (int, error) {
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		w.line(strings.TrimSpace(string(w.partial[:i])))
		w.partial = w.partial[i+1:]
	}
}

func (w *progressWriter) line(l string) {
	if l == "" {
		return
	}
	switch {
	case strings.HasPrefix(l, "Copying blob "):
		w.p.Layers++
	case strings.HasPrefix(l, "Copying config "):
		w.p.Config = true
	}
	w.p.Message = l
	w.report(w.p)
}
