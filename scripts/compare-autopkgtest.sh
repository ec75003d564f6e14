#!/usr/bin/env bash
# Runs autopkgtest on source packages (.dsc files, or unpacked trees ending in /) with autopkgtest-virt-contain and with
# autopkgtest-virt-unshare on the same root filesystem tarball, as the caller, and prints
# each summary. The two backends should give the same verdicts; tests that need
# isolation-container are skipped by unshare, which cannot offer it, and by ours on a root
# without systemd. Both take the same options (-t, -b, -p, ...) and neither needs a network one.
#   scripts/compare-autopkgtest.sh TARBALL OUTDIR PKG.dsc|SRCDIR/...
# autopkgtest-virt-contain must be on PATH (a link to bin/autopkgtest-virt-contain.js).
# AUTOPKGTEST_OPTIONS adds options, such as -B to test the archive's binaries unbuilt;
# BACKENDS sets the order (the first run of a package may fill a download cache).
set -uo pipefail
tarball=$1 out=$2
shift 2
for dsc in "$@"; do
  name=$(basename "$dsc" .dsc)
  for backend in ${BACKENDS:-contain unshare}; do
    case $backend in
      contain) server=(contain -t "$tarball") ;;
      unshare) server=(unshare -t "$tarball") ;;
    esac
    dir=$out/$name-$backend-$(id -un)
    rm -rf "$dir"
    start=$(date +%s)
    autopkgtest -q -U ${AUTOPKGTEST_OPTIONS:-} "$dsc" -o "$dir" -- "${server[@]}" >"$dir.log" 2>&1
    status=$?
    echo "== $name $backend as $(id -un): exit $status in $(($(date +%s) - start)) s"
    cat "$dir/summary" 2>/dev/null || tail -3 "$dir.log"
  done
done
