package companion_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/companion"
	qfake "github.com/skerry-dev/skerry/quadlet/fake"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

func TestSecretsRenderAsQuadletSecretLines(t *testing.T) {
	s := companion.Spec{Name: "btc-ui", Image: "localhost/ui:1", Secrets: []runtime.SecretRef{
		{Name: "rpc"}, {Name: "rpc", Target: "rpc.txt"}, {Name: "ui-key", Kind: runtime.SecretEnv, Target: "UI_KEY"}}}
	got := s.Unit("btc").Container.Secret
	want := []string{"rpc,type=mount", "rpc,type=mount,target=rpc.txt", "ui-key,type=env,target=UI_KEY"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Secret= %q, want %q", got, want)
	}
}

func TestBadCompanionSecretIsRefused(t *testing.T) {
	m, err := companion.New(qfake.New(t.TempDir()), fake.New(), companion.Options{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []runtime.SecretRef{{Name: "a,b"}, {Name: "p", Kind: runtime.SecretEnv}, {Name: "p", Target: "../x"}} {
		err := m.Register("btc", companion.Spec{Name: "btc-ui", Image: "localhost/ui:1", Secrets: []runtime.SecretRef{ref}})
		if !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Errorf("%+v: %v, want ErrInvalidSpec", ref, err)
		}
	}
}

func TestSetInputsChangesTheUnitFileOnlyWhenTheDigestDoes(t *testing.T) {
	dir := t.TempDir()
	rt := fake.New()
	rt.AddImage("localhost/ui:1")
	m, err := companion.New(qfake.New(dir), rt, companion.Options{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	spec := companion.Spec{Name: "btc-ui", Image: "localhost/ui:1", Secrets: []runtime.SecretRef{{Name: "rpc"}}}
	if err := m.Register("btc", spec); err != nil {
		t.Fatal(err)
	}
	if got := m.CompanionSecrets("btc"); len(got) != 1 || strings.Join(got["btc-ui"], ",") != "rpc" {
		t.Fatalf("CompanionSecrets = %v", got)
	}
	file := func() string {
		if err := m.Install(t.Context(), "btc"); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "btc-ui.container"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	plain := file()
	if !m.SetInputs("btc", map[string]string{"btc-ui": "d1"}) || m.SetInputs("btc", map[string]string{"btc-ui": "d1"}) {
		t.Fatal("SetInputs does not report exactly the change")
	}
	labelled := file()
	if plain == labelled || !strings.Contains(labelled, `Label="io.skerry.inputs=d1"`) || !strings.Contains(labelled, `Secret="rpc,type=mount"`) {
		t.Fatalf("unit file with inputs:\n%s", labelled)
	}
	// Registering again (a daemon restart, a changed spec) keeps the digest: no needless restart.
	if err := m.Register("btc", spec); err != nil {
		t.Fatal(err)
	}
	if file() != labelled {
		t.Fatal("Register dropped the inputs digest")
	}
}
