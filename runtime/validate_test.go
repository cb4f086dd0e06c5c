package runtime_test

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/runtime"
)

func validSpec() runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Name:    "bitcoind",
		Image:   "localhost/bitcoin-core:27.1",
		Command: []string{"bitcoind", "-printtoconsole"},
		Env:     map[string]string{"RPC_PASSWORD": "hunter2"},
		Ports:   []runtime.Port{{HostPort: 8332, ContainerPort: 8332}, {HostPort: 9000, ContainerPort: 9000, Count: 10, Protocol: "udp"}},
		Mounts: []runtime.Mount{{Type: runtime.MountVolume, Source: "bitcoind-data", Target: "/data"},
			{Type: runtime.MountBind, Source: "/srv/skerry/bitcoin.conf", Target: "/etc/bitcoin.conf", ReadOnly: true}},
		CapDrop:     []string{"ALL"},
		CapAdd:      []string{"NET_BIND_SERVICE"},
		User:        "1000:1000",
		HealthCheck: &runtime.HealthCheck{Command: []string{"bitcoin-cli", "getblockchaininfo"}, Interval: 10 * time.Second, Retries: 3},
		StopTimeout: 30 * time.Second,
	}
}

func TestValidSpec(t *testing.T) {
	if err := validSpec().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"busybox", "localhost/busybox:latest", "docker.io/library/nginx:1.27-alpine",
		"registry.local:5000/btcpay/server:2.0", "ghcr.io/a/b@sha256:" + strings.Repeat("a", 64)} {
		s := validSpec()
		s.Image = ref
		if err := s.Validate(); err != nil {
			t.Errorf("image %q: %v", ref, err)
		}
	}
}

func TestValidationFindsEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		field  string
		mutate func(*runtime.ContainerSpec)
	}{
		{"Name", func(s *runtime.ContainerSpec) { s.Name = "" }},
		{"Name", func(s *runtime.ContainerSpec) { s.Name = "Bitcoin" }},
		{"Name", func(s *runtime.ContainerSpec) { s.Name = "a/b" }},
		{"Name", func(s *runtime.ContainerSpec) { s.Name = "-lead" }},
		{"Name", func(s *runtime.ContainerSpec) { s.Name = strings.Repeat("a", 64) }},
		{"Image", func(s *runtime.ContainerSpec) { s.Image = "" }},
		{"Image", func(s *runtime.ContainerSpec) { s.Image = "Nginx" }},
		{"Image", func(s *runtime.ContainerSpec) { s.Image = "nginx:" }},
		{"Image", func(s *runtime.ContainerSpec) { s.Image = "busybox\n[Service]" }},
		{"Command[1]", func(s *runtime.ContainerSpec) { s.Command = []string{"sh", "a\nb"} }},
		{"Env[1BAD]", func(s *runtime.ContainerSpec) { s.Env = map[string]string{"1BAD": "x"} }},
		{"Env[OK]", func(s *runtime.ContainerSpec) { s.Env = map[string]string{"OK": "line1\nline2"} }},
		{"Network.Name", func(s *runtime.ContainerSpec) { s.Network = runtime.Network{Mode: runtime.NetworkNamed} }},
		{"Network.Name", func(s *runtime.ContainerSpec) { s.Network = runtime.Network{Mode: runtime.NetworkHost, Name: "x"} }},
		{"Ports", func(s *runtime.ContainerSpec) { s.Network = runtime.Network{Mode: runtime.NetworkHost} }},
		{"Ports[0].HostPort", func(s *runtime.ContainerSpec) { s.Ports[0].HostPort = 0 }},
		{"Ports[0].ContainerPort", func(s *runtime.ContainerSpec) { s.Ports[0].ContainerPort = 0 }},
		{"Ports[1].Count", func(s *runtime.ContainerSpec) { s.Ports[1].HostPort = 65530 }},
		{"Ports[1].Protocol", func(s *runtime.ContainerSpec) { s.Ports[1].Protocol = "sctp" }},
		{"Ports[1].HostPort", func(s *runtime.ContainerSpec) { s.Ports[1].HostPort, s.Ports[1].Protocol = 8330, "tcp" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "localhost" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "999.999.999.999" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "abc" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "::::::" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "[::1]" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "fe80::1%eth0" }},
		{"Ports[0].HostIP", func(s *runtime.ContainerSpec) { s.Ports[0].HostIP = "1.2.3" }},
		{"Ports[1].HostPort", func(s *runtime.ContainerSpec) { // 0.0.0.0 overlaps every address
			s.Ports[0].HostIP, s.Ports[1] = "127.0.0.1", runtime.Port{HostIP: "0.0.0.0", HostPort: 8332, ContainerPort: 1}
		}},
		{"Ports[1].HostPort", func(s *runtime.ContainerSpec) { // one address, spelled twice
			s.Ports[0].HostIP, s.Ports[1] = "::1", runtime.Port{HostIP: "0:0::1", HostPort: 8330, ContainerPort: 1, Count: 3}
		}},
		{"Mounts[1].Source", func(s *runtime.ContainerSpec) { s.Mounts[1].Source = "/a:b" }},
		{"Mounts[1].Target", func(s *runtime.ContainerSpec) { s.Mounts[1].Target = "/x:ro" }},
		{"Mounts[0].Target", func(s *runtime.ContainerSpec) { s.Mounts[0].Target = "/data:z" }},
		{"Mounts[0].Source", func(s *runtime.ContainerSpec) { s.Mounts[0].Source = "../x" }},
		{"Mounts[1].Source", func(s *runtime.ContainerSpec) { s.Mounts[1].Source = "relative/path" }},
		{"Mounts[1].Source", func(s *runtime.ContainerSpec) { s.Mounts[1].Source = "/srv/../etc/shadow" }},
		{"Mounts[1].Source", func(s *runtime.ContainerSpec) { s.Mounts[1].Source = "/srv/a\nb" }},
		{"Mounts[1].Target", func(s *runtime.ContainerSpec) { s.Mounts[1].Target = "/data" }},
		{"Mounts[0].Target", func(s *runtime.ContainerSpec) { s.Mounts[0].Target = "data" }},
		{"CapAdd[0]", func(s *runtime.ContainerSpec) { s.CapAdd = []string{"net_admin"} }},
		{"CapAdd[0]", func(s *runtime.ContainerSpec) { s.CapAdd = []string{"ALL"} }},
		{"User", func(s *runtime.ContainerSpec) { s.User = "root;rm" }},
		{"Labels[a b]", func(s *runtime.ContainerSpec) { s.Labels = map[string]string{"a b": "x"} }},
		{"HealthCheck.Command", func(s *runtime.ContainerSpec) { s.HealthCheck.Command = nil }},
		{"HealthCheck.Interval", func(s *runtime.ContainerSpec) { s.HealthCheck.Interval = -time.Second }},
		{"HealthCheck.Timeout", func(s *runtime.ContainerSpec) { s.HealthCheck.Timeout = time.Microsecond }},
		{"HealthCheck.Retries", func(s *runtime.ContainerSpec) { s.HealthCheck.Retries = -1 }},
		{"StopTimeout", func(s *runtime.ContainerSpec) { s.StopTimeout = 2 * time.Hour }},
	} {
		s := validSpec()
		tc.mutate(&s)
		err := s.Validate()
		var verr *runtime.ValidationError
		if !errors.Is(err, runtime.ErrInvalidSpec) || !errors.As(err, &verr) {
			t.Errorf("%s: err = %v, want a ValidationError", tc.field, err)
			continue
		}
		var fields []string
		for _, p := range verr.Problems {
			fields = append(fields, p.Field)
		}
		if !slices.Contains(fields, tc.field) && !slices.Contains(fields, `Labels["a b"]`) {
			t.Errorf("%s: problems at %v", tc.field, fields)
		}
	}
}

