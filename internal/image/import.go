package image

import (
	"context"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ImportOptions are the parameters of POST /images/create?fromSrc=.
type ImportOptions struct {
	Repo, Tag string   // tag the image repo:tag; no tag when Repo is ""
	Message   string   // comment of the image and its history entry
	Changes   []string // Dockerfile instructions applied to the config
	Platform  string   // "os[/arch[/variant]]"; "" means this host's
}

// importConfig is the config Docker writes for an imported image, field
// for field in the same order.
type importConfig struct {
	Architecture string                          `json:"architecture"`
	Comment      string                          `json:"comment,omitempty"`
	Config       dockerspec.DockerOCIImageConfig `json:"config"`
	Created      time.Time                       `json:"created"`
	History      []ocispec.History               `json:"history"`
	OS           string                          `json:"os"`
	RootFS       ocispec.RootFS                  `json:"rootfs"`
	Variant      string                          `json:"variant,omitempty"`
}

// Import makes a one-layer image from a filesystem tar (plain, gzip,
// zstd, bzip2 or xz) and returns its ID. The layer's diff ID is verified
// as it is unpacked; its blob is kept as given (bzip2 and xz
// decompressed). Invalid changes, platform or reference fail before the
// tar is read.
func (ar *Archiver) Import(ctx context.Context, src io.Reader, opts ImportOptions) (string, error) {
	refs, err := tagsFor(opts.Repo, opts.Tag)
	if err != nil {
		return "", err
	}
	platform, err := ParsePlatform(opts.Platform)
	if err != nil {
		return "", err
	}
	var cfg dockerspec.DockerOCIImageConfig
	if err := applyChanges(&cfg, opts.Changes); err != nil {
		return "", err
	}

	release := ar.layers.hold()
	defer release()

	w, err := ar.layers.blobs.Writer()
	if err != nil {
		return "", err
	}
	defer w.Close()
	key, diffID, mediaType, err := ar.layers.unpack(ctx, "", src, w)
	if err != nil {
		return "", err
	}
	if err := ar.layers.commit(ctx, diffID, key); err != nil {
		_ = ar.layers.sn.Remove(context.WithoutCancel(ctx), key)
		return "", err
	}
	blob := ocispec.Descriptor{MediaType: mediaType, Digest: w.Digest(), Size: w.Size()}
	if err := w.Commit(""); err != nil {
		return "", err
	}
	if err := ar.layers.sync(); err != nil {
		return "", err
	}

	created := time.Now().UTC()
	raw, err := json.Marshal(importConfig{
		Architecture: platform.Architecture,
		Comment:      opts.Message,
		Config:       cfg,
		Created:      created,
		History:      []ocispec.History{{Created: &created, Comment: opts.Message}},
		OS:           platform.OS,
		RootFS:       ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		Variant:      platform.Variant,
	})
	if err != nil {
		return "", err
	}
	im, err := ar.images.addImage(raw, []layerRecord{{DiffID: diffID, Blob: blob}}, "", refs, true)
	if err != nil {
		return "", err
	}
	id := im.rec.ID.String()
	for _, r := range refs {
		ar.images.publish(eventtypes.ActionTag, id, reference.FamiliarString(r), cfg.Labels)
	}
	ar.images.publish(eventtypes.ActionImport, id, id, cfg.Labels)
	return id, nil
}

// ParsePlatform reads "os[/arch[/variant]]" as Docker does, normalising
// common aliases (x86_64 → amd64, aarch64 → arm64). "" is this host. Only
// linux images can run here.
func ParsePlatform(s string) (ocispec.Platform, error) {
	p := ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if s == "" {
		return p, nil
	}
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || parts[0] == "" {
		return p, invalidf("%q: unknown operating system or architecture: invalid argument", s)
	}
	if parts[0] != "linux" {
		if len(parts) == 1 && normaliseArch(parts[0]) != "" {
			// "amd64" alone means this OS on that architecture.
			parts = []string{"linux", parts[0]}
		} else {
			return p, invalidf("operating system is not supported")
		}
	}
	if len(parts) >= 2 {
		arch := normaliseArch(parts[1])
		if arch == "" {
			return p, invalidf("%q: unknown operating system or architecture: invalid argument", s)
		}
		p.Architecture = arch
		p.Variant = ""
		if parts[1] == "armhf" {
			p.Variant = "v7"
		} else if parts[1] == "armel" {
			p.Variant = "v6"
		}
	}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	if p.Architecture == "arm64" && p.Variant == "v8" {
		p.Variant = ""
	}
	return p, nil
}

func normaliseArch(a string) string {
	switch a {
	case "amd64", "x86_64", "x86-64":
		return "amd64"
	case "arm64", "aarch64":
		return "arm64"
	case "arm", "armhf", "armel":
		return "arm"
	case "386", "i386", "x86":
		return "386"
	case "ppc64le", "s390x", "riscv64", "mips64le", "loong64":
		return a
	}
	return ""
}
