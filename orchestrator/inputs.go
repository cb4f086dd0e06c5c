package orchestrator

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/runtime"
)

// Secret supplies the value of one secret that the app's container or its companions
// reference by name. Value is called at every pass; the store keeps the secret as it is when
// the value did not change, so nothing restarts.
//
// A container's inputs are what it consumes beyond its spec: the secrets it references
// (runtime.SecretRef) and the files its app's hooks render for it (hooks.Producer). At every
// pass, before Decide, the orchestrator stores the app's secret values (App.Secrets) in
// Options.Secrets, runs the hooks, and computes each consumer's inputs: the version of every
// secret it references and the keyed fingerprint of every rendered file that names it. The
// digest of those goes into the consumer's spec: the app's spec hash (label io.skerry.inputs),
// a companion's unit file (Label=). A rotation is therefore drift: the app is recreated,
// volumes kept (podman hands a replaced secret only to a newly created container), and a
// companion's unit is restarted onto its new file (its `podman run --replace` recreates the
// container). This is level-based: a consumer whose recreate or restart failed still carries
// the old digest, and the next pass retries it though the secret and the hook are unchanged.
//
// Rendered files: bind-mount their directory, not the file. An atomic rename (what
// hooks.WriteIfChanged does) makes a directory mount show the new file at once, while a
// single-file mount keeps the old inode until the container is recreated; both work, since a
// consumer is recreated or restarted, but a directory mount never shows a stale file.
type Secret struct {
	// Name is the stored secret's name (runtime.ValidateSecretName).
	Name string
	// Value returns the secret's current value. Its error must not carry the value.
	Value func(ctx context.Context) ([]byte, error)
}

// CompanionInputs is implemented by a Companions that can bring companions onto new inputs
// (companion.Manager). Without it, secrets and rendered files reach the app only.
type CompanionInputs interface {
	// CompanionSecrets returns app's registered companions, each with the names of the secrets
	// it references (an empty slice for none); an empty map when app has no companion.
	CompanionSecrets(app string) map[string][]string
	// SetInputs records each companion's inputs digest, which its unit file carries as a
	// label: a changed digest changes the file, and the next Install restarts the companion.
	// It reports whether any digest changed.
	SetInputs(app string, digests map[string]string) bool
}

// InputChange is an input whose version changed in a pass, and the consumers it reaches.
type InputChange struct {
	// Input is "secret:NAME" or "file:PATH".
	Input string
	// Consumers are the app and/or companions that consume it, by name.
	Consumers []string
}

// validateSecrets adds the problems of a's secrets to p: valid names, a value for each, every
// secret the container references supplied.
func (a App) validateSecrets(p *runtime.Problems) {
	supplied := map[string]bool{}
	for i, s := range a.Secrets {
		f := fmt.Sprintf("Secrets[%d]", i)
		runtime.ValidateSecretName(p, f+".Name", s.Name)
		if s.Value == nil {
			p.Add(f+".Value", "is nil")
		}
		if supplied[s.Name] {
			p.Add(f+".Name", "%q is supplied twice", s.Name)
		}
		supplied[s.Name] = true
	}
	for i, r := range a.Container.Secrets {
		if r.Name != "" && !supplied[r.Name] {
			p.Add(fmt.Sprintf("Container.Secrets[%d].Name", i), "%q is referenced but not supplied in App.Secrets", r.Name)
		}
	}
}

// checkInputs validates what a's inputs need beyond a itself: a secret store when a has
// secrets or rendered files with consumers, every secret a companion references supplied, every
// consumer a hook names the app or one of its companions.
func (o *Orchestrator) checkInputs(a App) error {
	var p runtime.Problems
	outs := outputs(a.Hooks)
	if (len(a.Secrets) > 0 || len(outs) > 0) && o.opts.Secrets == nil {
		p.Add("Secrets", "the app has secrets or rendered files with consumers, and Options.Secrets is not set")
	}
	o.checkSnapshots(&p, a)
	supplied := map[string]bool{}
	for _, s := range a.Secrets {
		supplied[s.Name] = true
	}
	comps := o.companionSecrets(a.Name)
	for _, c := range slices.Sorted(maps.Keys(comps)) {
		for _, name := range comps[c] {
			if !supplied[name] {
				p.Add("Secrets", "companion %q references secret %q, which App.Secrets does not supply", c, name)
			}
		}
	}
	for i, out := range outs {
		for _, c := range out.Consumers {
			if _, ok := comps[c]; !ok && c != a.Name {
				p.Add(fmt.Sprintf("Hooks.Outputs[%d].Consumers", i), "%q is neither the app nor one of its registered companions", c)
			}
		}
	}
	return p.Err(fmt.Sprintf("app %q", a.Name))
}

