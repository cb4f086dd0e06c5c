#!/bin/bash
# env.sh: skerry's integration environment. A Debian trixie OS container (systemd 257 as PID 1,
# Podman 5.4.2 with Quadlet, a lingering user "app" with a user manager and a rootless podman
# socket) booted with systemd-nspawn, because the CI machines' PID 1 is not systemd and their
# cgroups are v1-hybrid. Needs root.
#
#   env.sh build   host tools + rootfs (restored from the cached tarball when present)
#   env.sh up      boot; wait for the system manager, user@1000 and the rootless podman socket
#   env.sh run CMD run CMD inside the container as user app (uid 1000), with XDG_RUNTIME_DIR
#                  and DBUS_SESSION_BUS_ADDRESS set: what a node daemon sees in production
#   env.sh root CMD run CMD inside the container as root
#   env.sh down    power off and clean up the cgroups nspawn created
#
# State lives in $SKERRY_ITEST_BASE (default: <repo>/.cache/itest, git-ignored): rootfs, its
# cached tarball (~210 MB), and share/ (bind-mounted at /share inside).
# Pitfalls met on this kind of machine are explained below, where their fix is applied.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BASE=${SKERRY_ITEST_BASE:-$REPO/.cache/itest}
R=$BASE/rootfs
SHARE=$BASE/share
CACHE=$BASE/rootfs-cache.tar.zst
MACHINE=${SKERRY_ITEST_MACHINE:-skerry-itest}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
APPUID=1000
# The rootfs version: bump it when INCLUDE or configure_rootfs changes, so a stale cache is rebuilt.
ROOTFS_VERSION=2
INCLUDE=systemd,systemd-sysv,systemd-container,dbus,dbus-user-session,libpam-systemd,libnss-systemd,podman,crun,conmon,uidmap,passt,netavark,aardvark-dns,catatonit,busybox-static,curl,ca-certificates,iproute2,nftables,procps,podman-compose

log() { echo "== $(date +%T) [itest ${SECONDS}s] $*" >&2; }
die() { echo "itest: $*" >&2; exit 1; }

nspawn_pid() { pgrep -f "^systemd-nspawn -D $R " || true; }
leader_pid() { local np; np=$(nspawn_pid); [ -n "$np" ] && pgrep -P "$np" -x systemd; }

in_root() { local L; L=$(leader_pid) || die "environment is not up"; nsenter -t "$L" -a "$@"; }
in_user() {
  local L; L=$(leader_pid) || die "environment is not up"
  nsenter -t "$L" -a setpriv --reuid=$APPUID --regid=$APPUID --init-groups \
    env -i HOME=/home/app USER=app LOGNAME=app PATH=/usr/local/bin:/usr/bin:/bin \
        XDG_RUNTIME_DIR=/run/user/$APPUID DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$APPUID/bus \
        ${SKERRY_ITEST_PASSENV:-} \
    bash -c 'cd ~ && exec "$@"' _ "$@"
}

