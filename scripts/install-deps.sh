#!/bin/sh
# Installs what berth needs at run time and what its tests use, on Debian.
set -eu
export DEBIAN_FRONTEND=noninteractive
need=""
for pkg in runc crun tini busybox-static curl iproute2 ca-certificates procps psmisc docker-registry; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
	apt-get update -qq || true
	apt-get install -y -qq $need
fi
# The stock docker CLI drives the end-to-end tests; Debian's docker.io
# ships one if the machine has none.
if ! command -v docker >/dev/null 2>&1; then
	apt-get install -y -qq docker.io
fi
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	echo "note: add /usr/local/go/bin to PATH" >&2
fi
# crun refuses hybrid cgroup hosts whose cgroup2 tree still holds a
# controller. On machines where hugetlb was left to cgroup2, give it its
# own v1 hierarchy, as hybrid distributions do.
u=/sys/fs/cgroup/unified
if [ -r $u/cgroup.controllers ] && grep -qw hugetlb $u/cgroup.controllers 2>/dev/null &&
	! mountpoint -q /sys/fs/cgroup/hugetlb 2>/dev/null; then
	mkdir -p /sys/fs/cgroup/hugetlb 2>/dev/null || mount -o remount,rw /sys/fs/cgroup
	mkdir -p /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb || true
fi
