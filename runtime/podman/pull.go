//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	imagetypes "github.com/containers/image/v5/types"
	"github.com/containers/podman/v5/pkg/auth"
	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/skerry-dev/skerry/runtime"
)

// Pull implements runtime.Images. Progress goes to opts.Progress when set (layers, not bytes:
// see runtime.PullProgress), else it is discarded; it is never printed to stderr.
func (r *Runtime) Pull(ctx context.Context, ref string, opts runtime.PullOptions) error {
	// No retries inside podman (its default is 3, with growing delays: ~9 s of a pass for an
	// image no registry has, seen in the fault campaign): skerry's next pass is the retry, and a
	// pass stays short, so a shutdown does not wait behind it.
	query := url.Values{"reference": {ref}, "quiet": {"true"}, "retry": {"0"}}
	var progress io.Writer = io.Discard
	if opts.Progress != nil {
		query.Set("quiet", "false")
		progress = newProgressWriter(ref, opts.Progress)
	}
	if opts.Insecure {
		query.Set("tlsVerify", "false")
	}
	if err := r.pull(ctx, query, progress); err != nil {
		return fmt.Errorf("podman: pull %s: %w", ref, mapErr(err, runtime.ErrImageNotFound))
	}
	return nil
}

// pull sends the pull request the bindings' images.Pull sends (with the registry credentials
// of this process's user, as podman-remote does) and reads its report stream: the text lines
// go to progress, the error entries are the pull's error.
func (r *Runtime) pull(ctx context.Context, query url.Values, progress io.Writer) error {
	header, err := auth.MakeXRegistryAuthHeader(&imagetypes.SystemContext{}, "", "")
	if err != nil {
		return err
	}
	resp, err := r.do(ctx, http.MethodPost, "/images/pull", query, header, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !resp.IsSuccess() {
		return resp.Process(nil)
	}
	dec := json.NewDecoder(resp.Body)
	var errs []error
	for {
		var report struct {
			Stream, Error, ID string
			Images            []string
		}
		if err := dec.Decode(&report); err != nil {
			if !errors.Is(err, io.EOF) { // a decoder's error is final: the bindings would loop on it
				errs = append(errs, errors.New(err.Error()+"\n"))
			}
			break
		}
		if ctx.Err() != nil {
			break
		}
		switch {
		case report.Stream != "":
			fmt.Fprint(progress, report.Stream)
		case report.Error != "":
			errs = append(errs, errors.New(report.Error))
		case len(report.Images) > 0, report.ID != "":
		default:
			return fmt.Errorf("failed to parse pull results stream, unexpected input: %v", report)
		}
	}
	return errorhandling.JoinErrors(errs)
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
