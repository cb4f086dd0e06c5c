package quadlet

import "reflect"

// keyInfo is when a key appeared in Quadlet and what podman run flag a downgrade renders it as
// ("" when there is none: the key is then refused for an older target even with Downgrade).
type keyInfo struct {
	since Version
	flag  string
}

// gatedKeys are the keys of the model newer than MinVersion. From podman 5.4 on the table is
// derived from podman's sources: the [Container] keys Quadlet accepts (supportedContainerKeys
// in pkg/systemd/quadlet/quadlet.go) of v5.4.2, v5.5.0, v5.6.0, v5.7.0 and v5.8.2, compared
// release by release (TestKeyTableMatchesPodman checks it against the module cache). Before
// 5.4 it follows the release notes (5.1 GroupAdd; 5.2 LogOpt, NetworkAlias, StopSignal; 5.3
// AddHost, CgroupsMode, the health log keys, ServiceName, StartWithPod).
var gatedKeys = map[string]keyInfo{
	"GroupAdd":             {Version{5, 1}, "--group-add"},
	"LogOpt":               {Version{5, 2}, "--log-opt"},
	"NetworkAlias":         {Version{5, 2}, "--network-alias"},
	"StopSignal":           {Version{5, 2}, "--stop-signal"},
	"AddHost":              {Version{5, 3}, "--add-host"},
	"CgroupsMode":          {Version{5, 3}, "--cgroups"},
	"HealthLogDestination": {Version{5, 3}, "--health-log-destination"},
	"HealthMaxLogCount":    {Version{5, 3}, "--health-max-log-count"},
	"HealthMaxLogSize":     {Version{5, 3}, "--health-max-log-size"},
	"ServiceName":          {Version{5, 3}, ""},
	"StartWithPod":         {Version{5, 3}, ""},
	"DefaultDependencies":  {Version{5, 4}, ""}, // [Quadlet]; the oldest release checked
	"Memory":               {Version{5, 5}, "--memory"},
	"ReloadCmd":            {Version{5, 5}, ""},
	"ReloadSignal":         {Version{5, 5}, ""},
	"Retry":                {Version{5, 5}, "--retry"},
	"RetryDelay":           {Version{5, 5}, "--retry-delay"},
	"HttpProxy":            {Version{5, 7}, "--http-proxy"},
	"AppArmor":             {Version{5, 8}, "--security-opt=apparmor"},
}

// KeySince returns the oldest podman release whose Quadlet accepts key (a [Container] key, or
// "DefaultDependencies" of [Quadlet]), and false for a key the model does not render.
func KeySince(key string) (Version, bool) {
	if g, ok := gatedKeys[key]; ok { // every field of Container is named after its key
		return g.since, true
	}
	_, ok := reflect.TypeFor[Container]().FieldByName(key)
	return MinVersion, ok || key == "DefaultDependencies"
}
