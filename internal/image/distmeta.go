package image

import (
	"encoding/json"
	"slices"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"
)

// distSource says that a registry repository holds a blob of a layer, as
// Docker's v2 metadata service records it: a push checks these first
// ("Layer already exists") and mounts from them ("Mounted from …"), and a
// pull that finds a layer unpacked looks here for its blob.
type distSource struct {
	Blob       ocispec.Descriptor `json:"blob"`
	Registry   string             `json:"registry,omitempty"`   // reference domain: "localhost:5000", "docker.io"
	Repository string             `json:"repository,omitempty"` // path in the registry: "team/busybox"
}

// maxDistSources bounds what is kept per layer; the newest win.
const maxDistSources = 16

// layerSources is the record of distSources, in images.db's "dist"
// bucket, keyed by diff ID. Only the Distributor reads and writes it,
// within pulls and pushes (which the store waits for before it closes).
type layerSources struct{ db *bolt.DB }

// get lists where the layer with diffID is known to be, newest first.
func (ls layerSources) get(diffID digest.Digest) []distSource {
	var out []distSource
	_ = ls.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketDist).Get([]byte(diffID)); v != nil {
			_ = json.Unmarshal(v, &out)
		}
		return nil
	})
	return out
}

// add records sources of layers (by diff ID) in one transaction, moving
// known ones to the front.
func (ls layerSources) add(add map[digest.Digest][]distSource) error {
	if len(add) == 0 {
		return nil
	}
	return ls.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDist)
		for diffID, srcs := range add {
			var cur []distSource
			if v := b.Get([]byte(diffID)); v != nil {
				_ = json.Unmarshal(v, &cur)
			}
			for _, src := range srcs {
				cur = slices.DeleteFunc(cur, func(c distSource) bool {
					return c.Blob.Digest == src.Blob.Digest && c.Registry == src.Registry && c.Repository == src.Repository
				})
				cur = append([]distSource{src}, cur...)
			}
			if len(cur) > maxDistSources {
				cur = cur[:maxDistSources]
			}
			data, err := json.Marshal(cur)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(diffID), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// knownLayer finds a stored blob of the layer with diffID: one an image
// already records, else one a pull left in the content store (an earlier
// attempt that failed after the layer was done). ok is false when none
// is stored.
func (d *Distributor) knownLayer(diffID digest.Digest) (layerRecord, bool) {
	if l, ok := d.images.layerOf(diffID); ok {
		return l, true
	}
	for _, src := range d.sources.get(diffID) {
		if size, err := d.layers.blobs.Info(src.Blob.Digest); err == nil && size == src.Blob.Size {
			return layerRecord{DiffID: diffID, Blob: storedDescriptor(src.Blob)}, true
		}
	}
	return layerRecord{}, false
}
