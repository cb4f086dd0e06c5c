package hooks

// Output is a file a hook renders and the containers that read it.
type Output struct {
	// Path is the rendered file, an absolute host path.
	Path string
	// Consumers name the app and/or its companions that read Path (bind-mounted, best as a
	// directory: see orchestrator.Secret).
	Consumers []string
}

// Producer is implemented by hooks that say which files they render and who reads them. The
// orchestrator fingerprints each output after the hooks ran and puts the fingerprint into
// every consumer's inputs digest: a consumer whose digest changed is recreated (an app) or
// restarted (a companion), and one whose restart failed still carries the old digest, so the
// next pass retries it even though the hook now reports "unchanged". A Producer's changed flag
// is then not used for its outputs. Outputs is called after PreStart and must not do I/O.
type Producer interface {
	Hook
	Outputs() []Output
}

var _ Producer = TemplateFile{}

// Outputs implements Producer: Path, read by Consumers; nothing when Consumers is empty (the
// hook then restarts the app through its changed flag).
func (h TemplateFile) Outputs() []Output {
	if len(h.Consumers) == 0 {
		return nil
	}
	return []Output{{Path: h.Path, Consumers: h.Consumers}}
}
