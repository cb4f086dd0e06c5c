package quadlet_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/quadlet"
)

// The hostile classes of issue 16: each is refused with a problem naming the field and the rule.
func TestRenderRefusesHostileClasses(t *testing.T) {
	for _, tc := range []struct {
		name, key, rule string
		mut             func(*quadlet.Container)
	}{
		{"empty Exec word", "Exec[1]", "empty", func(c *quadlet.Container) { c.Exec = []string{"sh", "", "end"} }},
		{"empty PodmanArgs word", "PodmanArgs[0]", "empty", func(c *quadlet.Container) { c.PodmanArgs = []string{""} }},
		{"empty GlobalArgs word", "GlobalArgs[0]", "empty", func(c *quadlet.Container) { c.GlobalArgs = []string{""} }},
		{"empty Mount", "Mount[0]", "empty", func(c *quadlet.Container) { c.Mount = []string{""} }},
		{"empty Secret", "Secret[0]", "empty", func(c *quadlet.Container) { c.Secret = []string{""} }},
		{"empty EnvironmentFile", "EnvironmentFile[0]", "empty", func(c *quadlet.Container) { c.EnvironmentFile = []string{""} }},
		{"empty Network", "Network[0]", "empty", func(c *quadlet.Container) { c.Network = []string{""} }},
		{"';' in Exec", "Exec[1]", "separator", func(c *quadlet.Container) { c.Exec = []string{"sh", ";", "reboot"} }},
		{"';' in PodmanArgs", "PodmanArgs[0]", "separator", func(c *quadlet.Container) { c.PodmanArgs = []string{";"} }},
		{"';' as User", "User", "separator", func(c *quadlet.Container) { c.User = ";" }},
		{"';' as Network", "Network[0]", "separator", func(c *quadlet.Container) { c.Network = []string{";"} }},
		{"Group without User", "Group", "without User", func(c *quadlet.Container) { c.Group = "users" }},
		{"anonymous volume Mount", "Mount[0]", "source", func(c *quadlet.Container) { c.Mount = []string{"type=volume,destination=/data"} }},
		{"Mount of the default type without source", "Mount[0]", "source", func(c *quadlet.Container) { c.Mount = []string{"target=/data"} }},
		{"'\"' in Mount", "Mount[0]", "CSV", func(c *quadlet.Container) { c.Mount = []string{`type=bind,"source=/a",destination=/b`} }},
		{"unknown Mount type", "Mount[0]", "type", func(c *quadlet.Container) { c.Mount = []string{"type=nfs,source=/a,destination=/b"} }},
		{"unknown Mount option", "Mount[0]", "option", func(c *quadlet.Container) { c.Mount = []string{"type=bind,source=/a,destination=/b,rox"} }},
		{"Mount without destination", "Mount[0]", "destination", func(c *quadlet.Container) { c.Mount = []string{"type=bind,source=/a"} }},
		{"tmpfs Mount with a source", "Mount[0]", "no source", func(c *quadlet.Container) { c.Mount = []string{"type=tmpfs,source=/a,destination=/b"} }},
		{"artifact Mount for 5.4", "Mount[0]", "needs podman 5.5", func(c *quadlet.Container) { c.Mount = []string{"type=artifact,source=x.artifact,destination=/b"} }},
		{"invalid UTF-8 in Exec", "Exec[0]", "UTF-8", func(c *quadlet.Container) { c.Exec = []string{"\xff"} }},
		{"invalid UTF-8 in Image", "Image", "UTF-8", func(c *quadlet.Container) { c.Image = "busybox\xc3" }},
		{"C1 control in Exec", "Exec[0]", "control", func(c *quadlet.Container) { c.Exec = []string{"a\u0085b"} }},
		{"C1 control in Label", "Label[k]", "control", func(c *quadlet.Container) { c.Label = map[string]string{"k": "\u009b31m"} }},
		{"C1 control in Environment", "Environment[K]", "control", func(c *quadlet.Container) { c.Environment = map[string]string{"K": "hunter2\u0080"} }},
		{"invalid UTF-8 in Environment", "Environment[K]", "UTF-8", func(c *quadlet.Container) { c.Environment = map[string]string{"K": "hunter2\xfe"} }},
		{"Volume with empty source and options", "Volume[0]", "source is empty", func(c *quadlet.Container) { c.Volume = []string{":/data:ro"} }},
		{"Volume with a relative source", "Volume[0]", "neither", func(c *quadlet.Container) { c.Volume = []string{"data/x:/data"} }},
		{"Volume under an unknown specifier", "Volume[0]", "neither", func(c *quadlet.Container) { c.Volume = []string{"%n/x:/data"} }},
		{"Volume under %h with '..'", "Volume[0]", "clean", func(c *quadlet.Container) { c.Volume = []string{"%h/../x:/data"} }},
		{"NUL in Exec", "Exec[0]", "control", func(c *quadlet.Container) { c.Exec = []string{"a\x00"} }},
		{"newline in User", "User", "control", func(c *quadlet.Container) { c.User = "a\nb" }},
		{"bind source with a space", "Volume[0]", "clean absolute path", func(c *quadlet.Container) { c.Volume = []string{"/srv/my data:/data"} }},
		{"bind source with '$'", "Volume[0]", "clean absolute path", func(c *quadlet.Container) { c.Volume = []string{"/srv/$HOME:/data"} }},
		{"bind source with '..'", "Volume[0]", "clean absolute path", func(c *quadlet.Container) { c.Volume = []string{"/srv/../etc:/data"} }},
		{"bind source with a trailing backslash", "Volume[0]", "clean absolute path", func(c *quadlet.Container) { c.Volume = []string{`/srv/x\:/data`} }},
		{"bind source with '%'", "Volume[0]", "clean absolute path", func(c *quadlet.Container) { c.Volume = []string{"/srv/%h:/data"} }},
		{"Mount bind source with a space", "Mount[0]", "clean absolute path", func(c *quadlet.Container) { c.Mount = []string{"type=bind,source=/a b,destination=/b"} }},
		{"Mount bind source with '..'", "Mount[0]", "clean absolute path", func(c *quadlet.Container) { c.Mount = []string{"type=bind,src=/a/..,dst=/b"} }},
		{"AddDevice with a space", "AddDevice[0]", "one word", func(c *quadlet.Container) { c.AddDevice = []string{"/dev/a /dev/b"} }},
		{"Sysctl without '='", "Sysctl[0]", "name=value", func(c *quadlet.Container) { c.Sysctl = []string{"net.ipv4.ip_forward"} }},
		{"ReloadCmd with ReloadSignal", "ReloadSignal", "conflicts", func(c *quadlet.Container) { c.ReloadCmd = []string{"kill"}; c.ReloadSignal = "SIGHUP" }},
		{"Image with Rootfs", "Rootfs", "conflicts", func(c *quadlet.Container) { c.Rootfs = "/srv/root" }},
		{"Pod that is no unit", "Pod", "pod unit", func(c *quadlet.Container) { c.Pod = "test-pod" }},
		{"a command line over systemd's line limit", "file", "1 MiB", func(c *quadlet.Container) { c.Exec = []string{strings.Repeat("x", 600<<10)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := quadlet.Unit{Container: quadlet.Container{Image: "localhost/x:1"}}
			tc.mut(&u.Container)
			out, err := quadlet.Render("x", u, quadlet.Options{})
			var qerr *quadlet.Error
			if !errors.Is(err, quadlet.ErrInvalid) || !errors.As(err, &qerr) || out != nil {
				t.Fatalf("err = %v, out = %q", err, out)
			}
			for _, p := range qerr.Problems {
				if p.Key == tc.key && strings.Contains(p.Reason, tc.rule) {
					if strings.Contains(err.Error(), "hunter2") {
						t.Fatalf("the error leaks an environment value: %v", err)
					}
					return
				}
			}
			t.Fatalf("problems %v name no %s with rule %q", qerr.Problems, tc.key, tc.rule)
		})
	}
}

// specialWords are words systemd, Quadlet's parser or a shell treat specially, plus the
// values no encoding carries (empty, invalid UTF-8, C1 and C0 controls).
var specialWords = []string{"", ";", `\;`, "a;", ";b", "&&", "|", "`id`", "$", "$$", "${HOME}", "$HOME", "%", "%%",
	"%h", "%n", "-", "--", "@", "+", "!", "!!", ":", "\\", `\\`, `"`, "'", `""`, "#", "=", "[Service]",
	" ", "a b", "\t", "\n", "\x00", "\xff", "\xc3", "\u0080", "\u0085", "\u009f", "\u00a0", "é", "→", "\u2028"}

// badValue reports whether no encoding carries v, so that Render must refuse it. A Unicode
// space other than ' ' at either end is refused too: podman's parser strips it where the value
// ends a line of the generated service.
// A quoted word carries the C0 controls but NUL (as C escapes); a raw value carries none.
func badValue(v string, word bool) bool {
	if v == "" || v == ";" || !utf8.ValidString(v) {
		return true
	}
	first, _ := utf8.DecodeRuneInString(v)
	last, _ := utf8.DecodeLastRuneInString(v)
	if (first != ' ' && unicode.IsSpace(first)) || (last != ' ' && unicode.IsSpace(last)) {
		return true
	}
	for _, r := range v {
		if (r < 0x20 || r == 0x7f) && (!word || r == 0) || (r >= 0x80 && r <= 0x9f) {
			return true
		}
	}
	return false
}

func specialWord(t *rapid.T, label string) string {
	return rapid.OneOf(rapid.SampledFrom(specialWords), rapid.Custom(func(t *rapid.T) string {
		return rapid.SampledFrom(specialWords).Draw(t, "a") + hostile(t, "mid") + rapid.SampledFrom(specialWords).Draw(t, "b")
	})).Draw(t, label)
}

// TestHostileWordsRefusedOrExact: for words drawn from everything systemd and Quadlet treat
// specially, Render refuses exactly the values no encoding carries, naming their field, and
// renders every other value so that podman's parser reads it back unchanged.
func TestHostileWordsRefusedOrExact(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		fields := map[string]string{}
		words := func(key string) []string {
			n := rapid.IntRange(0, 3).Draw(t, key+"#")
			out := make([]string, n)
			for i := range out {
				out[i] = specialWord(t, key)
				fields[fmt.Sprintf("%s[%d]", key, i)] = out[i]
			}
			return out
		}
		c := quadlet.Container{Image: "localhost/x:1", Exec: words("Exec"), PodmanArgs: words("PodmanArgs"),
			Secret: words("Secret"), Mask: words("Mask"), Network: words("Network"), DNSSearch: words("DNSSearch")}
		if c.User = specialWord(t, "User"); c.User != "" { // "" is the zero value: unset
			fields["User"] = c.User
		}
		c.Label = map[string]string{"l": specialWord(t, "Label")}
		fields["Label[l]"] = c.Label["l"]
		env := specialWord(t, "Environment")
		if rapid.Bool().Draw(t, "secretMarker") {
			env = "hunter2" + env
		}
		c.Environment = map[string]string{"K": env}
		fields["Environment[K]"] = env
		u := quadlet.Unit{Container: c}
		data, err := quadlet.Render("x", u, quadlet.Options{})
		var bad []string
		for f, v := range fields {
			raw := !strings.HasPrefix(f, "Exec") && !strings.HasPrefix(f, "PodmanArgs") && !strings.HasPrefix(f, "Secret") &&
				!strings.HasPrefix(f, "Mask") && !strings.HasPrefix(f, "Environment") && !strings.HasPrefix(f, "Label")
			if strings.HasPrefix(f, "Environment") || strings.HasPrefix(f, "Label") {
				v = "K=" + v // a quoted "key=value" word: empty or ";" is fine there
			}
			// User, Network and DNSSearch are raw values: edges of whitespace, '"' or a trailing
			// '\' are refused too, and no control character is carried.
			if badValue(v, !raw) || raw && (strings.TrimSpace(v) != v || strings.Trim(v, `"`) != v || strings.HasSuffix(v, `\`)) {
				bad = append(bad, f)
			}
		}
		if len(bad) == 0 {
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			checkRoundTrip(t, u, data)
			if got := unescapeAll(parse(t, data).LookupAll("Container", "DNSSearch")); !slices.Equal(got, c.DNSSearch) && len(c.DNSSearch) > 0 {
				t.Fatalf("DNSSearch: parsed %q, want %q", got, c.DNSSearch)
			}
			return
		}
		var qerr *quadlet.Error
		if !errors.As(err, &qerr) {
			t.Fatalf("fields %v hold values no encoding carries, yet err = %v", bad, err)
		}
		named := map[string]bool{}
		for _, p := range qerr.Problems {
			named[p.Key] = true
		}
		for _, f := range bad {
			if !named[f] {
				t.Fatalf("%s (%q) not named in %v", f, fields[f], qerr.Problems)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("the error leaks the environment value %q: %v", env, err)
		}
	})
}

// hostileUnit draws a unit from hostile values: some are refused, the others must generate.
func hostileUnit(t *rapid.T, i int) quadlet.Unit {
	label := fmt.Sprint("u", i)
	words := func(key string) []string {
		n := rapid.IntRange(0, 3).Draw(t, label+key+"#")
		out := make([]string, n)
		for j := range out {
			if rapid.IntRange(0, 3).Draw(t, label+key+"?") == 0 {
				out[j] = specialWord(t, label+key)
			} else {
				out[j] = hostile(t, label+key)
			}
		}
		return out
	}
	c := quadlet.Container{
		Image:       "localhost/busybox:latest",
		Exec:        words("Exec"),
		PodmanArgs:  rapid.SampledFrom([][]string{nil, {"--log-level=info"}, {"--env", "X=" + specialWord(t, label+"X")}}).Draw(t, label+"PodmanArgs"),
		Environment: map[string]string{"K": specialWord(t, label+"Env")},
		Volume:      rapid.SliceOfN(rapid.Custom(func(t *rapid.T) string { return validVolume(t, "volume") }), 0, 2).Draw(t, label+"Volume"),
		Mount: rapid.SliceOfN(rapid.OneOf(rapid.Custom(func(t *rapid.T) string { return validMount(t, "mount") }),
			rapid.SampledFrom([]string{"type=volume,destination=/data", "destination=/x", `type=bind,source=/a b,destination=/b`, ""})), 0, 2).Draw(t, label+"Mount"),
		User:  rapid.SampledFrom([]string{"", "1000", "app"}).Draw(t, label+"User"),
		Group: rapid.SampledFrom([]string{"", "1000"}).Draw(t, label+"Group"),
	}
	return quadlet.Unit{Container: c, Service: quadlet.Service{Restart: "always"}}
}
