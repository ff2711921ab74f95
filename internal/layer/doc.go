// Package layer owns the filesystem side of images and containers: the
// Snapshotter interface (prepare → apply → commit → mount → remove), the
// mount helpers that turn a snapshot's mounts into a mounted directory, and
// Apply/Diff, which move layer tars in and out of a snapshot with whiteouts
// in the form the snapshotter stores them. Unpack, Apply's tar writer, is
// docker cp's too (internal/containerfs), and Resolve resolves paths under
// a thread's root for both.
//
// Implementations live in sub-packages (overlay/); layertest holds the
// suite every implementation must pass.
package layer
