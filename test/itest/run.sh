#!/usr/bin/env bash
# run.sh: the integration suite. Brings the nspawn environment up (env.sh), compiles the
# integration test binaries on the host (build tags: integration + the podman bindings' tags),
# runs them inside the container as the lingering user "app" (uid 1000), where the stock
# rootless podman socket and the systemd user bus are at their production paths, and tears the
# environment down. Fails loudly when the environment cannot start; never skips. Needs root.
set -euo pipefail
# One user of the environment at a time: concurrent callers queue on this lock.
if [ -z "${SKERRY_ITEST_LOCKED:-}" ]; then
  export SKERRY_ITEST_LOCKED=1
  exec flock /tmp/skerry-itest.lock bash "$0" "$@"
fi
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ENV="$HERE/env.sh"
TAGS="integration containers_image_openpgp exclude_graphdriver_btrfs remote"

[ "$(id -u)" = 0 ] || { echo "itest: needs root (systemd-nspawn)"; exit 1; }
bash "$ENV" build
trap 'bash "$ENV" down' EXIT
bash "$ENV" up
SHARE=$(bash "$ENV" share)

echo "== smoke: rootless podman and the user manager"
bash "$ENV" run podman info --format '{{.Version.Version}} rootless={{.Host.Security.Rootless}}'
bash "$ENV" run podman image exists localhost/busybox:latest || { echo "itest: busybox test image missing"; exit 1; }
bash "$ENV" run systemctl --user is-system-running --wait >/dev/null || bash "$ENV" run systemctl --user --failed --no-pager

mkdir -p "$SHARE/bin"
# podman 5.8.2's Quadlet generator beside the tests: quadlet's integration test loads what it
# generates into systemd too (the environment's own podman is 5.4.2). Built once, then kept.
if [ ! -x "$SHARE/bin/quadlet-5.8.2" ]; then
  echo "== build podman 5.8.2's quadlet generator"
  d=$(mktemp -d)
  printf 'module q\n\ngo 1.24\n\nrequire github.com/containers/podman/v5 v5.8.2\n' > "$d/go.mod"
  (cd "$d" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags "containers_image_openpgp exclude_graphdriver_btrfs remote" \
    -o "$SHARE/bin/quadlet-5.8.2" github.com/containers/podman/v5/cmd/quadlet)
  rm -rf "$d"
fi
pkgs=$(cd "$REPO" && go list -tags "$TAGS" -f '{{if .XTestGoFiles}}{{.ImportPath}}{{else if .TestGoFiles}}{{.ImportPath}}{{end}}' ./... \
  | while read -r p; do
      dir=$(cd "$REPO" && go list -f '{{.Dir}}' "$p")
      grep -l '^//go:build.*integration' "$dir"/*_test.go >/dev/null 2>&1 && echo "$p"
    done || true)
[ -n "$pkgs" ] || { echo "itest: no integration test packages found"; exit 1; }
# ITEST_PKGS narrows the run to packages whose import path matches this regexp (e.g. 'test/e2e$').
[ -z "${ITEST_PKGS:-}" ] || pkgs=$(echo "$pkgs" | grep -E "$ITEST_PKGS" || true)
status=0
for p in $pkgs; do
  name=$(echo "${p#github.com/skerry-dev/skerry/}" | tr / -)
  echo "== compile $p"
  (cd "$REPO" && CGO_ENABLED=0 go test -c -tags "$TAGS" -o "$SHARE/bin/$name.test" "$p")
  echo "== run $p (inside, as app)"
  bash "$ENV" run /share/bin/"$name".test -test.v -test.timeout 20m ${ITEST_RUN:+-test.run "$ITEST_RUN"} || status=1
done
# ITEST_SKIP_NODED=1 skips the example daemon's run (for a narrowed run while developing).
[ -z "${ITEST_SKIP_NODED:-}" ] || exit $status
echo "== example daemon: examples/noded, 3 passes, then uninstall"
(cd "$REPO" && CGO_ENABLED=0 go build -tags "${TAGS#integration }" -o "$SHARE/bin/noded" ./examples/noded)
out=$(bash "$ENV" run /share/bin/noded -interval 1s -passes 3 -rotate-every 0 2>&1) || { echo "$out"; status=1; }
echo "$out"
echo "$out" | tail -1 | grep -q '^pass 3 converged=true .*bitcoind-demo-ui.service=active->none' \
  || { echo "itest: the example daemon did not converge"; status=1; }
bash "$ENV" run /share/bin/noded -uninstall || status=1
exit $status
