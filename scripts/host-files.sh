#!/usr/bin/env bash
# Lists, relative to /, the host programs named as arguments, the shared libraries they
# load, and the top-level links of a merged-/usr system: enough for a small root filesystem.
# Each file comes by the name it is used by (sh, not only dash) and by what it points to.
set -euo pipefail
name_and_target() {
  echo "$(realpath "$(dirname "$1")")/$(basename "$1")"
  realpath "$1"
}
for link in bin sbin lib lib32 lib64 libx32; do
  [ -L "/$link" ] && echo "/$link"
done
for name in "$@"; do
  program=$(command -v "$name") || { echo "host-files: $name not found" >&2; exit 1; }
  name_and_target "$program"
  for library in $(ldd "$program" 2>/dev/null | grep -o '/[^ ]* (0x' | cut -d' ' -f1); do
    name_and_target "$library"
  done
done | sort -u | sed 's#^/##'
