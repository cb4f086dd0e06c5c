package quadlet_test

import (
	"encoding/json"
	"errors"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/containers/podman/v5/pkg/systemd/parser"
	"pgregory.net/rapid"

	"github.com/skerry-dev/skerry/quadlet"
)

// The oracle is podman's own unit-file parser (pkg/systemd/parser, standard library only): what
// the renderer writes must read back, key by key, as the values the model held, once systemd's
// own unescaping of "%%" and "$$" is applied.

// systemdUnescape undoes the renderer's specifier escaping the way systemd does for the values
// Quadlet copies into the service ("%%" -> "%", "$$" -> "$").
func systemdUnescape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "%%", "%"), "$$", "$")
}

func unescapeAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = systemdUnescape(v)
	}
	return out
}

// hostile draws strings full of what the parser treats specially: quotes, backslashes,
// whitespace, '%', '$', '#', ';', '=', brackets, and non-ASCII.
// A value that is exactly ";" is refused (systemd's command separator), so it is not drawn here.
func hostile(t *rapid.T, label string) string {
	return rapid.StringOfN(rapid.SampledFrom([]rune{'a', 'Z', '0', ' ', '"', '\'', '\\', '%', '$', '#', ';', '=', '[', ']', '{', '}', ':', '/', ',', 'é', '→', '*', '&'}), 1, 12, -1).Filter(func(v string) bool { return v != ";" }).Draw(t, label)
}

