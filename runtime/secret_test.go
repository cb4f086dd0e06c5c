package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/skerry-dev/skerry/runtime"
)

func TestSecretRefValidation(t *testing.T) {
	base := runtime.ContainerSpec{Name: "app", Image: "localhost/busybox:latest", Env: map[string]string{"HOME": "/root"}}
	cases := []struct {
		name  string
		refs  []runtime.SecretRef
		field string // "" = valid
	}{
		{"mount default target", []runtime.SecretRef{{Name: "rpc-pass"}}, ""},
		{"env", []runtime.SecretRef{{Name: "rpc-pass", Kind: runtime.SecretEnv, Target: "RPC_PASS"}}, ""},
		{"both kinds of one secret", []runtime.SecretRef{{Name: "p"}, {Name: "p", Kind: runtime.SecretEnv, Target: "P"}}, ""},
		{"empty name", []runtime.SecretRef{{}}, "Secrets[0].Name"},
		{"comma", []runtime.SecretRef{{Name: "a,type=env", Target: "x"}}, "Secrets[0].Name"},
		{"slash", []runtime.SecretRef{{Name: "a/b", Target: "x"}}, "Secrets[0].Name"},
		{"equals", []runtime.SecretRef{{Name: "a=b", Target: "x"}}, "Secrets[0].Name"},
		{"newline", []runtime.SecretRef{{Name: "a\nb", Target: "x"}}, "Secrets[0].Name"},
		{"reserved", []runtime.SecretRef{{Name: "skerry.fingerprint-key", Target: "x"}}, "Secrets[0].Name"},
		{"too long", []runtime.SecretRef{{Name: strings.Repeat("a", 254), Target: "x"}}, "Secrets[0].Name"},
		{"env without target", []runtime.SecretRef{{Name: "p", Kind: runtime.SecretEnv}}, "Secrets[0].Target"},
		{"env clashes with Env", []runtime.SecretRef{{Name: "p", Kind: runtime.SecretEnv, Target: "HOME"}}, "Secrets[0].Target"},
		{"mount target with slash", []runtime.SecretRef{{Name: "p", Target: "../etc/passwd"}}, "Secrets[0].Target"},
		{"target twice", []runtime.SecretRef{{Name: "p", Target: "t"}, {Name: "q", Target: "t"}}, "Secrets[1].Target"},
		{"unknown kind", []runtime.SecretRef{{Name: "p", Kind: 7}}, "Secrets[0].Kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := base
			spec.Secrets = c.refs
			err := spec.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid refs refused: %v", err)
				}
				return
			}
			var ve *runtime.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 || ve.Problems[0].Field != c.field {
				t.Fatalf("problems = %v, want one on %s", ve.Problems, c.field)
			}
		})
	}
}

func TestSpecHashWithoutSecretsIsUnchanged(t *testing.T) {
	// The Secrets field is omitted from the hash when empty: adding it recreated nothing.
	spec := runtime.ContainerSpec{Name: "app", Image: "localhost/busybox:latest"}
	withNil := runtime.SpecHash(spec)
	spec.Secrets = []runtime.SecretRef{}
	if runtime.SpecHash(spec) != withNil {
		t.Fatal("an empty Secrets changes the spec hash")
	}
	spec.Secrets = []runtime.SecretRef{{Name: "p"}}
	if runtime.SpecHash(spec) == withNil {
		t.Fatal("a secret reference does not change the spec hash")
	}
}

func TestInputsDigest(t *testing.T) {
	if d := (runtime.Inputs{}).Digest(); d != "" {
		t.Fatalf("empty inputs digest = %q", d)
	}
	a := runtime.Inputs{"secret:p": "v1", "file:/x": "f1"}.Digest()
	b := runtime.Inputs{"file:/x": "f1", "secret:p": "v1"}.Digest()
	c := runtime.Inputs{"secret:p": "v2", "file:/x": "f1"}.Digest()
	if a != b || a == c || len(a) != 16 {
		t.Fatalf("digests %q %q %q", a, b, c)
	}
	if runtime.WithInputs("h", "") != "h" || runtime.WithInputs("h", a) == runtime.WithInputs("h", c) {
		t.Fatal("WithInputs does not follow the inputs")
	}
}
