// Package local is the "local" volume driver: a volume is a directory,
// <root>/<name>/_data, or, with the options type, device and o, a
// filesystem mounted there on first use (tmpfs, a bind of a host path,
// a block device), as Docker's local driver does.
package local
