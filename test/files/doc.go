// Package files holds the end-to-end tests of a container's files (issue
// 5): docker cp in both directions through the archive endpoints, on
// running and stopped containers, with Docker's rules for trailing
// slashes, "/.", -a, -L and streams; the escape attempts (crafted
// symlinks, tars with ../ entries) that must leave the host untouched;
// diff, commit, export and import --change. The stock docker CLI and the
// berth CLI drive them; run them against Docker itself with
// E2E_TARGET=docker.
package files
