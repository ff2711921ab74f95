// Package image is the image service: the images a daemon holds (their
// configs, layers and repository references), import, load and save, and
// the read-write layers of containers made from them.
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
// References are normalised as Docker does (github.com/distribution/reference):
// "busybox" is docker.io/library/busybox:latest, stored in that full form and
// shown in the familiar form "busybox:latest".
package image
