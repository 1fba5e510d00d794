#!/usr/bin/env bash
# Make this Debian 12 machine ready to run vmim and its tests: Debian packages,
# the project in .venv, libvirtd and virtlogd running, the tiny test guest built.
# Every step checks first and does only what is missing, so it is cheap to repeat.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
    echo "setup: must run as root (installs packages, starts libvirtd, uses loop devices)" >&2
    exit 2
fi

packages=(
    libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
    qemu-utils libvirt-dev pkg-config gcc rsync tar zstd pigz gzip bzip2 cpio
    busybox-static fdisk mount util-linux e2fsprogs xfsprogs btrfs-progs attr acl
    libxml2-utils qemu-system-common procps
)
python=${PYTHON:-python3}
if ! "$python" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    python=/usr/bin/python3
    packages+=(python3 python3-venv python3-dev)
fi
if ! "$python" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
    packages+=(python3-dev)
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $python"
    "$python" -m venv .venv
fi
say "installing vmim and its test dependencies into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# Without udev /dev/kvm stays root-only; libvirt then finds KVM usable when it
# probes QEMU but not for its qemu user, throws its capability cache away at
# every call and re-probes QEMU for ~40 s. Debian's udev rule makes it root:kvm 0660.
if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm && chmod 660 /dev/kvm
fi

pgrep -x virtlogd >/dev/null || { say "starting virtlogd"; virtlogd -d; }
if ! pgrep -x libvirtd >/dev/null; then
    say "starting libvirtd"
    libvirtd -d
fi
for _ in $(seq 1 100); do
    virsh -c qemu:///system version >/dev/null 2>&1 && break
    sleep 0.1
done
virsh -c qemu:///system version >/dev/null

.venv/bin/python -m vmim.testbed build
