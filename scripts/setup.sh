#!/usr/bin/env bash
# Prepares this machine for the tests: Debian packages and, as root, an unprivileged test
# user with delegated ID ranges, /dev/net/tun open to users (pasta needs it for a user's
# private network) and a Debian root for the network tests, built once per machine.
# Safe to run again. As a user it only reports what is missing.
set -euo pipefail
TEST_USER=${CONTAIN_TEST_USER:-contain-test}
packages=(uidmap busybox-static passt mmdebstrap)
# Where the network tests find a Debian root (mmdebstrap --variant=apt bookworm).
debian_root=${CONTAIN_DEBIAN_TARBALL:-/var/cache/contain-test/bookworm-apt.tar}

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

# A user's pasta opens /dev/net/tun, which Debian makes 0666; some hosts keep it 0600.
if [ -c /dev/net/tun ]; then
  chmod 0666 /dev/net/tun
fi

# Built once per machine; the tests extract it where they need it.
if [ ! -s "$debian_root" ]; then
  echo "setup: building $debian_root (mmdebstrap --variant=apt bookworm)" >&2
  mkdir -p "$(dirname "$debian_root")"
  mmdebstrap --quiet --mode=root --format=tar --variant=apt bookworm "$debian_root.new"
  chmod 0644 "$debian_root.new"
  mv "$debian_root.new" "$debian_root"
fi
