#!/usr/bin/env bash
# The README demo: build a small root filesystem from the host's own programs with pseudo,
# show what pseudo did to the owners, and start a container on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/bin
# Made by container root, so that it owns the directory (as host root it is an unprivileged
# host ID); the files in it belong to container IDs too, so pseudo removes them.
root=$("$bin/pseudo.js" mktemp -d "${TMPDIR:-/tmp}/contain-demo.XXXXXX")
trap '"$bin/pseudo.js" rm -rf "$root"' EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

say "tar -c -C / <host programs and their libraries> | pseudo tar -x -C $root"
files=$(bun scripts/host-files.ts sh ls cat id hostname ps mount)
# shellcheck disable=SC2086
tar -c -f - -C / $files 2>/dev/null | "$bin/pseudo.js" tar -x -f - -C "$root"

say "pseudo ls -ln $root/usr/bin    # as container root sees them"
"$bin/pseudo.js" ls -ln "$root/usr/bin" | head -4
say "ls -ln $root/usr/bin           # the same files on the host"
ls -ln "$root/usr/bin" | head -4
say "pseudo cat /proc/self/uid_map"
"$bin/pseudo.js" cat /proc/self/uid_map

if true; then
  say "contain -c $root /bin/sh -c 'echo \$\$; id; hostname brian; hostname; ps -e; ls /dev'"
  "$bin/contain.js" -c "$root" /bin/sh -c 'echo PID $$; id; hostname brian; hostname; ps -e; ls /dev'
  say "hostname    # unchanged on the host"
  hostname
fi
