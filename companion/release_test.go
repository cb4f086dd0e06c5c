package companion_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/skerry-dev/skerry/companion"
)

// A daemon restarted with a companion release whose image cannot be had keeps the running
// release: the pass leaves the unit file and the service as they are and reports why.
func TestPassKeepsRunningReleaseWhenImageMissing(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("lnd", uiSpec("lnd-ui"))
	if err := e.m.Install(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, "lnd-ui.container")
	good, _ := os.ReadFile(path)

	restarted, err := companion.New(e.units, e.images, companion.Options{Dir: e.dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	missing := uiSpec("lnd-ui")
	missing.Image = "localhost/btc-ui:does-not-exist"
	if err := restarted.Register("lnd", missing); err != nil {
		t.Fatal(err)
	}
	for _, pass := range []func() error{
		func() error { return reportsErr(restarted.Reconcile(ctx)) },
		func() error { return restarted.Install(ctx, "lnd") },
	} {
		if err := pass(); !errors.Is(err, companion.ErrImageUnavailable) {
			t.Fatalf("pass: %v, want ErrImageUnavailable", err)
		}
		if now, _ := os.ReadFile(path); string(now) != string(good) {
			t.Fatalf("the unit file was rewritten to a release that cannot start:\n%s", now)
		}
		if st := e.units.State("lnd-ui.service"); !st.Active() {
			t.Fatalf("the running release was stopped: %+v", st)
		}
	}
}

// A companion whose process ignores SIGTERM ends "failed" when stopped (podman kills it at the
// stop timeout: exit 137); its removal leaves no failed unit behind.
func TestRemoveLeavesNoFailedUnit(t *testing.T) {
	e := setup(t, companion.Options{})
	ctx := context.Background()
	e.m.Register("lnd", uiSpec("lnd-ui"))
	if err := e.m.Install(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	e.units.IgnoreSIGTERM("lnd-ui.service")
	if err := e.m.Remove(ctx, "lnd"); err != nil {
		t.Fatal(err)
	}
	if st := e.units.State("lnd-ui.service"); st.ActiveState != "inactive" || st.LoadState != "not-found" {
		t.Fatalf("after removal: %+v, want not-found and inactive", st)
	}
}

func reportsErr(rs []companion.UnitReport) error {
	var errs []error
	for _, r := range rs {
		errs = append(errs, r.Err)
	}
	return errors.Join(errs...)
}
