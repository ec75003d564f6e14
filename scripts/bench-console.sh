#!/usr/bin/env bash
# Console relay throughput: 256 MiB through contain's pty relay against util-linux
# `script -qc` doing the same on the host. Prints MiB/s and CPU seconds (user + system).
set -euo pipefail
cd "$(dirname "$0")/.."
bytes=268435456
root=$(bin/pseudo.js mktemp -d)
trap 'bin/pseudo.js rm -rf "$root"' EXIT
# The host's own head in the container, so both sides run the same writer.
# shellcheck disable=SC2046
tar -c -f - -C / $(bun scripts/host-files.ts head) 2>/dev/null | bin/pseudo.js tar -x -f - -C "$root"
head=$(command -v head)

measure() {
  local label=$1; shift
  for run in 1 2 3; do
    /usr/bin/time -f "%e %U %S" -o /tmp/bench-console.$$ "$@" </dev/null >/dev/null
    read -r elapsed user system </tmp/bench-console.$$
    awk -v l="$label" -v e="$elapsed" -v u="$user" -v s="$system" -v b="$bytes" \
      'BEGIN { printf "%-10s %7.1f MiB/s  %5.2f s CPU  (%.2f s)\n", l, b / 1048576 / e, u + s, e }'
  done
  rm -f /tmp/bench-console.$$
}

measure script script -qc "head -c $bytes /dev/zero" /dev/null
measure contain bin/contain.js -C "$root" "$head" -c "$bytes" /dev/zero
