#!/usr/bin/env bash
# Prepares this machine for the tests: Debian packages and, as root, an unprivileged test
# user with delegated ID ranges. Safe to run again. As a user it only reports what is missing.
set -euo pipefail
TEST_USER=${CONTAIN_TEST_USER:-contain-test}
packages=(uidmap busybox-static mmdebstrap)

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

# A Debian root with systemd for the tests that boot one (test/cgroup.test.ts), made once
# and kept: later runs reuse it. Readable by the test user, who extracts it with pseudo.
cache=${CONTAIN_TEST_CACHE:-/var/cache/contain-test}
systemd_root="$cache/bookworm-systemd.tar"
if [ ! -f "$systemd_root" ]; then
  mkdir -p "$cache"
  echo "setup: building $systemd_root with mmdebstrap (once)" >&2
  if mmdebstrap --quiet --variant=apt --include=systemd-sysv,dbus bookworm "$cache/bookworm-systemd.new.tar" >&2; then
    mv "$cache/bookworm-systemd.new.tar" "$systemd_root"
  else
    rm -rf "$cache/bookworm-systemd.new.tar"
    echo "setup: mmdebstrap failed; the tests that boot systemd will say why they skip" >&2
  fi
fi
chmod 755 "$cache"
[ ! -e "$systemd_root" ] || chmod 644 "$systemd_root"