// companionSecrets returns app's companions and their secrets, when the companion manager
// takes inputs.
func (o *Orchestrator) companionSecrets(app string) map[string][]string {
	if ci, ok := o.opts.Companions.(CompanionInputs); ok {
		return ci.CompanionSecrets(app)
	}
	return nil
}

// outputs returns the outputs of the Producer hooks among hs that name consumers.
func outputs(hs []hooks.Hook) []hooks.Output {
	var out []hooks.Output
	for _, h := range hs {
		if p, ok := h.(hooks.Producer); ok {
			out = append(out, p.Outputs()...)
		}
	}
	return out
}

// prepare runs before Decide for a desired app: it stores the app's secret values, runs its
// hooks, and brings the app's spec and its companions' unit files onto the current inputs
// (see Secret). It reports whether a hook that names no consumers rewrote config (the app
// restarts then), whether a companion's inputs changed (its unit must be restarted), and the
// inputs that changed since the last pass. Errors never carry a value.
func (o *Orchestrator) prepare(ctx context.Context, s *appState) (hookChanged, companions bool, changes []InputChange, err error) {
	app := s.app
	versions := make(map[string]string, len(app.Secrets))
	for _, sec := range app.Secrets {
		value, err := sec.Value(ctx)
		if err != nil {
			return false, false, nil, fmt.Errorf("secret %s: value: %w", sec.Name, err)
		}
		if versions[sec.Name], err = o.opts.Secrets.PutSecret(ctx, sec.Name, value); err != nil {
			return false, false, nil, fmt.Errorf("store secret %s: %w", sec.Name, err)
		}
	}
	for i, h := range app.Hooks {
		c, err := h.PreStart(ctx)
		if err != nil {
			return false, false, nil, fmt.Errorf("pre-start hook %d: %w", i, hooks.BoundError(err))
		}
		if p, ok := h.(hooks.Producer); !ok || len(p.Outputs()) == 0 {
			hookChanged = hookChanged || c
		}
	}
	consumed := map[string]runtime.Inputs{app.Name: {}}
	for _, r := range app.Container.Secrets {
		consumed[app.Name]["secret:"+r.Name] = versions[r.Name]
	}
	for c, names := range o.companionSecrets(app.Name) {
		consumed[c] = runtime.Inputs{}
		for _, name := range names {
			consumed[c]["secret:"+name] = versions[name]
		}
	}
	for _, out := range outputs(app.Hooks) {
		data, err := os.ReadFile(out.Path)
		if err != nil {
			return false, false, nil, fmt.Errorf("rendered file: %w", err)
		}
		fp, err := o.opts.Secrets.Fingerprint(ctx, data)
		if err != nil {
			return false, false, nil, fmt.Errorf("fingerprint %s: %w", out.Path, err)
		}
		for _, c := range out.Consumers {
			if consumed[c] != nil { // a companion unregistered since validation consumes nothing
				consumed[c]["file:"+out.Path] = fp
			}
		}
	}
	changes = diffInputs(app.consumed, consumed)
	app.consumed = consumed
	app.inputs = consumed[app.Name].Digest()
	o.publish(func() { s.app, s.spec = app, o.specOf(app) })
	if ci, ok := o.opts.Companions.(CompanionInputs); ok {
		digests := make(map[string]string, len(consumed)-1)
		for c, in := range consumed {
			if c != app.Name {
				digests[c] = in.Digest()
			}
		}
		companions = ci.SetInputs(app.Name, digests)
	}
	return hookChanged, companions, changes, nil
}

// diffInputs lists the inputs whose version differs between the last pass's consumers and
// now's, with the consumers that see the change; nothing on a first pass.
func diffInputs(before, now map[string]runtime.Inputs) []InputChange {
	if before == nil {
		return nil
	}
	reached := map[string][]string{}
	for c, in := range now {
		for k, v := range in {
			if old, ok := before[c][k]; ok && old != v {
				reached[k] = append(reached[k], c)
			}
		}
	}
	var out []InputChange
	for _, k := range slices.Sorted(maps.Keys(reached)) {
		out = append(out, InputChange{Input: k, Consumers: slices.Sorted(slices.Values(reached[k]))})
	}
	return out
}

// inputsOnly reports whether obs differs from s's desired spec in its inputs alone (a secret
// rotated, a rendered file changed): such a recreate is not an upgrade to roll back, since the
// old inputs are gone (podman keeps only a secret's current value), but drift to retry at every
// pass until the app runs on them.
func (o *Orchestrator) inputsOnly(s *appState, obs runtime.Observation) bool {
	have := obs.Labels[runtime.LabelInputs]
	if have == s.app.inputs {
		return false
	}
	base := s.app
	base.inputs = ""
	return runtime.WithInputs(o.specOf(base).Labels[runtime.LabelSpecHash], have) == obs.SpecHash()
}