func TestValidHostIPsAndDistinctPorts(t *testing.T) {
	for _, ip := range []string{"127.0.0.1", "0.0.0.0", "::", "::1", "2001:db8::1", "::ffff:10.0.0.1"} {
		s := validSpec()
		s.Ports[0].HostIP = ip
		if err := s.Validate(); err != nil {
			t.Errorf("host IP %q: %v", ip, err)
		}
	}
	s := validSpec()
	s.Ports = []runtime.Port{{HostIP: "127.0.0.1", HostPort: 80, ContainerPort: 80}, {HostIP: "127.0.0.2", HostPort: 80, ContainerPort: 80},
		{HostPort: 80, ContainerPort: 80, Protocol: "udp"}, {HostPort: 81, ContainerPort: 81, Count: 2}}
	if err := s.Validate(); err != nil {
		t.Errorf("distinct addresses, protocols and ranges: %v", err)
	}
}

func TestValidationListsAllProblemsWithoutSecrets(t *testing.T) {
	s := validSpec()
	s.Name, s.Image = "", ""
	s.Env = map[string]string{"PASS": "hunter2\n"}
	err := s.Validate()
	var verr *runtime.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatal("validation error leaks an env value")
	}
}

// FuzzValidate feeds arbitrary specs to the validator: it must never panic, and a spec it
// accepts must be free of what breaks unit files and command lines.
func FuzzValidate(f *testing.F) {
	f.Add("bitcoind", "localhost/busybox:latest", "RPC", "pw", "/srv/conf", "/etc/conf", uint16(8332), uint16(8332), uint16(1), "NET_ADMIN", "1000", "")
	f.Add("a", "b", "", "", "", "", uint16(0), uint16(0), uint16(0), "", "", "127.0.0.1")
	f.Add("x/y", "UP\n", "1", "\x00", "../..", "rel", uint16(65535), uint16(1), uint16(9), "all", "root:root", "::::::")
	f.Add("b", "busybox", "K", "v", "/a:b", "/x", uint16(80), uint16(80), uint16(1), "NET_ADMIN", "1", "999.999.999.999")
	f.Fuzz(func(t *testing.T, name, image, envKey, envVal, bindSrc, target string, hostPort, ctrPort, count uint16, capName, user, hostIP string) {
		s := runtime.ContainerSpec{
			Name: name, Image: image, Env: map[string]string{envKey: envVal},
			Ports:  []runtime.Port{{HostIP: hostIP, HostPort: hostPort, ContainerPort: ctrPort, Count: count}},
			Mounts: []runtime.Mount{{Type: runtime.MountBind, Source: bindSrc, Target: target}},
			CapAdd: []string{capName}, User: user,
		}
		err := s.Validate()
		if err != nil {
			if !errors.Is(err, runtime.ErrInvalidSpec) {
				t.Fatalf("untyped error %v", err)
			}
			if envVal != "" && len(envVal) > 3 && strings.Contains(err.Error(), envVal) && !strings.Contains(name+image+bindSrc+target+capName+user+envKey, envVal) {
				t.Fatalf("error leaks the env value: %v", err)
			}
			return
		}
		for _, v := range []string{name, image, envKey, envVal, bindSrc, target, capName, user} {
			if strings.ContainsAny(v, "\n\r\x00") {
				t.Fatalf("accepted a value with a newline or NUL: %q", v)
			}
		}
		if strings.Contains(bindSrc, "..") && slices.Contains(strings.Split(bindSrc, "/"), "..") {
			t.Fatalf("accepted a bind source with '..': %q", bindSrc)
		}
		if int(hostPort)+max(int(count), 1)-1 > 65535 || hostPort == 0 {
			t.Fatalf("accepted port %d count %d", hostPort, count)
		}
		if strings.Contains(bindSrc+target, ":") {
			t.Fatalf("accepted a mount with a ':' (breaks -v and Volume=): %q -> %q", bindSrc, target)
		}
		if hostIP != "" && net.ParseIP(hostIP) == nil {
			t.Fatalf("accepted a host IP podman cannot parse: %q", hostIP)
		}
	})
}

