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

// distSources lists where the layer with diffID is known to be, newest
// first.
func (s *Service) distSources(diffID digest.Digest) []distSource {
	var out []distSource
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketDist).Get([]byte(diffID)); v != nil {
			_ = json.Unmarshal(v, &out)
		}
		return nil
	})
	return out
}

// addDistSources records sources of layers (by diff ID) in one
// transaction, moving known ones to the front.
func (s *Service) addDistSources(add map[digest.Digest][]distSource) error {
	if len(add) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
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
func (s *Service) knownLayer(diffID digest.Digest) (layerRecord, bool) {
	s.mu.RLock()
	for _, im := range s.images {
		for _, l := range im.rec.Layers {
			if l.DiffID == diffID {
				s.mu.RUnlock()
				return l, true
			}
		}
	}
	s.mu.RUnlock()
	for _, src := range s.distSources(diffID) {
		if size, err := s.layers.blobs.Info(src.Blob.Digest); err == nil && size == src.Blob.Size {
			return layerRecord{DiffID: diffID, Blob: storedDescriptor(src.Blob)}, true
		}
	}
	return layerRecord{}, false
}
