package hooks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/skerry-dev/skerry/hooks"
)

func TestTemplateFileRewritesOnlyOnChange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nginx.conf")
	password := "s3cret-1"
	h := hooks.TemplateFile{
		Path:     p,
		Template: template.Must(template.New("nginx").Parse("proxy_set_header Authorization {{.}};\n")),
		Data:     func(context.Context) (any, error) { return password, nil },
	}
	ctx := context.Background()
	for i, want := range []bool{true, false, false} {
		changed, err := h.PreStart(ctx)
		if err != nil || changed != want {
			t.Fatalf("run %d: changed=%v err=%v, want %v", i, changed, err, want)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600 by default", st.Mode().Perm())
	}
	password = "s3cret-2" // rotated
	if changed, err := h.PreStart(ctx); err != nil || !changed {
		t.Fatalf("after rotation: changed=%v err=%v, want true", changed, err)
	}
	got, _ := os.ReadFile(p)
	if !strings.Contains(string(got), "s3cret-2") {
		t.Fatalf("file = %q", got)
	}
}

func TestTemplateFileErrorsCarryNoSecret(t *testing.T) {
	h := hooks.TemplateFile{
		Path:     filepath.Join(t.TempDir(), "missing-dir", "f"),
		Template: template.Must(template.New("t").Parse("{{.}}")),
		Data:     func(context.Context) (any, error) { return "hunter2", nil },
	}
	_, err := h.PreStart(context.Background())
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v, want an error without the secret", err)
	}
	bad := hooks.TemplateFile{
		Path:     filepath.Join(t.TempDir(), "f"),
		Template: template.Must(template.New("t").Parse("{{.Missing.Field}}")),
		Data:     func(context.Context) (any, error) { return map[string]any{"Missing": "hunter2"}, nil },
	}
	_, err = bad.PreStart(context.Background())
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v, want a render error without the secret", err)
	}
}

func TestRunAll(t *testing.T) {
	var ran []int
	mk := func(i int, changed bool, err error) hooks.Hook {
		return hooks.Func(func(context.Context) (bool, error) { ran = append(ran, i); return changed, err })
	}
	changed, err := hooks.RunAll(context.Background(), []hooks.Hook{mk(0, false, nil), mk(1, true, nil), mk(2, false, nil)})
	if !changed || err != nil || len(ran) != 3 {
		t.Fatalf("changed=%v err=%v ran=%v", changed, err, ran)
	}
	ran = nil
	boom := errors.New("boom")
	_, err = hooks.RunAll(context.Background(), []hooks.Hook{mk(0, false, boom), mk(1, true, nil)})
	if !errors.Is(err, boom) || len(ran) != 1 {
		t.Fatalf("err=%v ran=%v, want boom after one hook", err, ran)
	}
}

func ExampleTemplateFile() {
	dir, _ := os.MkdirTemp("", "skerry-example")
	defer os.RemoveAll(dir)
	h := hooks.TemplateFile{
		Path:     filepath.Join(dir, "ui.conf"),
		Template: template.Must(template.New("ui").Parse("rpcpassword={{.}}\n")),
		Data:     func(context.Context) (any, error) { return "rotated-password", nil },
	}
	first, _ := h.PreStart(context.Background())
	second, _ := h.PreStart(context.Background())
	fmt.Println(first, second)
	// Output: true false
}
