module github.com/skerry-dev/skerry

go 1.25.0

require (
	github.com/containers/podman/v5 v5.4.2
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/godbus/dbus/v5 v5.2.4
	pgregory.net/rapid v1.3.0
)

require (
	github.com/containers/storage v1.57.2 // indirect
	github.com/sirupsen/logrus v1.9.3 // indirect
	golang.org/x/sys v0.29.0 // indirect
)

tool github.com/containers/podman/v5/cmd/quadlet
