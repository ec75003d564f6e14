#!/usr/bin/env bash
# Prepares this machine for the tests: Debian packages and, as root, an unprivileged test
# user with delegated ID ranges, /dev/net/tun open to users (pasta needs it for a user's
# private network) and a Debian root for the network tests, built once per machine.
# Safe to run again. As a user it only reports what is missing.
set -euo pipefail
TEST_USER=${CONTAIN_TEST_USER:-contain-test}
packages=(uidmap busybox-static passt mmdebstrap autopkgtest)

if [ "$(id -u)" -ne 0 ]; then
  for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || echo "setup: package $package is not installed; some tests will say why they skip" >&2
  done
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! id "$TEST_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$TEST_USER"
fi
for file in /etc/subuid /etc/subgid; do
  touch "$file"
  grep -q "^$TEST_USER:" "$file" || echo "$TEST_USER:200000:65536" >>"$file"
done

# autopkgtest-virt-unshare, which test/autopkgtest.test.ts compares ours with, maps a
# subordinate range as root too (unshare --map-auto). util-linux 2.38's unshare takes the
# file's first range whoever runs it, so root gets the test user's own: both can then run
# it. contain as root reads no range.
for file in /etc/subuid /etc/subgid; do
  range=$(grep -m1 "^$TEST_USER:" "$file" | cut -d: -f2-)
  grep -q "^root:" "$file" || echo "root:$range" >>"$file"
done

# A user's pasta opens /dev/net/tun, which Debian makes 0666; some hosts keep it 0600.
if [ -c /dev/net/tun ]; then
  chmod 0666 /dev/net/tun
fi

# Debian roots for the tests that need one, built once per machine and kept: later runs
# reuse them. Readable by the test user, who extracts them with pseudo. A plain one for the
# network tests, and one with systemd for those that boot it (test/cgroup.test.ts).
cache=${CONTAIN_TEST_CACHE:-/var/cache/contain-test}
mkdir -p "$cache"
chmod 755 "$cache"
build_root() { # TARBALL [MMDEBSTRAP OPTION]...
  local tarball=$1
  shift
  if [ ! -s "$tarball" ]; then
    echo "setup: building $tarball with mmdebstrap (once)" >&2
    if mmdebstrap --quiet --mode=root --format=tar --variant=apt "$@" bookworm "$tarball.new" >&2; then
      mv "$tarball.new" "$tarball"
    else
      rm -rf "$tarball.new"
      echo "setup: mmdebstrap failed; the tests that need $tarball will say why they cannot run" >&2
    fi
  fi
  [ ! -e "$tarball" ] || chmod 644 "$tarball"
}
build_root "${CONTAIN_DEBIAN_TARBALL:-$cache/bookworm-apt.tar}"
build_root "$cache/bookworm-systemd.tar" --include=systemd-sysv,dbus
