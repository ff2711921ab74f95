// Package busyboxtest builds the busybox root filesystem that berth's
// tests use as their image, with no internet: Debian's static busybox
// (busybox-static), a symlink per applet at the path `busybox
// --list-full` gives it (what `busybox --install -s` makes inside an
// image), and a minimal /etc. The same tree comes as a tar (for imports
// and layers) or written into a directory (a rootfs for runc and crun).
//
// It is for tests only; no engine package imports it.
package busyboxtest