// rawValue draws a hostile string valid for a raw key: no whitespace or '"' at the ends, no
// trailing backslash.
func rawValue(t *rapid.T, label string) string {
	v := hostile(t, label)
	for trimmed := ""; trimmed != v; {
		trimmed = v
		v = strings.TrimRight(strings.Trim(v, " \""), `\`)
	}
	if v == "" || v == ";" {
		v = "x"
	}
	return v
}

// pathPart draws a path component valid for a bind source.
func pathPart(t *rapid.T, label string) string {
	return rapid.StringMatching(`[A-Za-z0-9_@+~-][A-Za-z0-9._@+~-]{0,6}`).Draw(t, label)
}

// validVolume draws a Volume= value of the grammar the renderer accepts: a bind path or a
// volume name, a target, and options.
func validVolume(t *rapid.T, label string) string {
	src := rapid.OneOf(
		rapid.Custom(func(t *rapid.T) string {
			return rapid.SampledFrom([]string{"", "%h", "%t", "."}).Draw(t, "base") + "/" + pathPart(t, "a") + "/" + pathPart(t, "b")
		}),
		rapid.StringMatching(`[A-Za-z0-9][A-Za-z0-9_.-]{0,8}`),
	).Draw(t, label+"Source")
	v := src + ":/" + hostile(t, label+"Target")
	v = strings.Map(func(r rune) rune {
		if strings.ContainsRune(",:=\"' \\", r) {
			return '_'
		}
		return r
	}, v[len(src)+1:])
	v = src + ":" + v
	if rapid.Bool().Draw(t, label+"RO") {
		v += ":ro,z"
	}
	return v
}

// validMount draws a Mount= value of podman's --mount grammar with hostile-but-legal parts.
func validMount(t *rapid.T, label string) string {
	dst := "/" + pathPart(t, label+"Dst")
	switch rapid.IntRange(0, 2).Draw(t, label+"Type") {
	case 0:
		return "type=bind,source=/" + pathPart(t, label+"Src") + ",destination=" + dst + ",ro"
	case 1:
		return "type=volume,src=" + rapid.StringMatching(`[a-z0-9][a-z0-9_.-]{0,8}`).Draw(t, label+"Vol") + ",target=" + dst
	default:
		return "type=tmpfs,tmpfs-size=64m,destination=" + dst
	}
}

func genUnit(t *rapid.T) quadlet.Unit {
	listOf := func(label string, gen func(*rapid.T, string) string) []string {
		n := rapid.IntRange(0, 3).Draw(t, label+"#")
		out := make([]string, n)
		for i := range out {
			out[i] = gen(t, label)
		}
		return out
	}
	mapOf := func(label string, key *rapid.Generator[string]) map[string]string {
		m := map[string]string{}
		for range rapid.IntRange(0, 3).Draw(t, label+"#") {
			m[key.Draw(t, label+"Key")] = hostile(t, label+"Value")
		}
		return m
	}
	return quadlet.Unit{
		Description: rawValue(t, "description"),
		Container: quadlet.Container{
			Image:       rawValue(t, "image"),
			Exec:        listOf("exec", hostile),
			Entrypoint:  rapid.SampledFrom([]string{"", "/bin/sh"}).Draw(t, "entrypoint"),
			Network:     listOf("network", rawValue),
			PublishPort: listOf("publish", rawValue),
			Volume:      listOf("volume", validVolume),
			Mount:       listOf("mount", validMount),
			Environment: mapOf("env", rapid.StringMatching(`[A-Za-z_][A-Za-z0-9_]{0,8}`)),
			Label:       mapOf("label", rapid.StringMatching(`[a-z0-9][a-z0-9./_-]{0,10}`)),
			AddCapability: listOf("capadd", func(t *rapid.T, l string) string { // "ALL" is refused: it only drops
				return rapid.StringMatching(`[A-Z][A-Z_]{0,10}`).Filter(func(c string) bool { return c != "ALL" }).Draw(t, l)
			}),
			DropCapability: listOf("capdrop", func(t *rapid.T, l string) string { return rapid.StringMatching(`[A-Z][A-Z_]{0,10}`).Draw(t, l) }),
			User:           rawValue(t, "user"),
			HealthCmd:      listOf("health", hostile),
			PodmanArgs:     listOf("podmanargs", hostile),
		},
		Service:  quadlet.Service{Restart: "always"},
		WantedBy: []string{"default.target"},
	}
}

// tb is what the checks need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

func parse(t tb, data []byte) *parser.UnitFile {
	t.Helper()
	f := parser.NewUnitFile()
	if err := f.Parse(string(data)); err != nil {
		t.Fatalf("podman's parser refused the rendered unit: %v\n%s", err, data)
	}
	return f
}

// checkRoundTrip verifies every key of u against what the parser reads from data.
func checkRoundTrip(t tb, u quadlet.Unit, data []byte) {
	t.Helper()
	f := parse(t, data)
	const C = "Container"
	c := u.Container
	eqOne := func(key, want string) {
		got, ok := f.Lookup(C, key)
		if want == "" {
			if ok {
				t.Fatalf("%s present, want absent", key)
			}
			return
		}
		if !ok || systemdUnescape(got) != want {
			t.Fatalf("%s: parsed %q (present=%v), want %q\n%s", key, got, ok, want, data)
		}
	}
	eqList := func(key string, got, want []string) {
		if len(want) == 0 && len(got) == 0 {
			return
		}
		if !slices.Equal(unescapeAll(got), want) {
			t.Fatalf("%s: parsed %q, want %q\n%s", key, got, want, data)
		}
	}
	eqMap := func(key string, want map[string]string) {
		got := f.LookupAllKeyVal(C, key)
		for k, v := range got {
			got[k] = systemdUnescape(v)
		}
		if len(got) != len(want) || !maps.Equal(got, want) {
			t.Fatalf("%s: parsed %q, want %q\n%s", key, got, want, data)
		}
	}
	// Description is not a command line: systemd expands '%' there, not '$'.
	if d, _ := f.Lookup("Unit", "Description"); strings.ReplaceAll(d, "%%", "%") != u.Description {
		t.Fatalf("Description %q, want %q", d, u.Description)
	}
	eqOne("Image", c.Image)
	eqOne("Entrypoint", c.Entrypoint)
	eqOne("User", c.User)
	exec, _ := f.LookupLastArgs(C, "Exec")
	eqList("Exec", exec, c.Exec)
	eqList("Network", f.LookupAll(C, "Network"), c.Network)
	eqList("PublishPort", f.LookupAll(C, "PublishPort"), c.PublishPort)
	eqList("Volume", f.LookupAll(C, "Volume"), c.Volume)
	eqList("Mount", f.LookupAllArgs(C, "Mount"), c.Mount)
	eqList("AddCapability", f.LookupAllStrv(C, "AddCapability"), c.AddCapability)
	eqList("DropCapability", f.LookupAllStrv(C, "DropCapability"), c.DropCapability)
	eqList("PodmanArgs", f.LookupAllArgs(C, "PodmanArgs"), c.PodmanArgs)
	eqList("Secret", f.LookupAllArgs(C, "Secret"), c.Secret)
	eqList("Mask", f.LookupAllArgs(C, "Mask"), c.Mask)
	eqMap("Environment", c.Environment)
	eqMap("Label", c.Label)
	if len(c.HealthCmd) > 0 {
		raw, _ := f.Lookup(C, "HealthCmd")
		raw = systemdUnescape(raw)
		var got []string
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatalf("HealthCmd %q is not the JSON podman expects: %v", raw, err)
		}
		if !slices.Equal(got, c.HealthCmd) {
			t.Fatalf("HealthCmd: parsed %q, want %q\n%s", got, c.HealthCmd, data)
		}
	}
	// No extra section, and no key the model did not set.
	if groups := f.ListGroups(); !slices.Equal(groups, expectedGroups(u)) {
		t.Fatalf("sections %v, want %v\n%s", groups, expectedGroups(u), data)
	}
	allowed := map[string]bool{"Image": true, "Exec": len(c.Exec) > 0, "Entrypoint": c.Entrypoint != "", "Network": len(c.Network) > 0,
		"PublishPort": len(c.PublishPort) > 0, "Volume": len(c.Volume) > 0, "Mount": len(c.Mount) > 0,
		"Environment": len(c.Environment) > 0, "Label": len(c.Label) > 0, "AddCapability": len(c.AddCapability) > 0,
		"DropCapability": len(c.DropCapability) > 0, "User": c.User != "", "HealthCmd": len(c.HealthCmd) > 0, "PodmanArgs": len(c.PodmanArgs) > 0,
		"Secret": len(c.Secret) > 0, "Mask": len(c.Mask) > 0, "DNSSearch": len(c.DNSSearch) > 0}
	for _, k := range f.ListKeys(C) {
		if !allowed[k] {
			t.Fatalf("unexpected key %s in [Container]\n%s", k, data)
		}
	}
}

func expectedGroups(u quadlet.Unit) []string {
	g := []string{}
	if u.Description != "" {
		g = append(g, "Unit")
	}
	g = append(g, "Container")
	if u.Service.Restart != "" {
		g = append(g, "Service")
	}
	if len(u.WantedBy) > 0 {
		g = append(g, "Install")
	}
	return g
}

func TestRoundTripThroughPodmanParser(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u := genUnit(t)
		data, err := quadlet.Render("app-ui", u, quadlet.Options{})
		if err != nil {
			t.Fatalf("valid unit refused: %v", err)
		}
		checkRoundTrip(t, u, data)
	})
}

// FuzzRender: whatever the strings, Render either refuses with a typed error that does not leak
// the environment value, or writes a unit that podman's parser reads back exactly.
func FuzzRender(f *testing.F) {
	f.Add("localhost/x:1", "echo hi", "K", "v", "/a:/b:ro", "desc", "app")
	f.Add("img\n[Service]", `a "b" \c`, "PASS", "hunter2\nX=1", "vol\\", "100%", `"q"`)
	f.Add("$x", "%h $$ %%", "_", `\`, " ", "#;", "a=b")
	f.Fuzz(func(t *testing.T, image, execWord, envKey, envVal, volume, desc, user string) {
		u := quadlet.Unit{Description: desc, Container: quadlet.Container{
			Image: image, Exec: []string{execWord, "tail"}, Environment: map[string]string{envKey: envVal},
			Volume: []string{volume}, User: user,
		}}
		data, err := quadlet.Render("fuzz", u, quadlet.Options{})
		if err != nil {
			if !errors.Is(err, quadlet.ErrInvalid) {
				t.Fatalf("untyped error: %v", err)
			}
			if len(envVal) > 4 && strings.Contains(err.Error(), envVal) && !strings.Contains(image+execWord+envKey+volume+desc+user, envVal) {
				t.Fatalf("error leaks the environment value: %v", err)
			}
			return
		}
		checkRoundTrip(t, u, data)
	})
}

// serviceHeaderRE splits the dry-run output of a generator into its services.
var serviceHeaderRE = regexp.MustCompile(`(?m)^---(.+)\.service---$`)

// argv returns the podman command line systemd runs for a generated service: ExecStart split
// as systemd splits it, with its "%%" and "$$" unescaped.
func argv(t testing.TB, svc *parser.UnitFile) []string {
	t.Helper()
	words, ok := svc.LookupLastArgs("Service", "ExecStart")
	if !ok {
		t.Fatal("no ExecStart")
	}
	return unescapeAll(words)
}

// hasSeq reports whether want appears in args as consecutive words.
func hasSeq(args []string, want ...string) bool {
	for i := 0; i+len(want) <= len(args); i++ {
		if slices.Equal(args[i:i+len(want)], want) {
			return true
		}
	}
	return false
}
