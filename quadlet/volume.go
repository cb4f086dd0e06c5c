package quadlet

import (
	"regexp"
	"strconv"
)

// VolumeUnit is a Quadlet .volume unit: a podman volume that systemd creates before the
// containers that mount it ("Volume=name.volume:/data" in a .container unit makes Quadlet
// order and require it).
type VolumeUnit struct {
	Description string // [Unit] Description=
	// After= and Requires= name units to order after and require ("mnt-data.mount").
	After, Requires []string
	Volume          Volume
}

// Volume is the [Volume] section: every key of podman 5.8's Quadlet. Values follow the rules
// of Container.
type Volume struct {
	// VolumeName= is podman's name of the volume (default "systemd-" + the unit's name).
	VolumeName string
	// Driver= is "local" (podman's default) or "image" (the volume is an image's content: Image
	// is then required), or a plugin's name.
	Driver string
	// Image= is the image of an image volume (Driver "image" only).
	Image string
	// Device=, Type= and Options= make a local volume a mount ("mount -t Type -o Options
	// Device"); Type and Options need Device. A Type "bind" Device is a host path with the
	// rules of a bind source (Quadlet copies it into RequiresMountsFor=).
	Device, Type, Options string
	// Copy= (when non-nil) copies the image's content at the mount point into a new volume.
	Copy *bool
	// User= and Group= (when non-nil) own the volume's root: numeric ids only (Quadlet reads
	// anything else as 0).
	User, Group *int
	Label       map[string]string // Label=
	// ServiceName= (podman 5.3) names the generated service instead of name-volume.service.
	ServiceName string
	// ContainersConfModule=, GlobalArgs= and PodmanArgs= as for Container.
	ContainersConfModule, GlobalArgs, PodmanArgs []string
}

var (
	volumeKeys = map[string]Version{"ServiceName": {5, 3}}
	fsTypeRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	// mountOptsRE is a mount(8) option list: no whitespace, quotes or backslashes.
	mountOptsRE = regexp.MustCompile(`^[^\s"'\\,]+(,[^\s"'\\,]+)*$`)
)

// VolumeFileName returns the unit file name of volume name: name.volume.
func VolumeFileName(name string) string { return name + ".volume" }

// VolumeServiceName returns the service Quadlet generates for volume name (without a
// ServiceName key): name-volume.service.
func VolumeServiceName(name string) string { return name + "-volume.service" }

// RenderVolume returns the bytes of name.volume for u, with Render's guarantees.
func RenderVolume(name string, u VolumeUnit, opts Options) ([]byte, error) {
	const S = "Volume"
	v := u.Volume
	r := newResource(name, opts, u.Description, u.After, u.Requires)
	r.one(S, "VolumeName", v.VolumeName, resourceNameRE, volumeKeys)
	r.one(S, "Driver", v.Driver, driverRE, volumeKeys)
	switch {
	case v.Driver == "image" && v.Image == "":
		r.e.fail(S, "Image", "is required with Driver image")
	case v.Driver != "image" && v.Image != "":
		r.e.fail(S, "Image", "needs Driver image")
	case v.Driver == "image" && (v.Device != "" || v.Type != "" || v.Options != "" || v.User != nil || v.Group != nil || v.Copy != nil):
		r.e.fail(S, "Driver", "image takes no Device, Type, Options, User, Group or Copy (Quadlet ignores them)")
	}
	r.one(S, "Image", v.Image, nil, volumeKeys)
	if v.Device == "" && (v.Type != "" || v.Options != "") {
		r.e.fail(S, "Device", "is required with Type or Options")
	}
	if base, _ := hostPathBase(v.Device); v.Type == "bind" && v.Device != "" {
		r.e.hostPath(S, "Device", v.Device, hostPathRE)
		if base == "." || !isHostPath(v.Device) {
			r.e.fail(S, "Device", "%q: a bind device is an absolute path or one under %%h/ (Quadlet does not resolve it)", v.Device)
		}
	}
	if v.Device != "" {
		r.s.add("Device", keepSpecifier(r.e.raw(S, "Device", v.Device, true), "", v.Device))
	}
	r.one(S, "Type", v.Type, fsTypeRE, volumeKeys)
	r.one(S, "Options", v.Options, mountOptsRE, volumeKeys)
	if v.Copy != nil {
		r.s.add("Copy", strconv.FormatBool(*v.Copy))
	}
	for _, id := range []struct {
		key string
		v   *int
	}{{"User", v.User}, {"Group", v.Group}} {
		if id.v == nil {
			continue
		}
		if *id.v < 0 {
			r.e.fail(S, id.key, "%d is negative", *id.v)
		}
		r.s.add(id.key, strconv.Itoa(*id.v))
	}
	r.keyVals(S, "Label", v.Label)
	r.common(S, v.ServiceName, v.ContainersConfModule, v.GlobalArgs, v.PodmanArgs, volumeKeys)
	return r.finish(VolumeFileName(name), S)
}
