#!/usr/bin/env bash
# run.sh: the benchmark suite. Brings up the integration environment, runs test/bench inside it
# as the unprivileged user (skerry against real podman and systemd, podman-compose measured in
# the same run), adds binary sizes and the pure benchmarks (go test -bench on the host), and
# writes BENCHMARKS.md at the repository's root. Needs root. Takes about 10 minutes.
#
#   bash test/bench/run.sh [-quick] [-only recovery,cold]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ENV="$REPO/test/itest/env.sh"
TAGS="containers_image_openpgp exclude_graphdriver_btrfs remote"
OUT="$REPO/BENCHMARKS.md"
export CGO_ENABLED=0

bash "$ENV" build
trap 'bash "$ENV" down' EXIT
bash "$ENV" up
SHARE=$(bash "$ENV" share)
mkdir -p "$SHARE/bin"
(cd "$REPO" && go build -tags "$TAGS" -o "$SHARE/bin/bench" ./test/bench && go build -tags "$TAGS" -o "$SHARE/bin/noded" ./examples/noded \
  && go build -o "$SHARE/bin/simulate" ./examples/simulate)

podman_version=$(bash "$ENV" run podman version --format '{{.Server.Version}}')
compose_version=$(bash "$ENV" run podman-compose version 2>/dev/null | grep -o 'podman-compose version [0-9.]*' | awk '{print $3}')
{
  echo "# Benchmarks"
  echo
  echo "Written by \`bash test/bench/run.sh${*:+ $*}\` (as root) on $(date -u +%Y-%m-%d): do not edit by hand."
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB,"
  echo "kernel $(uname -r); inside the integration environment (Debian trixie under systemd-nspawn):"
  echo "podman $podman_version (rootless, pasta), podman-compose $compose_version, systemd $(bash "$ENV" run systemctl --version | head -1 | awk '{print $2}')."
  echo "Machines here are noisy: read the ratios, measured in the same run, before the absolute figures."
  echo
  bash "$ENV" run /share/bin/bench "$@"
  echo "## 5. Binary size"
  echo
  echo "| binary | size |"
  echo "|---|---|"
  echo "| \`examples/simulate\` (fake runtime: no podman, no D-Bus) | $(du -h "$SHARE/bin/simulate" | cut -f1) |"
  echo "| \`examples/noded\` (podman bindings + go-systemd) | $(du -h "$SHARE/bin/noded" | cut -f1) |"
  echo
  echo "## 6. Pure parts (host, \`go test -bench -benchmem -count 5\`)"
  echo
  echo "| benchmark | ns/op min / median / max | B/op | allocs/op | extra |"
  echo "|---|---|---|---|---|"
  (cd "$REPO" && go test -run '^$' -bench 'Decide|ReconcileNoop|Render' -benchmem -count 5 ./orchestrator ./quadlet) \
    | awk '/^Benchmark/ {
        name=$1; sub(/-[0-9]+$/, "", name); ns[name]=ns[name] " " $3
        for (i=4; i<=NF; i++) { if ($(i+1)=="B/op") b[name]=$i; if ($(i+1)=="allocs/op") a[name]=$i;
          if ($(i+1)=="runtime-calls/pass") x[name]="runtime calls/pass " $i; if ($(i+1)=="allocs/app") y[name]=", allocs/app " $i }
        order[name]=++n
      }
      END { for (k in order) print order[k], k, ns[k], "|", b[k], "|", a[k], "|", x[k] y[k] }' \
    | sort -n | cut -d' ' -f2- | while read -r name rest; do
        nums=$(echo "${rest%%|*}" | tr ' ' '\n' | grep . | sort -n)
        cnt=$(echo "$nums" | wc -l); med=$(echo "$nums" | sed -n "$(( (cnt + 1) / 2 ))p")
        echo "| \`$name\` | $(echo "$nums" | head -1) / $med / $(echo "$nums" | tail -1) |${rest#*|}|"
      done
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "wrote $OUT"
