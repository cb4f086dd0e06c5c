package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestSimulateConverges runs the README's first command's logic in a synctest bubble: it must
// converge in a few passes, repairing the stuck, killed and re-configured apps on the way.
func TestSimulateConverges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := run(ctx, &out, log, t.TempDir(), time.Second); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		s := out.String()
		for _, want := range []string{"electrs   created  -> recreate", "lnd       exited   -> start", "btcpay    running  -> restart", "converged after 3 passes"} {
			if !strings.Contains(s, want) {
				t.Errorf("output lacks %q:\n%s", want, s)
			}
		}
	})
}
