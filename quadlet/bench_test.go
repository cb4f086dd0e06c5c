package quadlet_test

import (
	"testing"

	"github.com/skerry-dev/skerry/quadlet"
)

// BenchmarkRender renders the companion unit of the golden test.
//
//	go test ./quadlet -run '^$' -bench Render -benchmem
func BenchmarkRender(b *testing.B) {
	u := companionUnit()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := quadlet.Render("bitcoind-ui", u, quadlet.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
