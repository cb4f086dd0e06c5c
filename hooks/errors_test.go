package hooks_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"unicode/utf8"

	"github.com/skerry-dev/skerry/hooks"
)

func TestTemplateErrorKeepsItsCause(t *testing.T) {
	errVault := errors.New("vault sealed")
	tmpl := template.Must(template.New("conf").Funcs(template.FuncMap{
		"secret": func(string) (string, error) { return "", errVault },
	}).Parse(`rpcpassword={{secret "rpc"}}`))
	h := hooks.TemplateFile{Path: filepath.Join(t.TempDir(), "conf"), Template: tmpl}
	_, err := h.PreStart(t.Context())
	var terr *hooks.TemplateError
	var eerr template.ExecError
	if !errors.Is(err, errVault) || !errors.As(err, &terr) || !errors.As(err, &eerr) {
		t.Fatalf("err = %v, want a TemplateError wrapping the function's error", err)
	}
	if terr.Path != h.Path || terr.Template != "conf" || !strings.Contains(err.Error(), `at <secret "rpc">`) {
		t.Fatalf("err = %v, want the file, the template and the failing action named", err)
	}
	if _, statErr := os.Stat(h.Path); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatal("a failed render wrote the file")
	}
}

func TestMissingKeyFailsAndWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bitcoin.conf")
	data := map[string]string{"user": "rpc", "password": "hunter2"}
	h := hooks.TemplateFile{
		Path:     path,
		Template: template.Must(template.New("btc").Parse("rpcuser={{.user}}\nrpcpassword={{.password}}\n")),
		Data:     func(context.Context) (any, error) { return data, nil },
	}
	if _, err := h.PreStart(t.Context()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	delete(data, "password") // e.g. the secret store returned no password this time
	changed, err := h.PreStart(t.Context())
	if changed || err == nil || !strings.Contains(err.Error(), `map has no entry for key "password"`) {
		t.Fatalf("changed=%v err=%v, want a missing-key error", changed, err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatalf("the file changed to %q after a failed render", after)
	}
	// The same holds for a template parsed with missingkey=zero or default.
	h.Template = template.Must(template.New("btc").Option("missingkey=zero").Parse("rpcpassword={{.password}}\n"))
	if _, err := h.PreStart(t.Context()); err == nil {
		t.Fatal("missingkey=zero rendered a missing key")
	}
}

func TestTemplateErrorWithholdsData(t *testing.T) {
	funcs := template.FuncMap{"check": func(v string) (string, error) { return "", errors.New("bad value " + v) }}
	for _, src := range []string{"{{range .}}x{{end}}", "{{check .Password}}"} {
		h := hooks.TemplateFile{
			Path:     filepath.Join(t.TempDir(), "f"),
			Template: template.Must(template.New("t").Funcs(funcs).Parse(src)),
			Data:     func(context.Context) (any, error) { return struct{ Password string }{"hunter2"}, nil },
		}
		_, err := h.PreStart(t.Context())
		if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "withheld") {
			t.Errorf("%s: err = %v, want an error without the data", src, err)
		}
	}
}

func TestBoundError(t *testing.T) {
	if hooks.BoundError(nil) != nil {
		t.Fatal("nil must stay nil")
	}
	small := errors.New("small")
	if hooks.BoundError(small) != small {
		t.Fatal("a short error must pass unchanged")
	}
	huge := errors.New(strings.Repeat("é", 1<<19)) // 1 MiB of two-byte runes
	b := hooks.BoundError(huge)
	msg := b.Error()
	if len(msg) > hooks.MaxErrorText || !utf8.ValidString(msg) || !strings.Contains(msg, "truncated") || !errors.Is(b, huge) {
		t.Fatalf("bounded error: %d bytes, valid UTF-8 %v, errors.Is %v", len(msg), utf8.ValidString(msg), errors.Is(b, huge))
	}
	_, err := hooks.RunAll(t.Context(), []hooks.Hook{hooks.Func(func(context.Context) (bool, error) { return false, huge })})
	if len(err.Error()) > hooks.MaxErrorText+64 || !errors.Is(err, huge) {
		t.Fatalf("RunAll: %d bytes of error text, errors.Is %v", len(err.Error()), errors.Is(err, huge))
	}
}

func TestEmptyTemplateError(t *testing.T) {
	h := hooks.TemplateFile{Path: filepath.Join(t.TempDir(), "f"), Template: template.New("empty")}
	_, err := h.PreStart(t.Context())
	if err == nil || !strings.Contains(err.Error(), `"empty" is an incomplete or empty template`) {
		t.Fatalf("err = %v, want text/template's message", err)
	}
}
