package quadlet_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/quadlet"
)

func ExampleRenderNetwork() {
	out, err := quadlet.RenderNetwork("btc", quadlet.NetworkUnit{
		Description: "bitcoin apps",
		Network: quadlet.Network{NetworkName: "btc", Subnet: []string{"10.89.7.0/24"}, Gateway: []string{"10.89.7.1"},
			Internal: true, Label: map[string]string{"io.skerry.app": "bitcoind"}},
	}, quadlet.Options{})
	fmt.Print(string(out), err)
	// Output:
	// # Rendered by skerry; manual changes are overwritten.
	// [Unit]
	// Description=bitcoin apps
	//
	// [Network]
	// NetworkName=btc
	// Subnet=10.89.7.0/24
	// Gateway=10.89.7.1
	// Internal=true
	// Label="io.skerry.app=bitcoind"
	// <nil>
}

func ExampleRenderVolume() {
	uid := 1000
	out, err := quadlet.RenderVolume("blocks", quadlet.VolumeUnit{
		Volume: quadlet.Volume{Device: "%h/blocks", Type: "bind", Options: "bind", User: &uid},
	}, quadlet.Options{})
	fmt.Print(string(out), err)
	// Output:
	// # Rendered by skerry; manual changes are overwritten.
	// [Volume]
	// Device=%h/blocks
	// Type=bind
	// Options=bind
	// User=1000
	// <nil>
}

func TestRenderResourcesRefuse(t *testing.T) {
	render := func(n *quadlet.Network, v *quadlet.Volume) error {
		if n != nil {
			_, err := quadlet.RenderNetwork("x", quadlet.NetworkUnit{Network: *n}, quadlet.Options{})
			return err
		}
		_, err := quadlet.RenderVolume("x", quadlet.VolumeUnit{Volume: *v}, quadlet.Options{})
		return err
	}
	for _, tc := range []struct {
		name, key, rule string
		n               *quadlet.Network
		v               *quadlet.Volume
	}{
		{"gateway without subnet", "Subnet", "needs the subnet", &quadlet.Network{Gateway: []string{"10.0.0.1"}}, nil},
		{"bad subnet", "Subnet[0]", "CIDR", &quadlet.Network{Subnet: []string{"10.0.0.0"}}, nil},
		{"bad range", "IPRange[0]", "first-last", &quadlet.Network{Subnet: []string{"10.0.0.0/24"}, IPRange: []string{"10.0.0.9-10.0.0.1"}}, nil},
		{"';' in PodmanArgs", "PodmanArgs[0]", "separator", &quadlet.Network{PodmanArgs: []string{";"}}, nil},
		{"empty GlobalArgs word", "GlobalArgs[0]", "empty", &quadlet.Network{GlobalArgs: []string{""}}, nil},
		{"C1 in a label", "Label[k]", "control", &quadlet.Network{Label: map[string]string{"k": "\u0085"}}, nil},
		{"invalid UTF-8 name", "NetworkName", "UTF-8", &quadlet.Network{NetworkName: "a\xff"}, nil},
		{"InterfaceName for 5.4", "InterfaceName", "needs podman 5.6", &quadlet.Network{InterfaceName: "br-btc"}, nil},
		{"Type without Device", "Device", "required", nil, &quadlet.Volume{Type: "tmpfs"}},
		{"bind device with a space", "Device", "clean absolute path", nil, &quadlet.Volume{Device: "/srv/my data", Type: "bind"}},
		{"relative bind device", "Device", "does not resolve", nil, &quadlet.Volume{Device: "./data", Type: "bind"}},
		{"image driver without image", "Image", "required", nil, &quadlet.Volume{Driver: "image"}},
		{"image without the image driver", "Image", "needs Driver image", nil, &quadlet.Volume{Image: "localhost/x"}},
		{"options with a space", "Options", "does not match", nil, &quadlet.Volume{Device: "tmpfs", Type: "tmpfs", Options: "size=1g, mode=700"}},
		{"negative uid", "User", "negative", nil, &quadlet.Volume{User: func() *int { n := -1; return &n }()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := render(tc.n, tc.v)
			var qerr *quadlet.Error
			if !errors.As(err, &qerr) || !errors.Is(err, quadlet.ErrInvalid) {
				t.Fatalf("err = %v", err)
			}
			for _, p := range qerr.Problems {
				if p.Key == tc.key && strings.Contains(p.Reason, tc.rule) {
					return
				}
			}
			t.Fatalf("problems %v name no %s with rule %q", qerr.Problems, tc.key, tc.rule)
		})
	}
}

// TestResourcesRoundTrip: hostile-but-valid values come back unchanged through podman's parser.
func TestResourcesRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		args := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) string { return hostile(t, "arg") }), 0, 3).Draw(t, "args")
		label := map[string]string{"k": hostile(t, "label")}
		n := quadlet.Network{NetworkName: "btc", PodmanArgs: args, Label: label, Options: map[string]string{"mtu": "1400"}}
		data, err := quadlet.RenderNetwork("btc", quadlet.NetworkUnit{Description: rawValue(t, "desc"), Network: n}, quadlet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		f := parse(t, data)
		if got := unescapeAll(f.LookupAllArgs("Network", "PodmanArgs")); len(args) > 0 && strings.Join(got, "\x00") != strings.Join(args, "\x00") {
			t.Fatalf("PodmanArgs %q, want %q\n%s", got, args, data)
		}
		if got := f.LookupAllKeyVal("Network", "Label"); systemdUnescape(got["k"]) != label["k"] {
			t.Fatalf("Label %q, want %q", got["k"], label["k"])
		}
		v := quadlet.Volume{VolumeName: "blocks", Label: label, GlobalArgs: args}
		data, err = quadlet.RenderVolume("blocks", quadlet.VolumeUnit{Volume: v}, quadlet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := unescapeAll(parse(t, data).LookupAllArgs("Volume", "GlobalArgs")); len(args) > 0 && strings.Join(got, "\x00") != strings.Join(args, "\x00") {
			t.Fatalf("GlobalArgs %q, want %q\n%s", got, args, data)
		}
	})
}
