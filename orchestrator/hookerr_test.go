package orchestrator_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/skerry-dev/skerry/hooks"
	"github.com/skerry-dev/skerry/orchestrator"
)

// A hook's error reaches the caller bounded (hooks.MaxErrorText), still matching its cause, and
// the app is not started.
func TestHookErrorIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rt, o := setup(orchestrator.Options{})
		cause := errors.New(strings.Repeat("x", 1<<20))
		app := newApp("btc")
		app.Hooks = []hooks.Hook{hooks.Func(func(context.Context) (bool, error) { return false, cause })}
		_, err := o.Install(t.Context(), app)
		if !errors.Is(err, cause) {
			t.Fatalf("Install: %v, want the hook's error", err)
		}
		if n := len(err.Error()); n > 2*hooks.MaxErrorText {
			t.Errorf("error text is %d bytes, want at most about %d", n, hooks.MaxErrorText)
		}
		if _, _, ok := rt.Container("btc"); ok {
			t.Errorf("the app was created although its hook failed")
		}
	})
}
