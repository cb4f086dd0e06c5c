//go:build !integration

package quadlet_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/systemd/parser"

	"github.com/skerry-dev/skerry/quadlet"
)

// Podman's own Quadlet test corpus (test/e2e/quadlet/*.container of the v5.8.2 module): each
// file is parsed with podman's parser, turned into a quadlet.Unit, rendered for podman 5.8 and
// compared key by key, through the same parser, with the original. A file is "expressible" when
// the model holds every key it sets and the rendered unit reads back the same.

var (
	lastArgsKeys = setOf("Exec", "ReloadCmd")
	allArgsKeys  = setOf("PodmanArgs", "GlobalArgs", "Mount", "Secret", "EnvironmentFile", "Mask", "Unmask")
	strvKeys     = setOf("AddCapability", "DropCapability", "AddDevice", "Sysctl", "UIDMap", "GIDMap", "LogOpt",
		"After", "Before", "Wants", "Requires", "BindsTo", "PartOf", "Conflicts", "PropagatesStopTo",
		"WantedBy", "RequiredBy", "UpheldBy", "Alias")
	jsonKeys     = setOf("HealthCmd", "HealthStartupCmd")
	keyValKeys   = setOf("Environment", "Label", "Annotation")
	defaultFalse = setOf("NoNewPrivileges", "SecurityLabelDisable", "SecurityLabelNested")
	// deprecatedKeys are podman 5.8's deprecated [Container] keys, which the model leaves out.
	deprecatedKeys = setOf("RemapUsers", "RemapUid", "RemapGid", "RemapUidSize", "VolatileTmp")
	// otherKeys are the model's keys outside [Container], by section.
	otherKeys = map[string]map[string]bool{
		"Unit": setOf("Description", "After", "Before", "Wants", "Requires", "BindsTo", "PartOf", "Conflicts",
			"PropagatesStopTo", "StartLimitBurst", "StartLimitIntervalSec"),
		"Quadlet": setOf("DefaultDependencies"),
		"Service": setOf("Restart", "RestartSec", "TimeoutStartSec", "TimeoutStopSec", "Type"),
		"Install": setOf("WantedBy", "RequiredBy", "UpheldBy", "Alias", "DefaultInstance"),
	}
)

func oneOf(v string, allowed ...string) bool { return slices.Contains(allowed, v) }

func setOf(vs ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

// podmanModule returns the directory of podman version v in the module cache (present once
// the generators are built).
func podmanModule(t *testing.T, v string) string {
	t.Helper()
	quadletGenerators(t)
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "github.com", "containers", "podman", "v5@v"+v)
}

// norm reads key of section from f the way Quadlet does, as a comparable string.
func norm(f *parser.UnitFile, section, key string) string {
	switch {
	case section == "Quadlet":
		v, ok := f.LookupBoolean(section, key)
		return fmt.Sprint(v, ok)
	case jsonKeys[key]:
		v, _ := f.Lookup(section, key)
		return fmt.Sprintf("%q", healthTest(v))
	case section == "Container" && key == "Notify":
		if v, _ := f.Lookup(section, key); strings.EqualFold(v, "healthy") {
			return "healthy"
		}
		return strconv.FormatBool(f.LookupBooleanWithDefault(section, key, false))
	case lastArgsKeys[key]:
		args, ok := f.LookupLastArgs(section, key)
		return fmt.Sprintf("%q %v", args, ok)
	case allArgsKeys[key]:
		return fmt.Sprintf("%q", f.LookupAllArgs(section, key))
	case strvKeys[key]:
		return fmt.Sprintf("%q", f.LookupAllStrv(section, key))
	case keyValKeys[key]:
		return fmt.Sprintf("%q", f.LookupAllKeyVal(section, key))
	case defaultFalse[key]:
		return strconv.FormatBool(f.LookupBooleanWithDefault(section, key, false))
	}
	if section == "Container" {
		switch fieldType(key) {
		case "[]string":
			return fmt.Sprintf("%q", f.LookupAll(section, key))
		case "bool", "*bool":
			v, ok := f.LookupBoolean(section, key)
			return fmt.Sprint(v, ok)
		case "time.Duration":
			v, _ := f.Lookup(section, key)
			if d, err := time.ParseDuration(v); err == nil {
				return d.String()
			}
			return v
		}
	}
	v, _ := f.Lookup(section, key) // an empty single value is ignored by Quadlet, as a missing one
	return v
}

