// Package image is the image service. Its parts, each with one job:
//
//   - Service, the image store: the images a daemon holds (their configs,
//     layers and repository references), lookups, list, inspect,
//     history, tag, remove, prune and disk usage.
//   - layerStore, under the store: the layer snapshots and blobs images
//     are made of, and the garbage collection of those nothing uses.
//   - Archiver: import, load and save (tar archives in and out).
//   - Distributor: pull, push, login, search and distribution inspect
//     (registries in and out; the protocol is in subpackage
//     distribution).
//   - RWLayers: the read-write layers of containers made from the images.
//
// The Archiver and the Distributor reach the store's records only
// through imageStore, and RWLayers through rwImages.
//
// Storage under Config.Root:
//
//	images.db   bbolt: image records, image configs, references, rw layers
//	content/    original layer blobs, by digest (package content)
//	overlay/    layer snapshots, keyed by chain ID (package layer/overlay)
//	rw/<id>/merged  where a container's rootfs is mounted
//
// An image becomes visible in one bbolt transaction, after its layers are
// committed snapshots and its blobs are in the content store; anything a
// crash leaves behind is unreferenced and removed by the garbage
// collection New runs.
//
// A pull downloads layer blobs into content-store ingest files and
// unpacks each from the bytes already received (see spool), layers in
// parallel: a layer whose parent is still on its way is unpacked into a
// snapshot of its own and moved onto the parent once that is committed.
// Snapshots are committed bottom up after their blob matched its digest
// and their content the config's diff ID. What a pull or push is
// creating is protected from garbage collection by protect rather than by
// holding the layer store for its whole run. images.db's "dist" bucket
// records which registry repositories hold which layer blobs, as
// Docker's v2 metadata does, for "Layer already exists" and
// cross-repository mounts.
//
// References are normalised as Docker does (github.com/distribution/reference):
// "busybox" is docker.io/library/busybox:latest, stored in that full form and
// shown in the familiar form "busybox:latest".
package image
