// Package overlay is the overlayfs Snapshotter: every snapshot is a
// directory snapshots/<n>/fs (plus work/ for overlay's own use); an active
// snapshot's mounts stack its parents' fs directories as lowerdirs under its
// own fs as upperdir. Metadata (key → id, kind, parent, labels, cached
// size) lives in a bbolt file beside them and is mirrored in memory, so
// lookups never touch the disk.
package overlay