// healthTest is the check podman makes of a --health-cmd value (specgenutil's
// MakeHealthCheckFromCli): a JSON array of two or more words runs them; one word, or a string,
// runs through a shell.
func healthTest(cmd string) []string {
	var words []string
	if cmd == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(cmd), &words); err == nil && len(words) > 1 {
		return append([]string{"CMD"}, words...)
	} else if err == nil && len(words) == 1 {
		return []string{"CMD-SHELL", words[0]}
	}
	return []string{"CMD-SHELL", cmd}
}

func fieldType(key string) string {
	if sf, ok := reflect.TypeFor[quadlet.Container]().FieldByName(key); ok {
		return sf.Type.String()
	}
	return ""
}

// fromFile builds the unit a corpus file describes, or says why the model cannot hold it.
func fromFile(f *parser.UnitFile) (quadlet.Unit, string) {
	var u quadlet.Unit
	for _, g := range f.ListGroups() {
		for _, k := range f.ListKeys(g) {
			raw, _ := f.LookupLast(g, k)
			switch {
			case g == "Container" && deprecatedKeys[k]:
				return u, "deprecated key " + k
			case g == "Container" && fieldType(k) == "":
				return u, "unknown key [Container] " + k
			case g != "Container" && !otherKeys[g][k]:
				return u, fmt.Sprintf("key [%s] %s", g, k)
			case usesSpecifiers(g, k, raw):
				return u, fmt.Sprintf("[%s] %s uses systemd specifiers or variables, which the model writes as literals", g, k)
			}
		}
	}
	c := reflect.ValueOf(&u.Container).Elem()
	for i := range c.NumField() {
		key := c.Type().Field(i).Name
		if !f.HasKey("Container", key) {
			continue
		}
		if why := setField(f, key, c.Field(i)); why != "" {
			return u, why
		}
	}
	lists := map[string]*[]string{"After": &u.After, "Before": &u.Before, "Wants": &u.Wants, "Requires": &u.Requires,
		"BindsTo": &u.BindsTo, "PartOf": &u.PartOf, "Conflicts": &u.Conflicts, "PropagatesStopTo": &u.PropagatesStopTo}
	for k, p := range lists {
		*p = f.LookupAllStrv("Unit", k)
	}
	for k, p := range map[string]*[]string{"WantedBy": &u.WantedBy, "RequiredBy": &u.RequiredBy, "UpheldBy": &u.UpheldBy, "Alias": &u.Alias} {
		*p = f.LookupAllStrv("Install", k)
	}
	u.Description, _ = f.Lookup("Unit", "Description")
	u.DefaultInstance, _ = f.Lookup("Install", "DefaultInstance")
	u.Service.Restart, _ = f.Lookup("Service", "Restart")
	u.Service.Type, _ = f.Lookup("Service", "Type")
	if v, ok := f.LookupBoolean("Quadlet", "DefaultDependencies"); ok {
		u.DefaultDependencies = &v
	}
	for k, p := range map[string]*time.Duration{"StartLimitIntervalSec": &u.StartLimitInterval} {
		if v, ok := f.Lookup("Unit", k); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return u, "[Unit] " + k + " is not whole seconds"
			}
			*p = time.Duration(n) * time.Second
		}
	}
	for k, p := range map[string]*time.Duration{"RestartSec": &u.Service.RestartSec, "TimeoutStartSec": &u.Service.TimeoutStartSec,
		"TimeoutStopSec": &u.Service.TimeoutStopSec} {
		if v, ok := f.Lookup("Service", k); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return u, "[Service] " + k + " is not whole seconds"
			}
			*p = time.Duration(n) * time.Second
		}
	}
	if v, ok := f.Lookup("Unit", "StartLimitBurst"); ok {
		u.StartLimitBurst, _ = strconv.Atoi(v)
	}
	return u, ""
}

// specifierRE finds what systemd expands: a '%' specifier, or a '$' variable reference.
var specifierRE = regexp.MustCompile(`%.|\$[A-Za-z_{$]`)

// usesSpecifiers reports whether a corpus value means something the model's literal values
// cannot say. The model keeps one kind: a directory specifier starting a host path
// ("%h/data") in Volume, Mount and EnvironmentFile.
func usesSpecifiers(group, key, raw string) bool {
	if group == "Container" && oneOf(key, "Volume", "EnvironmentFile", "Mount") {
		raw = regexp.MustCompile(`(^|source=|src=)%[htSCETV]/`).ReplaceAllString(raw, "$1/")
	}
	return specifierRE.MatchString(raw)
}

