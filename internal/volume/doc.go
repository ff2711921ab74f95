// Package volume owns named and anonymous volumes: their metadata store
// under <data-root>/volumes (one directory per volume, <name>/_data for
// the data, as Docker lays it out), the containers that use each volume
// (so that an in-use volume is never removed or pruned), and the mounts
// of volumes whose driver options ask for one. Drivers are registered by
// the daemon; package local is the built-in one.
package volume