func TestParseState(t *testing.T) {
	for in, want := range map[string]runtime.State{
		"created": runtime.StateCreated, "configured": runtime.StateCreated, "initialized": runtime.StateCreated,
		"running": runtime.StateRunning, "paused": runtime.StatePaused, "stopped": runtime.StateStopped,
		"exited": runtime.StateExited, "removing": runtime.StateRemoving, "stopping": runtime.StateStopping,
		"unknown": runtime.StateUnknown, "": runtime.StateUnknown, "bogus": runtime.StateUnknown,
	} {
		if got := runtime.ParseState(in); got != want {
			t.Errorf("ParseState(%q) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]runtime.Health{"": runtime.HealthNone, "starting": runtime.HealthStarting,
		"healthy": runtime.HealthHealthy, "unhealthy": runtime.HealthUnhealthy, "weird": runtime.HealthUnknown} {
		if got := runtime.ParseHealth(in); got != want {
			t.Errorf("ParseHealth(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSpecHash(t *testing.T) {
	a, b := validSpec(), validSpec()
	if runtime.SpecHash(a) != runtime.SpecHash(b) {
		t.Fatal("equal specs hash differently")
	}
	b.Labels = map[string]string{runtime.LabelSpecHash: "x", runtime.LabelManaged: "true"}
	if runtime.SpecHash(a) != runtime.SpecHash(b) {
		t.Fatal("skerry's own labels change the hash")
	}
	b.Env = map[string]string{"RPC_PASSWORD": "rotated"}
	if runtime.SpecHash(a) == runtime.SpecHash(b) {
		t.Fatal("an env change does not change the hash")
	}
	if len(runtime.SpecHash(a)) != 16 {
		t.Fatalf("hash %q", runtime.SpecHash(a))
	}
}

// The duplicate-port check agrees with a port-by-port model: two entries clash when they share
// a protocol and a host port, on the same address or when either binds every address.
func TestDuplicatePortsProperty(t *testing.T) {
	ips := []string{"", "0.0.0.0", "::", "127.0.0.1", "::1", "0:0::1", "10.0.0.1"}
	wildcard := map[string]bool{"": true, "0.0.0.0": true, "::": true}
	norm := map[string]string{"0:0::1": "::1"}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 4).Draw(t, "n")
		var ports []runtime.Port
		for i := range n {
			ports = append(ports, runtime.Port{
				HostIP:   rapid.SampledFrom(ips).Draw(t, fmt.Sprintf("ip%d", i)),
				HostPort: uint16(rapid.IntRange(1, 12).Draw(t, fmt.Sprintf("port%d", i))),
				Count:    uint16(rapid.IntRange(0, 4).Draw(t, fmt.Sprintf("count%d", i))),
				Protocol: rapid.SampledFrom([]string{"", "tcp", "udp"}).Draw(t, fmt.Sprintf("proto%d", i)),
			})
			ports[i].ContainerPort = ports[i].HostPort
		}
		type use struct {
			proto string
			port  int
		}
		want := false
		seen := map[use][]string{}
		for _, p := range ports {
			proto, ip := cmp.Or(p.Protocol, "tcp"), cmp.Or(norm[p.HostIP], p.HostIP)
			for port := int(p.HostPort); port < int(p.HostPort)+int(max(p.Count, 1)); port++ {
				for _, other := range seen[use{proto, port}] {
					want = want || wildcard[ip] || wildcard[other] || ip == other
				}
			}
			for port := int(p.HostPort); port < int(p.HostPort)+int(max(p.Count, 1)); port++ {
				seen[use{proto, port}] = append(seen[use{proto, port}], ip)
			}
		}
		s := validSpec()
		s.Ports = ports
		if got := s.Validate() != nil; got != want {
			t.Fatalf("ports %+v: clash reported %v, want %v (%v)", ports, got, want, s.Validate())
		}
	})
}
