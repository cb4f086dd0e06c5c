package fake_test

import (
	"context"
	"errors"
	"testing"

	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

func TestSecrets(t *testing.T) {
	ctx := context.Background()
	s := fake.NewSecrets()
	if _, err := s.SecretVersion(ctx, "p"); !errors.Is(err, runtime.ErrSecretNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	v1, err := s.PutSecret(ctx, "p", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := s.PutSecret(ctx, "p", []byte("hunter2")); v != v1 {
		t.Fatalf("the same value changed the version: %s -> %s", v1, v)
	}
	v2, _ := s.PutSecret(ctx, "p", []byte("hunter3"))
	if v2 == v1 || s.Rotations() != 2 {
		t.Fatalf("rotation: %s -> %s, %d rotations", v1, v2, s.Rotations())
	}
	if got, _ := s.SecretVersion(ctx, "p"); got != v2 {
		t.Fatalf("version %s, want %s", got, v2)
	}
	if _, err := s.PutSecret(ctx, "a/b", []byte("x")); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := s.PutSecret(ctx, "p", nil); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("empty value: %v", err)
	}
	boom := errors.New("boom")
	s.Fail(boom)
	if _, err := s.PutSecret(ctx, "p", []byte("x")); !errors.Is(err, boom) {
		t.Fatalf("injected failure: %v", err)
	}
	f1, _ := s.Fingerprint(ctx, []byte("hunter3"))
	f2, _ := s.Fingerprint(ctx, []byte("hunter3"))
	f3, _ := s.Fingerprint(ctx, []byte("hunter4"))
	other, _ := fake.NewSecrets().Fingerprint(ctx, []byte("hunter3"))
	if f1 != f2 || f1 == f3 || f1 == other {
		t.Fatalf("fingerprints %s %s %s %s", f1, f2, f3, other)
	}
	if err := s.RemoveSecret(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Value("p"); ok {
		t.Fatal("removed secret still there")
	}
}
