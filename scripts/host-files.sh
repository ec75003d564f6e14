#!/usr/bin/env bash
# Lists, relative to /, the host programs named as arguments, the shared libraries they
# load, and the top-level links of a merged-/usr system: enough for a small root filesystem.
set -euo pipefail
for link in bin sbin lib lib32 lib64 libx32; do
  [ -L "/$link" ] && echo "$link"
done
for name in "$@"; do
  program=$(command -v "$name") || { echo "host-files: $name not found" >&2; exit 1; }
  realpath "$program"
  ldd "$program" 2>/dev/null | grep -o '/[^ ]*' | xargs -r realpath
done | sort -u | sed 's#^/##'
