//go:build integration && remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skerry-dev/skerry/runtime"
)

func TestSecretStore(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name := uniq("skerry-secret")
	t.Cleanup(func() { r.RemoveSecret(context.Background(), name) })

	if _, err := r.SecretVersion(ctx, name); !errors.Is(err, runtime.ErrSecretNotFound) {
		t.Fatalf("missing secret: %v, want ErrSecretNotFound", err)
	}
	v1, err := r.PutSecret(ctx, name, []byte("first-value"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.PutSecret(ctx, name, []byte("first-value")); err != nil || v != v1 {
		t.Fatalf("the same value again: %s (%v), want the version unchanged %s", v, err, v1)
	}
	v2, err := r.PutSecret(ctx, name, []byte("second-value"))
	if err != nil || v2 == v1 {
		t.Fatalf("rotation: %s -> %s (%v), want a new version", v1, v2, err)
	}
	if v, _ := r.SecretVersion(ctx, name); v != v2 {
		t.Fatalf("version %s, want %s", v, v2)
	}
	out, _ := exec.Command("podman", "secret", "inspect", name).CombinedOutput()
	if strings.Contains(string(out), "second-value") || !strings.Contains(string(out), labelFingerprint) {
		t.Fatalf("podman secret inspect shows the value or lacks the fingerprint label:\n%s", out)
	}
	if _, err := r.PutSecret(ctx, "bad/name", []byte("x")); !errors.Is(err, runtime.ErrInvalidSpec) {
		t.Fatalf("bad name: %v", err)
	}

	// The fingerprint key persists in podman's store: a new connection fingerprints alike.
	f1, err := r.Fingerprint(ctx, []byte("config"))
	if err != nil {
		t.Fatal(err)
	}
	if f2, err := connect(t).Fingerprint(ctx, []byte("config")); err != nil || f2 != f1 {
		t.Fatalf("fingerprint across connections: %s vs %s (%v)", f1, f2, err)
	}

	if err := r.RemoveSecret(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveSecret(ctx, name); err != nil {
		t.Fatalf("removing a missing secret: %v", err)
	}
}

// TestSpecSecrets: a container sees a secret as a file and as a variable; podman inspect shows
// neither value; a replaced secret reaches only a container created after it (podman's rule,
// which is why skerry recreates consumers).
func TestSpecSecrets(t *testing.T) {
	r := connect(t)
	ctx := context.Background()
	name, secret := uniq("skerry-sec"), uniq("skerry-sec-pw")
	t.Cleanup(func() {
		r.Remove(context.Background(), name, runtime.RemoveOptions{Force: true, Volumes: true})
		r.RemoveSecret(context.Background(), secret)
	})
	if _, err := r.PutSecret(ctx, secret, []byte("pw-one")); err != nil {
		t.Fatal(err)
	}
	spec := runtime.ContainerSpec{Name: name, Image: testImage, Command: []string{"sleep", "600"}, StopTimeout: time.Second,
		Secrets: []runtime.SecretRef{{Name: secret, Target: "pw"}, {Name: secret, Kind: runtime.SecretEnv, Target: "PW"}}}
	reads := func() string {
		out, err := exec.Command("podman", "exec", name, "sh", "-c", `cat /run/secrets/pw; echo; tr '\0' '\n' </proc/1/environ | grep ^PW=`).CombinedOutput()
		if err != nil {
			t.Fatalf("podman exec: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := reads(); got != "pw-one\nPW=pw-one" {
		t.Fatalf("the container reads %q", got)
	}
	inspect, _ := exec.Command("podman", "inspect", name).CombinedOutput()
	if strings.Contains(string(inspect), "pw-one") {
		t.Fatal("podman inspect shows the secret's value")
	}
	if _, err := r.PutSecret(ctx, secret, []byte("pw-two")); err != nil {
		t.Fatal(err)
	}
	if got := reads(); !strings.HasPrefix(got, "pw-one") {
		t.Fatalf("a running container sees the replaced secret at once: %q (podman changed?)", got)
	}
	if err := r.Remove(ctx, name, runtime.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.Create(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := reads(); got != "pw-two\nPW=pw-two" {
		t.Fatalf("a recreated container reads %q, want the new value", got)
	}
}