host_tools() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
  command -v zstd >/dev/null || need+=(zstd)
  [ ${#need[@]} -eq 0 ] && return
  log "host: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
}

configure_rootfs() {
  log "configure rootfs"
  echo "$MACHINE" > $R/etc/hostname
  printf '127.0.0.1 localhost %s\n::1 localhost\n' "$MACHINE" > $R/etc/hosts
  : > $R/etc/machine-id
  chroot $R useradd -m -u $APPUID -s /bin/bash app
  grep -q '^app:' $R/etc/subuid || echo "app:100000:65536" >> $R/etc/subuid
  grep -q '^app:' $R/etc/subgid || echo "app:100000:65536" >> $R/etc/subgid
  mkdir -p $R/var/lib/systemd/linger && touch $R/var/lib/systemd/linger/app   # loginctl enable-linger app
  local q="env SYSTEMD_LOG_LEVEL=err"
  chroot $R $q systemctl enable podman.socket
  chroot $R $q systemctl --global enable podman.socket
  chroot $R $q systemctl set-default multi-user.target
  chroot $R $q systemctl mask console-getty.service getty@tty1.service systemd-timesyncd.service \
      apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer
  # Nothing pulls in network-online.target, so rootless Quadlet units would wait 90 s in
  # podman-user-wait-network-online.service. Pull it in (no wait-online service: reached at once).
  chroot $R $q systemctl add-wants multi-user.target network-online.target
  # cgroup2 inside has no controllers (they stay on the host's v1 hierarchies): podman's default
  # pids limit makes crun fail ("controller `pids` is not available").
  mkdir -p $R/etc/containers/containers.conf.d
  printf '[containers]\npids_limit = 0\n' > $R/etc/containers/containers.conf.d/50-itest.conf
  # The host's /dev/net/tun is 0600 (no udev) and nspawn copies the mode: rootless pasta fails.
  echo 'z /dev/net/tun 0666 - - -' > $R/etc/tmpfiles.d/itest-tun.conf
  # The test image (no registry is reachable): busybox with every applet and a web root.
  local I=$BASE/bbimg; rm -rf $I; mkdir -p $I/bin $I/etc $I/tmp $I/www
  cp $R/bin/busybox $I/bin/busybox
  for a in $($I/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox $I/bin/$a; done
  echo 'root:x:0:0:root:/:/bin/sh' > $I/etc/passwd; echo 'root:x:0:' > $I/etc/group
  echo hello-from-busybox > $I/www/index.html
  tar -C $I -cf $R/root/busybox.tar .
  echo $ROOTFS_VERSION > $R/etc/skerry-itest-version
}

build() {
  host_tools
  mkdir -p $BASE $SHARE
  if [ -d $R ] && [ "$(cat $R/etc/skerry-itest-version 2>/dev/null)" = $ROOTFS_VERSION ]; then
    log "rootfs ready: $R"; return
  fi
  [ -z "$(nspawn_pid)" ] || die "a stale environment is running; run: $0 down"
  rm -rf $R
  if [ -f "$CACHE" ]; then
    log "restore rootfs from $CACHE"
    mkdir -p $R; tar --zstd -xpf "$CACHE" --numeric-owner --xattrs --xattrs-include='*' -C $R
    if [ "$(cat $R/etc/skerry-itest-version 2>/dev/null)" = $ROOTFS_VERSION ]; then log "restored"; return; fi
    log "cache is stale; rebuilding"; rm -rf $R "$CACHE"
  fi
  log "debootstrap trixie (45-90 s)"
  debootstrap --variant=minbase --include=$INCLUDE trixie $R.tmp $MIRROR > $BASE/debootstrap.log 2>&1 \
    || { tail -30 $BASE/debootstrap.log; die "debootstrap failed (log: $BASE/debootstrap.log)"; }
  mv $R.tmp $R
  configure_rootfs
  up
  log "import the busybox test image (rootless)"
  in_user podman import -q /root/busybox.tar localhost/busybox:latest >/dev/null 2>&1 \
    || { in_root cp /root/busybox.tar /home/app/busybox.tar; in_root chown app /home/app/busybox.tar
         in_user podman import -q /home/app/busybox.tar localhost/busybox:latest >/dev/null; }
  down
  log "write cache $CACHE"
  tar --zstd -cpf "$CACHE.tmp" --numeric-owner --xattrs --xattrs-include='*' -C $R .
  mv "$CACHE.tmp" "$CACHE"
  log "cache written ($(du -h "$CACHE" | cut -f1))"
}

up() {
  [ -z "$(nspawn_pid)" ] || { log "already up"; return; }
  [ -d $R ] || die "no rootfs: run $0 build"
  mkdir -p $SHARE
  log "boot $MACHINE"
  # nspawn runs from a private sub-cgroup: in hybrid mode it derives its cgroup from the cgroup2
  # hierarchy and would otherwise create payload/ and supervisor/ at the cgroup2 root.
  # The machine must not inherit the environment's lock (run.sh's flock): a caller killed while
  # the machine runs would leave the lock held by nspawn, and every other caller queued forever.
  SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 setsid bash -c '
    for fd in /proc/$$/fd/*; do
      [ "$(readlink $fd)" = /tmp/skerry-itest.lock ] && eval "exec ${fd##*/}>&-"
    done
    for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
      [ -d $h ] || continue; mkdir -p $h/'$MACHINE'; echo $$ > $h/'$MACHINE'/cgroup.procs; done
    exec systemd-nspawn -D '$R' -b -M '$MACHINE' --register=no --keep-unit \
      --private-network --console=passive \
      --system-call-filter="@keyring bpf" \
      --bind='$SHARE':/share' > $BASE/nspawn.log 2>&1 < /dev/null &
  local L="" i
  for i in $(seq 300); do L=$(leader_pid) && break; sleep 0.1; done
  [ -n "$L" ] || { cat $BASE/nspawn.log; die "nspawn did not start"; }
  for i in $(seq 300); do [ -S /proc/$L/root/run/systemd/private ] && break; sleep 0.1; done
  nsenter -t $L -a systemctl is-system-running --wait >/dev/null || in_root systemctl --failed --no-pager || true
  for i in $(seq 300); do
    [ -S /proc/$L/root/run/user/$APPUID/bus ] && [ -S /proc/$L/root/run/user/$APPUID/podman/podman.sock ] && break
    sleep 0.1
  done
  [ -S /proc/$L/root/run/user/$APPUID/bus ] || { cat $BASE/nspawn.log | tail -30; die "user manager of uid $APPUID did not come up"; }
  in_root chmod 1777 /share
  log "up: leader pid $L, system $(in_root systemctl is-system-running || true), user@$APPUID $(in_root systemctl is-active user@$APPUID.service)"
}

down() {
  local L; L=$(leader_pid || true)
  if [ -n "$L" ]; then log "poweroff"; nsenter -t $L -a systemctl poweroff || true; fi
  local i; for i in $(seq 300); do [ -z "$(nspawn_pid)" ] && break; sleep 0.1; done
  [ -z "$(nspawn_pid)" ] || { log "nspawn still running: SIGKILL"; kill -9 $(nspawn_pid); sleep 1; }
  for h in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
    [ -d $h/$MACHINE ] && find $h/$MACHINE -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rmdir /run/systemd/nspawn/propagate/$MACHINE 2>/dev/null || true
  log "down"
}

cmd=${1:-}; shift || true
case "$cmd" in
  build) build ;;
  up) up ;;
  down) down ;;
  run) in_user "$@" ;;
  root) in_root "$@" ;;
  share) echo "$SHARE" ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac
