package image

import (
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
)

// imageStore is what the transfers (Distributor, Archiver) need of the
// image records; they bring layers in and out through the layer store
// themselves. The interface is the boundary: the transfers share a
// package with Service, and this keeps them off its maps and locks.
type imageStore interface {
	// lookup finds an image as Get does (reference, ID or ID prefix).
	lookup(refOrID string) (*img, error)
	// tagsOf lists what a push of ref sends: ref if it is a tag the
	// store has, else every tag of its repository.
	tagsOf(ref reference.Named) []reference.NamedTagged
	// resolveSave turns the names of a save request into images and the
	// tags to save them under.
	resolveSave(names []string) ([]*saveImage, error)
	// layerOf finds the record of the layer with diffID in some image.
	layerOf(diffID digest.Digest) (layerRecord, bool)
	// knownBlobDiffID is the diff ID an image verified for a blob.
	knownBlobDiffID(blob digest.Digest) digest.Digest
	// addImage records an image whose layers and blobs are stored.
	addImage(raw []byte, layers []layerRecord, parent digest.Digest, refs []reference.NamedTagged, touchTag bool) (*img, error)
	// recordPull points a pulled reference and its repo@digest at id.
	recordPull(ref reference.Named, id, manifestDigest digest.Digest) (bool, error)
	// recordPush records repo@digest of a pushed image.
	recordPush(canonical reference.Canonical, id digest.Digest) error
	// publish sends an image event.
	publish(action eventtypes.Action, id, name string, labels map[string]string)
}
