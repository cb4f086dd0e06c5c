#!/usr/bin/env bash
# run.sh: the benchmark suite. Brings up the integration environment, runs test/bench inside it
# as the unprivileged user (skerry against real podman and systemd, podman-compose measured in
# the same run), adds binary sizes and the pure benchmarks (go test -bench on the host), and
# writes BENCHMARKS.md at the repository's root. Needs root. Takes about 25 minutes.
#
#   bash test/bench/run.sh [-quick] [-only noop,cold,recovery,footprint,size,pure]
#
# -only checkcost and -only removecost run diagnostic sections, never part of the record: what
# one exec check costs the session by path (REST health check, plain REST exec, podman
# healthcheck run), and how long the removal of 100 running containers takes by path.
#
# With -only or -quick the tables go to stdout and BENCHMARKS.md is left alone (a partial or
# quick run is no record). Like test/itest/run.sh it holds /tmp/skerry-itest.lock for its
# whole run, so it never shares the environment with another user (callers queue).
set -euo pipefail
# One user of the environment at a time: concurrent callers queue on this lock.
if [ -z "${SKERRY_ITEST_LOCKED:-}" ]; then
  export SKERRY_ITEST_LOCKED=1
  exec flock /tmp/skerry-itest.lock bash "$0" "$@"
fi
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
ENV="$REPO/test/itest/env.sh"
TAGS="containers_image_openpgp exclude_graphdriver_btrfs remote"
OUT="$REPO/BENCHMARKS.md"
export CGO_ENABLED=0

# The sections test/bench runs, and the two this script adds (size, pure).
only="" partial="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -only) only="$2"; partial=1; shift 2 ;;
    -only=*) only="${1#-only=}"; partial=1; shift ;;
    -quick) partial=1; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
wants() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
inner=""
for s in noop cold recovery footprint checkcost removecost; do [[ $s == *cost ]] && [ -z "$only" ] && continue; wants $s && inner="${inner:+$inner,}$s"; done
for s in $(echo "$only" | tr , ' '); do
  case $s in noop|cold|recovery|footprint|checkcost|removecost|size|pure) ;; *) echo "bench: -only: unknown section $s"; exit 2 ;; esac
done

[ "$(id -u)" = 0 ] || { echo "bench: needs root (systemd-nspawn)"; exit 1; }

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
  echo "Written by \`bash test/bench/run.sh\` (as root) on $(date -u +%Y-%m-%d): do not edit by hand."
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB,"
  echo "kernel $(uname -r); inside the integration environment (Debian trixie under systemd-nspawn):"
  echo "podman $podman_version (rootless, pasta), podman-compose $compose_version, systemd $(bash "$ENV" run systemctl --version | head -1 | awk '{print $2}')."
  echo "Machines here are noisy: read the ratios, measured in the same run, before the absolute figures."
  echo
  [ -z "$inner" ] || bash "$ENV" run /share/bin/bench ${only:+-only "$inner"} "${args[@]}"
  if wants size; then
  echo "## 5. Binary size"
  echo
  echo "| binary | size |"
  echo "|---|---|"
  echo "| \`examples/simulate\` (fake runtime: no podman, no D-Bus) | $(du -h "$SHARE/bin/simulate" | cut -f1) |"
  echo "| \`examples/noded\` (podman bindings + go-systemd) | $(du -h "$SHARE/bin/noded" | cut -f1) |"
  echo
  fi
  if wants pure; then
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
  fi
} > "$OUT.tmp"
if [ -n "$partial" ]; then
  cat "$OUT.tmp"; rm "$OUT.tmp"
else
  mv "$OUT.tmp" "$OUT"
  echo "wrote $OUT"
fi
