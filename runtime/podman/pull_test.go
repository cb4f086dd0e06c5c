//go:build remote && containers_image_openpgp && exclude_graphdriver_btrfs

package podman

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/skerry-dev/skerry/runtime"
)

func TestProgressWriter(t *testing.T) {
	var got []runtime.PullProgress
	w := newProgressWriter("r/x:1", func(p runtime.PullProgress) { got = append(got, p) })
	stream := "Trying to pull r/x:1...\nGetting image source signatures\nCopying blob sha256:aa\nCop" +
		"ying blob sha256:bb\n\nCopying config sha256:cc\nWriting manifest to image destination\npartial"
	for i := 0; i < len(stream); i += 7 { // the stream arrives in pieces
		if _, err := w.Write([]byte(stream[i:min(i+7, len(stream))])); err != nil {
			t.Fatal(err)
		}
	}
	p := func(layers int, config bool, msg string) runtime.PullProgress {
		return runtime.PullProgress{Ref: "r/x:1", Layers: layers, Config: config, Bytes: -1, Message: msg}
	}
	want := []runtime.PullProgress{
		p(0, false, "Trying to pull r/x:1..."), p(0, false, "Getting image source signatures"),
		p(1, false, "Copying blob sha256:aa"), p(2, false, "Copying blob sha256:bb"),
		p(2, true, "Copying config sha256:cc"), p(2, true, "Writing manifest to image destination"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
}
