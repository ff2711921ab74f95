#!/bin/sh
# Writes a tar of a minimal busybox root filesystem to stdout: the static
# busybox from Debian's busybox-static, its applet links and a small /etc.
# It is the test image, made with no internet.
set -eu
bb=${BUSYBOX:-/bin/busybox}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/tmp" "$root/var/www" "$root/home"
cp "$bb" "$root/bin/busybox"
# Links point at /bin/busybox inside the image, not at this temp dir.
for applet in $("$bb" --list); do
	[ -e "$root/bin/$applet" ] || ln -s /bin/busybox "$root/bin/$applet"
done
chmod 1777 "$root/tmp"
cat >"$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat >"$root/etc/group" <<'G'
root:x:0:
daemon:x:1:
tty:x:5:
www-data:x:33:
nogroup:x:65534:
G
echo 'hello from berth' >"$root/var/www/index.html"
tar -C "$root" --numeric-owner --owner=0 --group=0 -c .
