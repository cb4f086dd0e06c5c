package companion

import (
	"maps"
	"slices"

	"github.com/skerry-dev/skerry/quadlet"
	"github.com/skerry-dev/skerry/runtime"
)

// Inputs: a companion takes secrets by reference (Spec.Secrets, rendered as Quadlet Secret=
// lines: the value never enters the unit file, the generated service or podman's command line)
// and reads files its app's hooks render. The orchestrator computes the digest of the versions
// of both (see orchestrator.Secret) and hands it over with SetInputs; the unit file carries it as
// the label runtime.LabelInputs, so a rotation changes the file and the next pass restarts the
// unit onto it (its `podman run --replace` creates the container afresh, which is what podman
// needs to hand it a replaced secret). A failed restart is retried by later passes like any
// restart onto a changed file.

// quadletSecrets renders secret references as Quadlet Secret= values.
func quadletSecrets(refs []runtime.SecretRef) []string {
	var out []string
	for _, r := range refs {
		v := r.Name + ",type=" + r.Kind.String()
		if r.Target != "" {
			v += ",target=" + r.Target
		}
		out = append(out, v)
	}
	return out
}

// addInputs puts s's secrets and inputs digest into its unit's container section.
func (s Spec) addInputs(c *quadlet.Container) {
	c.Secret = quadletSecrets(s.Secrets)
	if s.inputs != "" {
		c.Label[runtime.LabelInputs] = s.inputs
	}
}

// CompanionSecrets returns app's registered companions, each with the names of the secrets it
// references (orchestrator.CompanionInputs).
func (m *Manager) CompanionSecrets(app string) map[string][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]string{}
	for _, r := range m.apps[app] {
		names := []string{}
		for _, ref := range r.spec.Secrets {
			if !slices.Contains(names, ref.Name) {
				names = append(names, ref.Name)
			}
		}
		out[r.spec.Name] = names
	}
	return out
}

// SetInputs records the inputs digest of each of app's companions (orchestrator.CompanionInputs)
// and re-renders the unit of every companion whose digest changed; the next Install or pass
// writes it and restarts the unit. Digests are remembered by companion name, so that a later
// Register renders them too. It reports whether any unit changed.
func (m *Manager) SetInputs(app string, digests map[string]string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.inputs == nil {
		m.inputs = map[string]string{}
	}
	maps.Copy(m.inputs, digests)
	rs := slices.Clone(m.apps[app]) // good may share the old slice: never write into it
	changed := false
	for i, r := range rs {
		d := digests[r.spec.Name]
		if r.spec.inputs == d {
			continue
		}
		s := r.spec
		s.inputs = d
		data, err := m.render(app, s)
		if err != nil { // a label of hex digits cannot fail to render what rendered before
			m.log.Error("companion unit with inputs failed to render", "companion", s.Name, "err", err)
			continue
		}
		rs[i] = rendered{app: app, spec: s, data: data}
		changed = true
	}
	if changed {
		m.apps[app] = rs
	}
	return changed
}

// inputsOf returns the inputs digest last set for companion name.
func (m *Manager) inputsOf(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inputs[name]
}

// render renders companion s of app as its unit file's bytes, marker included.
func (m *Manager) render(app string, s Spec) ([]byte, error) {
	data, err := quadlet.Render(s.Name, s.Unit(app), quadlet.Options{Target: m.opts.Target, Downgrade: m.opts.Downgrade})
	if err != nil {
		return nil, err
	}
	return append([]byte(marker(app)), data...), nil
}
