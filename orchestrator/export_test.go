package orchestrator

import "github.com/skerry-dev/skerry/runtime"

// SpecOf exposes specOf to the external tests: the container spec o creates for app.
func SpecOf(o *Orchestrator, app App) runtime.ContainerSpec { return o.specOf(app) }
