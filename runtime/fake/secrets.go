package fake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/skerry-dev/skerry/runtime"
)

// Secrets is an in-memory runtime.SecretStore. Versions are "v1", "v2", ... per store, so tests
// can tell a rotation from a no-op; Fail makes the next puts fail. The zero value is not
// usable: call NewSecrets.
type Secrets struct {
	mu      sync.Mutex
	key     []byte
	next    int
	secrets map[string]storedSecret
	fail    error
	puts    int
}

type storedSecret struct {
	value   []byte
	version string
}

var _ runtime.SecretStore = (*Secrets)(nil)

// NewSecrets returns an empty store with a random fingerprint key.
func NewSecrets() *Secrets {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24)
	return &Secrets{key: key, secrets: map[string]storedSecret{}}
}

// PutSecret implements runtime.SecretStore.
func (s *Secrets) PutSecret(ctx context.Context, name string, value []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	var p runtime.Problems
	runtime.ValidateSecretName(&p, "Name", name)
	if len(value) == 0 {
		p.Add("Value", "is empty")
	}
	if err := p.Err(fmt.Sprintf("secret %q", name)); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		err := s.fail
		s.fail = nil
		return "", fmt.Errorf("fake: put secret %s: %w", name, err)
	}
	if old, ok := s.secrets[name]; ok && bytes.Equal(old.value, value) {
		return old.version, nil
	}
	s.next++
	s.puts++
	v := fmt.Sprintf("v%d", s.next)
	s.secrets[name] = storedSecret{value: bytes.Clone(value), version: v}
	return v, nil
}

// SecretVersion implements runtime.SecretStore.
func (s *Secrets) SecretVersion(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.secrets[name]
	if !ok {
		return "", fmt.Errorf("fake: secret %s: %w", name, runtime.ErrSecretNotFound)
	}
	return old.version, nil
}

// RemoveSecret implements runtime.SecretStore.
func (s *Secrets) RemoveSecret(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.secrets, name)
	return nil
}

// Fingerprint implements runtime.SecretStore: an HMAC-SHA256 under the store's key.
func (s *Secrets) Fingerprint(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, s.key)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil)[:12]), nil
}

// Value returns the value name holds, for tests that check what a container would read.
func (s *Secrets) Value(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.secrets[name]
	return bytes.Clone(old.value), ok
}

// Rotations counts the puts that stored a new value.
func (s *Secrets) Rotations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}

// Fail makes the next PutSecret return an error wrapping err.
func (s *Secrets) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}
