package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrSecretNotFound: no secret of that name is stored.
var ErrSecretNotFound = errors.New("secret not found")

// SecretKind is how a secret reaches a container. The zero value is SecretMount.
type SecretKind int

// The secret kinds.
const (
	// SecretMount exposes the secret as the file /run/secrets/<Target> (read-only, tmpfs).
	SecretMount SecretKind = iota
	// SecretEnv exposes the secret as the environment variable <Target>.
	SecretEnv
)

func (k SecretKind) String() string {
	switch k {
	case SecretMount:
		return "mount"
	case SecretEnv:
		return "env"
	}
	return fmt.Sprintf("secret-kind(%d)", int(k))
}

// SecretRef hands a stored secret to a container by name: the value never enters the spec, so it
// never reaches a label, a unit file, `podman inspect` or a log line. Engines give a container
// the value the secret held when the container was created: a rotated secret reaches a
// container only through a recreate (skerry does that: see LabelInputs).
type SecretRef struct {
	// Name is the stored secret's name (SecretStore): 1-253 bytes, none of ',' '/' '=' NUL
	// (podman's rule), printable ASCII.
	Name string
	// Kind says how the container sees it: a file (SecretMount, the default) or a variable.
	Kind SecretKind
	// Target is the file name under /run/secrets (SecretMount; default Name) or the variable's
	// name (SecretEnv; required, [A-Za-z_][A-Za-z0-9_]*).
	Target string
}

// SecretStore is implemented by engines that can store secrets (podman's secret store; the
// in-memory fake.Secrets in tests). Values are only ever written: no method returns one.
// Implementations are safe for concurrent use.
type SecretStore interface {
	// PutSecret makes name hold value and returns its version. Storing the value the secret
	// already holds changes nothing and returns the same version; any other value replaces it
	// and the version changes. Versions are opaque and say nothing about the value (podman's:
	// the secret's random ID). An empty value is refused (podman refuses it).
	PutSecret(ctx context.Context, name string, value []byte) (version string, err error)
	// SecretVersion returns name's current version, or an error wrapping ErrSecretNotFound.
	SecretVersion(ctx context.Context, name string) (string, error)
	// RemoveSecret deletes name; removing a missing secret is not an error.
	RemoveSecret(ctx context.Context, name string) error
	// Fingerprint returns a keyed digest of data under a random key the store creates on first
	// use and keeps: stable across restarts, different for different data, and useless for
	// guessing data (a rendered config file holding a short password) without the key.
	Fingerprint(ctx context.Context, data []byte) (string, error)
}

// LabelInputs holds the digest of what a container consumes beyond its spec: the versions of
// its secrets and the fingerprints of the rendered files it reads (Inputs.Digest). It is part
// of the spec hash, so a rotation is drift and the container is recreated (volumes kept).
const LabelInputs = "io.skerry.inputs"

// Inputs maps each input a container consumes ("secret:bitcoind-rpc", "file:/etc/x.conf") to
// its version or fingerprint.
type Inputs map[string]string

// Digest returns a short digest of in (16 hex digits), "" when in is empty. It is a digest of
// versions and keyed fingerprints, never of a value.
func (in Inputs) Digest() string {
	if len(in) == 0 {
		return ""
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(in)) {
		fmt.Fprintf(h, "%d:%s=%d:%s\n", len(k), k, len(in[k]), in[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// WithInputs returns the spec hash of a spec whose hash is specHash and whose inputs digest is
// inputs: specHash itself when inputs is "".
func WithInputs(specHash, inputs string) string {
	if inputs == "" {
		return specHash
	}
	sum := sha256.Sum256([]byte(specHash + "\x00" + inputs))
	return hex.EncodeToString(sum[:8])
}

// maxSecretName is podman's limit on a secret's name.
const maxSecretName = 253

// ValidateSecretName checks a secret's name against podman's rule (1-253 bytes, none of ','
// '/' '=' NUL) narrowed to printable ASCII without spaces, quotes, '%', '$' or '\', so that it
// is safe on a Quadlet Secret= line. Names starting with "skerry." are skerry's own.
func ValidateSecretName(p *Problems, field, name string) {
	switch {
	case name == "":
		p.Add(field, "is empty")
	case len(name) > maxSecretName:
		p.Add(field, "is %d bytes long, the limit is %d", len(name), maxSecretName)
	case strings.HasPrefix(name, "skerry."):
		p.Add(field, "%q: the skerry. prefix is reserved (skerry.fingerprint-key holds the node's fingerprint key)", name)
	case strings.ContainsAny(name, ",/=\\ \"'%$"):
		p.Add(field, "%q contains one of , / = \\ space quote %% $", name)
	case strings.IndexFunc(name, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		p.Add(field, "contains a control, space or non-ASCII character")
	}
}

// validateSecrets adds the problems of refs to p: valid names, each target given once.
func validateSecrets(p *Problems, pre string, refs []SecretRef, env map[string]string) {
	targets := map[string]bool{}
	for i, s := range refs {
		f := fmt.Sprintf("%sSecrets[%d]", pre, i)
		ValidateSecretName(p, f+".Name", s.Name)
		target := s.Target
		switch s.Kind {
		case SecretMount:
			if target == "" {
				target = s.Name
			}
			if target == "." || target == ".." || strings.ContainsAny(target, "/,=\x00") || hasControl(target) {
				p.Add(f+".Target", "%q is not a file name under /run/secrets", target)
			}
		case SecretEnv:
			if !envKeyRE.MatchString(target) {
				p.Add(f+".Target", "%q is not a variable name [A-Za-z_][A-Za-z0-9_]*", target)
			}
			if _, clash := env[target]; clash {
				p.Add(f+".Target", "%q is also set in Env", target)
			}
		default:
			p.Add(f+".Kind", "unknown kind %d", s.Kind)
		}
		key := s.Kind.String() + ":" + target
		if targets[key] {
			p.Add(f+".Target", "%s %q is given twice", s.Kind, target)
		}
		targets[key] = true
	}
}
