module github.com/skerry-dev/skerry

go 1.26.8

require (
	github.com/containers/podman/v5 v5.4.2 // indirect
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/godbus/dbus/v5 v5.2.4 // indirect
	github.com/google/go-cmp v0.7.0 // indirect
	golang.org/x/sys v0.29.0 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
