package image

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Image is an image as the rest of the daemon sees it.
type Image struct {
	ID          string // "sha256:<64 hex>", the digest of the config
	Config      dockerspec.DockerOCIImage
	RepoTags    []string // familiar form: "busybox:latest"
	RepoDigests []string // familiar form: "busybox@sha256:..."

	// Beyond the contract:
	Comment       string    // the Docker config's "comment"
	DockerVersion string    // the Docker config's "docker_version"
	Parent        string    // local parent image ID (builder), "" if none
	Size          int64     // bytes of all layers, as Docker reports Size
	LastTagTime   time.Time // when a tag was last added locally
}

// configFile is an image config as Docker writes it: the OCI config plus
// the top-level fields Docker adds and shows in inspect.
type configFile struct {
	dockerspec.DockerOCIImage
	Comment       string `json:"comment,omitempty"`
	DockerVersion string `json:"docker_version,omitempty"`
}

func parseConfig(raw []byte) (*configFile, error) {
	var c configFile
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("invalid image config: %s: %w", err.Error(), errdefs.ErrInvalidArgument)
	}
	if c.RootFS.Type != "" && c.RootFS.Type != "layers" {
		return nil, fmt.Errorf("unsupported rootfs type %q: %w", c.RootFS.Type, errdefs.ErrInvalidArgument)
	}
	for _, d := range c.RootFS.DiffIDs {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("invalid diff ID %q: %w", d, errdefs.ErrInvalidArgument)
		}
	}
	if c.OS == "" {
		c.OS = "linux"
	}
	if c.OS != "linux" {
		return nil, fmt.Errorf("cannot load %s image on linux: %w", c.OS, errdefs.ErrInvalidArgument)
	}
	return &c, nil
}

// layerRecord ties a layer of an image to the blob it came from.
type layerRecord struct {
	DiffID digest.Digest      `json:"diffID"`
	Blob   ocispec.Descriptor `json:"blob"` // in the content store; MediaType says how it is compressed
}

// imageRecord is what images.db keeps per image besides the config.
type imageRecord struct {
	ID          digest.Digest `json:"id"`
	Layers      []layerRecord `json:"layers"`
	Parent      digest.Digest `json:"parent,omitempty"`
	LastTagTime time.Time     `json:"lastTagTime,omitzero"`
	Added       time.Time     `json:"added"`
}

// img is an image in memory: record, raw config and what is derived from
// them.
type img struct {
	rec    imageRecord
	raw    []byte
	config *configFile
	chain  []digest.Digest // chain ID of each layer, bottom first
}

func newImg(rec imageRecord, raw []byte) (*img, error) {
	cfg, err := parseConfig(raw)
	if err != nil {
		return nil, err
	}
	if len(cfg.RootFS.DiffIDs) != len(rec.Layers) {
		return nil, fmt.Errorf("image %s: %d layers recorded, config has %d: %w", rec.ID, len(rec.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrDataLoss)
	}
	return &img{rec: rec, raw: raw, config: cfg, chain: chainIDs(cfg.RootFS.DiffIDs)}, nil
}

// top is the chain ID of the top layer: the parent snapshot of a
// container made from the image; "" for an image without layers.
func (i *img) top() string {
	if len(i.chain) == 0 {
		return ""
	}
	return i.chain[len(i.chain)-1].String()
}

func (i *img) created() time.Time {
	if i.config.Created == nil {
		return time.Time{}
	}
	return *i.config.Created
}

func chainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	copy(out, diffIDs)
	return identity.ChainIDs(out)
}

// shortID is the 12-character form Docker prints.
func shortID(id string) string {
	if d, err := digest.Parse(id); err == nil {
		id = d.Encoded()
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
