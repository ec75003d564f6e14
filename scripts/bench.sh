#!/usr/bin/env bash
# Speed figures (never asserted in tests): start-to-exit of pseudo and contain against Bun's
# own start and util-linux unshare, and an ownership-heavy job against fakeroot.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
bun=$(command -v bun)
root=$(bin/pseudo.js mktemp -d)
trap 'bin/pseudo.js rm -rf "$root"' EXIT
bin/pseudo.js sh -c "mkdir $root/bin && cp /bin/busybox $root/bin/ && ln -s busybox $root/bin/true && ln -s busybox $root/bin/sh"

hyperfine -N --warmup 5 --runs ${RUNS:-50} \
  "$bun -e 0" \
  "unshare -U -r /bin/true" \
  "$bun bin/pseudo.js /bin/true" \
  "$bun bin/contain.js -c $root /bin/true"

if command -v fakeroot >/dev/null; then
  work=$(bin/pseudo.js mktemp -d -p /dev/shm)
  trap 'bin/pseudo.js rm -rf "$root" "$work"' EXIT
  # A distribution tarball (mmdebstrap --mode=unshare --variant=apt bookworm x.tar) if
  # given in BENCH_TARBALL, else a tree of many small files from the host stands in.
  tarball=${BENCH_TARBALL:-$work/tree.tar}
  [ -n "${BENCH_TARBALL:-}" ] || tar -c -f "$tarball" -C / usr/share/perl usr/lib/python3/dist-packages 2>/dev/null || true
  # Device nodes are left out: only real root makes them (fakeroot pretends to).
  job="rm -rf $work/x && mkdir $work/x && tar -x -f $tarball --exclude=./dev/* -C $work/x && chown -R 1:1 $work/x && tar -c -f /dev/null -C $work/x ."
  hyperfine --warmup 1 --runs ${JOB_RUNS:-5} \
    "fakeroot sh -c '$job'" \
    "$bun bin/pseudo.js sh -c '$job'"
fi
