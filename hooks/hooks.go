// Package hooks owns pre-start hooks: work that runs before an app starts (and on every
// reconcile pass) and may rewrite the app's configuration, in which case the orchestrator
// restarts a running app. It also provides the atomic render-to-file helper most hooks are
// made of.
package hooks

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"text/template"

	"github.com/skerry-dev/skerry/internal/atomicfile"
)

// Hook runs before an app starts and on every reconcile pass. Changed reports that the hook
// rewrote configuration the running app has read, so the app must be restarted to see it.
// A hook must be idempotent and cheap when nothing changed. Errors must not carry secrets.
type Hook interface {
	PreStart(ctx context.Context) (changed bool, err error)
}

// Func adapts a function to Hook.
type Func func(ctx context.Context) (bool, error)

var _ Hook = Func(nil)

// PreStart implements Hook.
func (f Func) PreStart(ctx context.Context) (bool, error) { return f(ctx) }

// WriteIfChanged makes path hold data with permission mode atomically, writing nothing when it
// already does, and reports whether it changed the file. See TemplateFile.
func WriteIfChanged(path string, data []byte, mode fs.FileMode) (bool, error) {
	return atomicfile.WriteIfChanged(path, data, mode)
}

// TemplateFile is a Hook that renders Template with the value Data returns into Path, with
// permission Mode (0600 when zero, because such files often hold RPC passwords), only when the
// bytes differ. Example: an nginx.conf holding a rotating RPC password.
type TemplateFile struct {
	Path     string
	Template *template.Template
	// Data returns the template's data at each run, e.g. reading the current password.
	Data func(ctx context.Context) (any, error)
	Mode fs.FileMode
	// Consumers name the containers that read Path: the app and/or its companions. When set,
	// each consumer is brought onto new content by its inputs digest (see Producer), not by
	// the changed flag; when empty, the app restarts when the content changes.
	Consumers []string
}

// PreStart implements Hook. The template runs with Option("missingkey=error"), whatever the
// template was parsed with: a key missing from a map fails the hook instead of rendering
// "<no value>" into the file. On any error nothing is written. A render error is a
// *TemplateError wrapping text/template's error; its text never holds the data.
func (h TemplateFile) PreStart(ctx context.Context) (bool, error) {
	var data any
	if h.Data != nil {
		var err error
		if data, err = h.Data(ctx); err != nil {
			return false, fmt.Errorf("hook %s: data: %w", h.Path, err)
		}
	}
	tmpl, err := h.Template.Clone()
	if err != nil {
		return false, &TemplateError{Path: h.Path, Template: h.Template.Name(), Err: err}
	}
	var buf bytes.Buffer
	if err := tmpl.Option("missingkey=error").Execute(&buf, data); err != nil {
		return false, &TemplateError{Path: h.Path, Template: h.Template.Name(), Err: err}
	}
	mode := h.Mode
	if mode == 0 {
		mode = 0o600
	}
	return WriteIfChanged(h.Path, buf.Bytes(), mode)
}

// RunAll runs hooks in order, stopping at the first error, and reports whether any changed
// configuration. A hook's error text is bounded (BoundError).
func RunAll(ctx context.Context, hs []Hook) (changed bool, err error) {
	for i, h := range hs {
		c, err := h.PreStart(ctx)
		if err != nil {
			return changed, fmt.Errorf("pre-start hook %d: %w", i, BoundError(err))
		}
		changed = changed || c
	}
	return changed, nil
}