// setField sets the Container field named key from f, or says why it cannot.
func setField(f *parser.UnitFile, key string, fv reflect.Value) string {
	v, _ := f.Lookup("Container", key)
	atoi := func() (int, string) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, key + "=" + v + " is not an integer"
		}
		return n, ""
	}
	switch p := fv.Addr().Interface().(type) {
	case *string:
		*p = v
		if key == "Notify" {
			*p = strings.TrimPrefix(norm(f, "Container", key), "false")
		}
	case *[]string:
		switch {
		case jsonKeys[key]:
			if first, _, _ := strings.Cut(strings.ToUpper(v), " "); oneOf(first, "CMD", "CMD-SHELL", "NONE") {
				return key + " starts with " + first
			}
			if err := json.Unmarshal([]byte(v), p); err != nil {
				*p = []string{v} // a shell command: the model's one-word form
			}
		case lastArgsKeys[key]:
			*p, _ = f.LookupLastArgs("Container", key)
		case allArgsKeys[key]:
			*p = f.LookupAllArgs("Container", key)
		case strvKeys[key]:
			*p = f.LookupAllStrv("Container", key)
		default:
			*p = f.LookupAll("Container", key)
		}
	case *map[string]string:
		*p = f.LookupAllKeyVal("Container", key)
	case *bool:
		b, _ := f.LookupBoolean("Container", key)
		if !b && !defaultFalse[key] {
			return key + "=false (the model writes only true)"
		}
		*p = b
	case **bool:
		b, _ := f.LookupBoolean("Container", key)
		*p = &b
	case *int:
		n, why := atoi()
		*p = n
		return why
	case **int:
		n, why := atoi()
		*p = &n
		return why
	case **int64:
		n, why := atoi()
		n64 := int64(n)
		*p = &n64
		return why
	case *time.Duration:
		if key == "StopTimeout" {
			n, why := atoi()
			*p = time.Duration(n) * time.Second
			return why
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return key + "=" + v + " is not a duration"
		}
		*p = d
	default:
		return fmt.Sprintf("field %s of type %T", key, p)
	}
	return ""
}

func TestPodmanCorpusIsExpressible(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(podmanModule(t, "5.8.2"), "test", "e2e", "quadlet", "*.container"))
	if err != nil || len(files) < 100 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	var expressible, valid, refusedAlike int
	var failedFiles, notExpressible []string
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(path)
		// Files that test a refusal: the generator fails, or warns that a key is not supported.
		failing := strings.Contains(string(data), "## assert-failed") ||
			regexp.MustCompile(`(?m)^## assert-stderr-contains ".*is not supported`).Match(data)
		if failing {
			failedFiles = append(failedFiles, base)
		}
		orig := parser.NewUnitFile()
		if err := orig.Parse(string(data)); err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		u, why := fromFile(orig)
		deprecated := strings.HasPrefix(why, "deprecated")
		if !failing && !deprecated {
			valid++
		}
		if why == "" {
			out, err := quadlet.Render(strings.TrimSuffix(base, ".container"), u, quadlet.Options{Target: quadlet.Latest})
			switch {
			case err != nil && failing:
				refusedAlike++
				continue
			case err != nil:
				why = "refused: " + err.Error()
			case failing:
				why = "podman refuses this file, Render accepted it"
			default:
				why = compareUnits(t, orig, out)
			}
		}
		if why != "" {
			if !failing {
				notExpressible = append(notExpressible, base+": "+why)
			}
			continue
		}
		expressible++
	}
	slices.Sort(notExpressible)
	t.Logf("not expressible:\n\t%s", strings.Join(notExpressible, "\n\t"))
	t.Logf("%d corpus files: %d that podman accepts and that use no deprecated key, %d of them expressible (%.1f %%); "+
		"%d of the %d files podman refuses or warns about are refused by Render too; overall %d/%d (%.1f %%)",
		len(files), valid, expressible, 100*float64(expressible)/float64(valid), refusedAlike, len(failedFiles),
		expressible, len(files), 100*float64(expressible)/float64(len(files)))
	if float64(expressible) < 0.95*float64(valid) {
		t.Errorf("%d of %d files expressible, want >= 95 %%", expressible, valid)
	}
}

// compareUnits compares every key of orig with the rendered unit, read the same way.
func compareUnits(t *testing.T, orig *parser.UnitFile, out []byte) string {
	t.Helper()
	r := parse(t, out)
	for _, g := range append(orig.ListGroups(), r.ListGroups()...) {
		for _, k := range append(orig.ListKeys(g), r.ListKeys(g)...) {
			if want, got := norm(orig, g, k), systemdUnescape(norm(r, g, k)); want != got {
				return fmt.Sprintf("[%s] %s: rendered %s, want %s", g, k, got, want)
			}
		}
	}
	return ""
}
