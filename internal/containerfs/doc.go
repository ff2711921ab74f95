// Package containerfs opens a container's filesystem the way its
// processes see it, for docker cp: stat a path, tar a path, extract a tar
// into a directory.
//
// A View lives on an OS thread of its own, with its own root directory
// and mount namespace: the container's root is the thread's "/", so every
// path, "..", absolute symlink and symlink chain resolves inside the
// container as the kernel resolves it for the container, and nothing the
// container's filesystem holds can lead to the host's. A running
// container is viewed through a private copy of its mount namespace
// (volumes, binds and tmpfs included; procfs and sysfs left out, since
// their magic links lead elsewhere); a stopped one through its root
// filesystem and binds mounted in a private namespace that vanishes with
// the thread, so nothing is left mounted on the host, even after a crash.
package containerfs
