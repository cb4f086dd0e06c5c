//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/containers/podman/v5/pkg/specgen"

	"github.com/skerry-dev/skerry/runtime"
)

var _ runtime.SecretStore = (*Runtime)(nil)

// Secrets in podman's store (REST /libpod/secrets, file driver). podman 5.4.2 gives a replaced
// secret a new random ID (containers/common v0.62.3, SecretsManager.Store: secr.ID =
// s.newID() after the replace), so the ID is the secret's version: it changes on rotation and
// says nothing about the value.
const (
	// keySecret holds the node's fingerprint key (64 hex digits), created on first use.
	keySecret = "skerry.fingerprint-key"
	// labelFingerprint, on a secret skerry stored, holds the keyed fingerprint of its value,
	// so that a put of the same value is a no-op without reading the value back.
	labelFingerprint = "io.skerry.fingerprint"
)

// fingerprintKey caches the node's fingerprint key once read.
type fingerprintKey struct {
	mu  sync.Mutex
	key []byte
}

// PutSecret implements runtime.SecretStore: one inspect call, plus a create (with replace) when
// the value changed. The value travels in the request body only; errors never quote it.
func (r *Runtime) PutSecret(ctx context.Context, name string, value []byte) (string, error) {
	var p runtime.Problems
	runtime.ValidateSecretName(&p, "Name", name)
	switch {
	case len(value) == 0:
		p.Add("Value", "is empty")
	case len(value) >= 512000:
		p.Add("Value", "is %d bytes long, podman's limit is 511999", len(value))
	}
	if err := p.Err(fmt.Sprintf("secret %q", name)); err != nil {
		return "", err
	}
	fp, err := r.Fingerprint(ctx, value)
	if err != nil {
		return "", err
	}
	info, err := r.inspectSecret(ctx, name, false)
	err = mapErr(err, runtime.ErrSecretNotFound)
	exists := err == nil
	switch {
	case exists && info.Spec.Labels[labelFingerprint] == fp:
		return info.ID, nil
	case err != nil && !errors.Is(err, runtime.ErrSecretNotFound):
		return "", fmt.Errorf("podman: secret %s: %w", name, err)
	}
	id, err := r.createSecret(ctx, name, bytes.NewReader(value), &exists, map[string]string{labelFingerprint: fp})
	if err != nil {
		return "", fmt.Errorf("podman: put secret %s: %w", name, mapErr(err, runtime.ErrSecretNotFound))
	}
	return id, nil
}

// SecretVersion implements runtime.SecretStore: the secret's ID.
func (r *Runtime) SecretVersion(ctx context.Context, name string) (string, error) {
	info, err := r.inspectSecret(ctx, name, false)
	if err != nil {
		return "", fmt.Errorf("podman: secret %s: %w", name, mapErr(err, runtime.ErrSecretNotFound))
	}
	return info.ID, nil
}

// RemoveSecret implements runtime.SecretStore.
func (r *Runtime) RemoveSecret(ctx context.Context, name string) error {
	err := mapErr(r.call(ctx, http.MethodDelete, "/secrets/%s", nil, nil, nil, name), runtime.ErrSecretNotFound)
	if err != nil && !errors.Is(err, runtime.ErrSecretNotFound) {
		return fmt.Errorf("podman: remove secret %s: %w", name, err)
	}
	return nil
}

// Fingerprint implements runtime.SecretStore: HMAC-SHA256 under the node's key, which lives in
// podman's secret store as keySecret (readable only by whoever can read every secret anyway).
func (r *Runtime) Fingerprint(ctx context.Context, data []byte) (string, error) {
	key, err := r.fingerprintKey(ctx)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return hex.EncodeToString(m.Sum(nil)[:12]), nil
}

// fingerprintKey reads the node's key, creating it the first time. Two daemons racing to create
// it both end up reading the one that won.
func (r *Runtime) fingerprintKey(ctx context.Context) ([]byte, error) {
	r.fp.mu.Lock()
	defer r.fp.mu.Unlock()
	if r.fp.key != nil {
		return r.fp.key, nil
	}
	for attempt := 0; ; attempt++ {
		info, err := r.inspectSecret(ctx, keySecret, true)
		err = mapErr(err, runtime.ErrSecretNotFound)
		if err == nil {
			key, derr := hex.DecodeString(info.SecretData)
			if derr != nil || len(key) < 32 {
				return nil, fmt.Errorf("podman: secret %s does not hold a fingerprint key; remove it to have a new one made", keySecret)
			}
			r.fp.key = key
			return key, nil
		}
		if !errors.Is(err, runtime.ErrSecretNotFound) || attempt > 0 {
			return nil, fmt.Errorf("podman: read secret %s: %w", keySecret, err)
		}
		key := make([]byte, 32)
		_, _ = rand.Read(key) // never fails (Go 1.24)
		_, err = r.createSecret(ctx, keySecret, bytes.NewReader([]byte(hex.EncodeToString(key))), nil, nil)
		if err = mapErr(err, runtime.ErrSecretNotFound); err != nil && !errors.Is(err, runtime.ErrAlreadyExists) {
			if !bytes.Contains([]byte(err.Error()), []byte("in use")) {
				return nil, fmt.Errorf("podman: create secret %s: %w", keySecret, err)
			}
		}
	}
}

// secretInfo is what the adapter reads of podman's secret inspect (the entities'
// SecretInfoReport).
type secretInfo struct {
	ID   string
	Spec struct {
		Labels map[string]string
	}
	SecretData string
}

// inspectSecret is podman's secret inspect; show asks for the value too.
func (r *Runtime) inspectSecret(ctx context.Context, name string, show bool) (*secretInfo, error) {
	query := url.Values{}
	if show {
		query.Set("showsecret", "true")
	}
	var info secretInfo
	err := r.call(ctx, http.MethodGet, "/secrets/%s/json", query, nil, &info, name)
	return &info, err
}

// createSecret is podman's secret create of value under name, replacing an existing one when
// replace is true (nil: no replace parameter), with labels (nil: none); it returns the new
// secret's ID.
func (r *Runtime) createSecret(ctx context.Context, name string, value io.Reader, replace *bool, labels map[string]string) (string, error) {
	query := url.Values{"name": {name}}
	if replace != nil {
		query.Set("replace", strconv.FormatBool(*replace))
	}
	if labels != nil {
		query.Set("labels", jsonParam(labels))
	}
	var rep struct{ ID string }
	err := r.call(ctx, http.MethodPost, "/secrets/create", query, value, &rep)
	return rep.ID, err
}

// specSecrets converts a spec's secret references to podman's: files under /run/secrets and
// environment variables, both resolved by podman from its store (values never pass through
// the spec, so `podman inspect` shows none: env secrets are masked as "NAME=*******").
func specSecrets(refs []runtime.SecretRef) (files []specgen.Secret, env map[string]string) {
	for _, s := range refs {
		switch s.Kind {
		case runtime.SecretMount:
			target := s.Target
			if target == "" {
				target = s.Name
			}
			// 0444, uid 0: the podman CLI's and so Quadlet's default (a non-root process reads it)
			files = append(files, specgen.Secret{Source: s.Name, Target: target, Mode: 0o444})
		case runtime.SecretEnv:
			if env == nil {
				env = map[string]string{}
			}
			env[s.Target] = s.Name
		}
	}
	return files, env
}
