//go:build !integration

package quadlet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/containers/podman/v5/pkg/systemd/parser"

	"github.com/skerry-dev/skerry/quadlet"
)

// resourceNorm reads a [Network] or [Volume] key of f the way Quadlet does.
func resourceNorm(f *parser.UnitFile, section, key string, typ reflect.Type) string {
	if section == "Unit" && key != "Description" {
		return fmt.Sprintf("%q", f.LookupAllStrv(section, key))
	}
	sf, _ := typ.FieldByName(key)
	switch {
	case key == "GlobalArgs" || key == "PodmanArgs":
		return fmt.Sprintf("%q", f.LookupAllArgs(section, key))
	case sf.Type == nil:
		v, _ := f.Lookup(section, key)
		return v
	case sf.Type.Kind() == reflect.Map:
		return fmt.Sprintf("%q", f.LookupAllKeyVal(section, key))
	case sf.Type.Kind() == reflect.Slice:
		return fmt.Sprintf("%q", f.LookupAll(section, key))
	case sf.Type.Kind() == reflect.Bool:
		return fmt.Sprint(f.LookupBooleanWithDefault(section, key, false))
	case sf.Type.String() == "*bool":
		v, ok := f.LookupBoolean(section, key)
		return fmt.Sprint(v, ok)
	case sf.Type.String() == "*int":
		return fmt.Sprint(f.LookupUint32(section, key, 0), f.HasKey(section, key))
	}
	v, _ := f.Lookup(section, key)
	return v
}

// resourceFromFile fills the section struct at sec (a *Network or *Volume) from f.
func resourceFromFile(f *parser.UnitFile, section string, sec reflect.Value) string {
	for _, g := range f.ListGroups() {
		for _, k := range f.ListKeys(g) {
			raw, _ := f.LookupLast(g, k)
			_, known := sec.Type().FieldByName(k)
			switch {
			case g == section && !known, g == "Unit" && !oneOf(k, "Description", "After", "Requires"), g != section && g != "Unit":
				return fmt.Sprintf("key [%s] %s", g, k)
			case usesSpecifiers(g, k, raw) && !(k == "Device" && !specifierRE.MatchString(raw[2:])):
				return fmt.Sprintf("[%s] %s uses systemd specifiers or variables", g, k)
			}
		}
	}
	for i := range sec.NumField() {
		key := sec.Type().Field(i).Name
		if !f.HasKey(section, key) {
			continue
		}
		v, _ := f.Lookup(section, key)
		switch p := sec.Field(i).Addr().Interface().(type) {
		case *string:
			*p = v
		case *[]string:
			if key == "GlobalArgs" || key == "PodmanArgs" {
				*p = f.LookupAllArgs(section, key)
			} else {
				*p = f.LookupAll(section, key)
			}
		case *map[string]string:
			*p = f.LookupAllKeyVal(section, key)
		case *bool:
			*p = f.LookupBooleanWithDefault(section, key, false)
		case **bool:
			b, _ := f.LookupBoolean(section, key)
			*p = &b
		case **int:
			n := int(f.LookupUint32(section, key, 0)) // Quadlet's reading: anything not a number is 0
			*p = &n
		default:
			return fmt.Sprintf("field %s of type %T", key, p)
		}
	}
	return ""
}

// TestPodmanCorpusNetworksAndVolumes: the corpus's .network and .volume files, as for
// containers (files podman refuses are expected to be refused by the renderer too).
func TestPodmanCorpusNetworksAndVolumes(t *testing.T) {
	corpus := filepath.Join(podmanModule(t, "5.8.2"), "test", "e2e", "quadlet")
	for _, kind := range []string{"network", "volume"} {
		files, _ := filepath.Glob(filepath.Join(corpus, "*."+kind))
		var expressible, valid, refusedAlike, failed int
		var notExpressible []string
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			base := filepath.Base(path)
			name := strings.TrimSuffix(base, "."+kind)
			failing := strings.Contains(string(data), "## assert-failed") ||
				regexp.MustCompile(`(?m)^## assert-stderr-contains ".*is not supported`).Match(data)
			orig := parser.NewUnitFile()
			if err := orig.Parse(string(data)); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
			var out []byte
			var section string
			var typ reflect.Type
			var why string
			if kind == "network" {
				var u quadlet.NetworkUnit
				section, typ = "Network", reflect.TypeFor[quadlet.Network]()
				why = resourceFromFile(orig, section, reflect.ValueOf(&u.Network).Elem())
				u.Description, _ = orig.Lookup("Unit", "Description")
				u.After, u.Requires = orig.LookupAllStrv("Unit", "After"), orig.LookupAllStrv("Unit", "Requires")
				if why == "" {
					out, err = quadlet.RenderNetwork(name, u, quadlet.Options{Target: quadlet.Latest})
				}
			} else {
				var u quadlet.VolumeUnit
				section, typ = "Volume", reflect.TypeFor[quadlet.Volume]()
				why = resourceFromFile(orig, section, reflect.ValueOf(&u.Volume).Elem())
				u.Description, _ = orig.Lookup("Unit", "Description")
				u.After, u.Requires = orig.LookupAllStrv("Unit", "After"), orig.LookupAllStrv("Unit", "Requires")
				if why == "" {
					out, err = quadlet.RenderVolume(name, u, quadlet.Options{Target: quadlet.Latest})
				}
			}
			if failing {
				failed++
				if why == "" && err != nil {
					refusedAlike++
				}
				continue
			}
			valid++
			if why == "" && err != nil {
				why = "refused: " + err.Error()
			}
			if why == "" {
				r := parse(t, out)
				for _, g := range append(orig.ListGroups(), r.ListGroups()...) {
					for _, k := range append(orig.ListKeys(g), r.ListKeys(g)...) {
						if want, got := resourceNorm(orig, g, k, typ), systemdUnescape(resourceNorm(r, g, k, typ)); want != got && why == "" {
							why = fmt.Sprintf("[%s] %s: rendered %s, want %s", g, k, got, want)
						}
					}
				}
			}
			if why != "" {
				notExpressible = append(notExpressible, base+": "+why)
				continue
			}
			expressible++
		}
		t.Logf("%s: not expressible:\n\t%s", kind, strings.Join(notExpressible, "\n\t"))
		t.Logf("%d .%s files: %d that podman accepts, %d of them expressible; %d of the %d podman refuses or warns about are refused by the renderer too",
			len(files), kind, valid, expressible, refusedAlike, failed)
		if float64(expressible) < 0.9*float64(valid) { // the [Service] keys of a oneshot service are not in the model
			t.Errorf(".%s: %d of %d files expressible", kind, expressible, valid)
		}
	}
}
