// Package volume owns named and anonymous volumes: their metadata store
// under <data-root>/volumes (one directory per volume, <name>/_data for
// the data, as Docker lays it out), the containers that use each volume
// (so that an in-use volume is never removed or pruned), the mounts of
// volumes whose driver options name a filesystem (mounted while a
// container runs with them), and the copy of an image's content into a
// new volume (Populate), resolved inside the container's root. Drivers
// are registered by the daemon; package local is the built-in one.
package volume
