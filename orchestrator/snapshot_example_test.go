package orchestrator_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/skerry-dev/skerry/health"
	"github.com/skerry-dev/skerry/orchestrator"
	"github.com/skerry-dev/skerry/runtime"
	"github.com/skerry-dev/skerry/runtime/fake"
)

// An app marks its database volume for snapshots. Its next release migrates the database and
// then fails its health check: the upgrade is rolled back, and the volume restored before the
// old release starts again on it.
func ExampleApp_snapshotVolumes() {
	dir, err := os.MkdirTemp("", "snapshots")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	rt := fake.New()
	rt.AddImage("localhost/db:1", "localhost/db:2")
	o := orchestrator.New(rt, orchestrator.Options{SnapshotDir: dir, Logger: quiet})
	ctx := context.Background()

	app := orchestrator.App{
		Name: "db",
		Container: runtime.ContainerSpec{
			Image:  "localhost/db:1",
			Mounts: []runtime.Mount{{Type: runtime.MountVolume, Source: "db-data", Target: "/var/lib/db"}},
		},
		Health:          health.Check{Exec: []string{"db-ping"}},
		SnapshotVolumes: []string{"db-data"},
		MinUptime:       10 * time.Millisecond,
	}
	if _, err := o.Install(ctx, app); err != nil {
		panic(err)
	}
	rt.WriteVolume("db-data", map[string]string{"schema": "1"})

	// Release 2 migrates the schema, then its check fails.
	rt.SetImageWrites("localhost/db:2", map[string]string{"schema": "2"})
	rt.SetImageBehaviour("localhost/db:2", fake.Behaviour{Unhealthy: true})
	app.Container.Image = "localhost/db:2"
	_, err = o.Install(ctx, app)
	fmt.Println("rolled back:", errors.Is(err, orchestrator.ErrRolledBack))
	fmt.Println("schema:", rt.VolumeFiles("db-data")["schema"])
	// Output:
	// rolled back: true
	// schema: 1
}
