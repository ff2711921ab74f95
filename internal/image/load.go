package image

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"

	"github.com/berth-dev/berth/internal/ctxio"
	"github.com/berth-dev/berth/internal/image/content"
	"github.com/berth-dev/berth/internal/layer"
	"github.com/distribution/reference"
	"github.com/moby/go-archive/compression"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	manifestFileName = "manifest.json"
	legacyReposName  = "repositories"
	// maxMetadataSize bounds the JSON files of an archive read into memory.
	maxMetadataSize = 32 << 20

	annotationImageName = "io.containerd.image.name"
	mediaTypeDockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// manifestItem is one image in a docker-archive manifest.json.
type manifestItem struct {
	Config   string
	RepoTags []string
	Layers   []string
	Parent   digest.Digest                        `json:",omitempty"`
	Sources  map[digest.Digest]ocispec.Descriptor `json:"LayerSources,omitempty"`
}

// archiveFiles is an image archive spooled to disk: every regular file
// became a content-store ingest, hashed on the way in, so that layer
// blobs can be moved into the store without a second copy.
type archiveFiles struct {
	files     map[string]*content.Writer
	links     map[string]string // symlinks and hard links: name → target name
	committed map[string]bool
}

func (a *archiveFiles) close() {
	for name, w := range a.files {
		if !a.committed[name] {
			w.Close()
		}
	}
}

// spool reads the whole archive. Names are cleaned; any that would leave
// the archive root is an error.
func (ar *Archiver) spool(ctx context.Context, r io.Reader) (*archiveFiles, error) {
	a := &archiveFiles{files: map[string]*content.Writer{}, links: map[string]string{}, committed: map[string]bool{}}
	// docker load takes compressed archives too (docker save | gzip).
	archive, _, _, err := decompressed(bufio.NewReaderSize(ctxio.NewReader(ctx, r), 1<<20))
	if err != nil {
		return nil, err
	}
	defer archive.Close()
	tr := tar.NewReader(archive)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			a.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, invalidf("invalid image archive: %v", err)
		}
		name, err := archivePath(".", h.Name)
		if err != nil {
			a.close()
			return nil, err
		}
		switch h.Typeflag {
		case tar.TypeReg:
			w, err := ar.layers.blobs.Writer()
			if err != nil {
				a.close()
				return nil, err
			}
			if old := a.files[name]; old != nil {
				old.Close()
			}
			a.files[name] = w
			if _, err := io.Copy(w, tr); err != nil {
				a.close()
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				if layer.IsDiskError(err) {
					return nil, err
				}
				return nil, invalidf("invalid image archive: %v", err)
			}
		case tar.TypeSymlink:
			target, err := archivePath(path.Dir(name), h.Linkname)
			if err != nil {
				a.close()
				return nil, err
			}
			a.links[name] = target
		case tar.TypeLink:
			target, err := archivePath(".", h.Linkname)
			if err != nil {
				a.close()
				return nil, err
			}
			a.links[name] = target
		}
	}
	return a, nil
}

// archivePath resolves name (relative to dir, or to the root when
// absolute) to a clean path inside the archive.
func archivePath(dir, name string) (string, error) {
	var p string
	if strings.HasPrefix(name, "/") {
		p = path.Clean(strings.TrimLeft(name, "/"))
	} else {
		p = path.Clean(path.Join(dir, name))
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", invalidf("invalid image archive: path %q escapes the archive", name)
	}
	return p, nil
}

// file finds a file of the archive, following links.
func (a *archiveFiles) file(name string) (string, *content.Writer, error) {
	p, err := archivePath(".", name)
	if err != nil {
		return "", nil, err
	}
	for hops := 0; hops < 16; hops++ {
		if w, ok := a.files[p]; ok {
			return p, w, nil
		}
		target, ok := a.links[p]
		if !ok {
			break
		}
		p = target
	}
	return "", nil, invalidf("invalid image archive: %s: no such file", name)
}

func (a *archiveFiles) has(name string) bool {
	_, _, err := a.file(name)
	return err == nil
}

func (a *archiveFiles) readJSON(name string, v any) ([]byte, error) {
	_, w, err := a.file(name)
	if err != nil {
		return nil, err
	}
	if w.Size() > maxMetadataSize {
		return nil, invalidf("invalid image archive: %s is too large", name)
	}
	data, err := os.ReadFile(w.Path())
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return nil, invalidf("invalid image archive: %s: %v", name, err)
		}
	}
	return data, nil
}

// loadImage is one image to load from an archive, whatever its format.
type loadImage struct {
	config []byte
	layers []loadLayer
	refs   []reference.NamedTagged
}

type loadLayer struct {
	file     string             // archive path of the blob
	expected ocispec.Descriptor // digest is checked when set (OCI layouts)
}

// Load loads the images of a docker save archive (manifest.json, the
// format of Docker before 25) or an OCI image layout (index.json), as
// `docker load` does. Progress gets a "Loading layer" bar per new layer
// unless quiet, and the "Loaded image: busybox:latest" lines.
func (ar *Archiver) Load(ctx context.Context, r io.Reader, quiet bool, p Progress) error {
	p = orNop(p)
	bars := p
	if quiet {
		bars = nopProgress{}
	}
	a, err := ar.spool(ctx, r)
	if err != nil {
		return err
	}
	defer a.close()

	var images []loadImage
	switch {
	case a.has(manifestFileName):
		images, err = a.dockerImages()
	case a.has(ocispec.ImageIndexFile):
		images, err = a.ociImages()
	default:
		err = invalidf("invalid image archive: no %s or %s found (legacy v1 archives are not supported)", manifestFileName, ocispec.ImageIndexFile)
	}
	if err != nil {
		return err
	}

	release := ar.layers.hold()
	defer release()
	var idLines string
	tagged := 0
	for _, li := range images {
		prev := map[string]digest.Digest{}
		for _, ref := range li.refs {
			if im, err := ar.images.lookup(ref.String()); err == nil {
				prev[ref.String()] = im.rec.ID
			}
		}
		im, err := ar.loadOne(ctx, a, li, bars)
		if err != nil {
			return err
		}
		id := im.rec.ID.String()
		idLines += fmt.Sprintf("Loaded image ID: %s\n", id)
		tagged = 0
		for _, ref := range li.refs {
			if old, ok := prev[ref.String()]; ok && old != im.rec.ID {
				// Docker's wording, which scripts match on.
				p.Stream(fmt.Sprintf("The image %s already exists, renaming the old one with ID %s to empty string\n", reference.FamiliarString(ref), old))
			}
			p.Stream(fmt.Sprintf("Loaded image: %s\n", reference.FamiliarString(ref)))
			ar.images.publish(eventtypes.ActionTag, id, reference.FamiliarString(ref), im.config.Config.Labels)
			tagged++
		}
		ar.images.publish(eventtypes.ActionLoad, id, id, im.config.Config.Labels)
	}
	// Docker lists the IDs only when the last image had no tag.
	if tagged == 0 && idLines != "" {
		p.Stream(idLines)
	}
	return nil
}

// loadOne unpacks the layers of one image that are not stored yet, moves
// their blobs into the content store and records the image.
func (ar *Archiver) loadOne(ctx context.Context, a *archiveFiles, li loadImage, p Progress) (*img, error) {
	cfg, err := parseConfig(li.config)
	if err != nil {
		return nil, err
	}
	if cfg.OS != "linux" {
		return nil, invalidf("cannot load %s image on %s", cfg.OS, runtime.GOOS)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(li.layers) != len(diffIDs) {
		return nil, invalidf("invalid manifest, layers length mismatch: expected %d, got %d", len(li.layers), len(diffIDs))
	}
	chain := chainIDs(diffIDs)
	records := make([]layerRecord, len(diffIDs))
	parent := ""
	for i, l := range li.layers {
		name, w, err := a.file(l.file)
		if err != nil {
			return nil, err
		}
		blobDigest := w.Digest()
		if l.expected.Digest != "" && l.expected.Digest != blobDigest {
			return nil, invalidf("invalid image archive: %s: digest mismatch: expected %s, got %s", l.file, l.expected.Digest, blobDigest)
		}
		mediaType, err := blobMediaType(w.Path())
		if err != nil {
			return nil, err
		}
		if ar.layers.has(ctx, chain[i]) {
			// Already unpacked: only check that this blob really is that
			// layer before keeping it.
			if ar.images.knownBlobDiffID(blobDigest) != diffIDs[i] {
				f, err := os.Open(w.Path())
				if err != nil {
					return nil, err
				}
				got, _, err := diffIDOf(ctx, f)
				f.Close()
				if err != nil {
					return nil, err
				}
				if got != diffIDs[i] {
					return nil, invalidf("invalid diffID for layer %d: expected %q, got %q", i, diffIDs[i], got)
				}
			}
		} else {
			f, err := os.Open(w.Path())
			if err != nil {
				return nil, err
			}
			rd := NewProgressReader(f, p, w.Size(), shortID(diffIDs[i].String()), "Loading layer")
			key, got, _, err := ar.layers.unpack(ctx, parent, rd, nil)
			f.Close()
			if err != nil {
				return nil, err
			}
			if got != diffIDs[i] {
				_ = ar.layers.sn.Remove(context.WithoutCancel(ctx), key)
				return nil, invalidf("invalid diffID for layer %d: expected %q, got %q", i, diffIDs[i], got)
			}
			if err := ar.layers.commit(ctx, chain[i], key); err != nil {
				_ = ar.layers.sn.Remove(context.WithoutCancel(ctx), key)
				return nil, err
			}
		}
		if !a.committed[name] {
			if err := w.Commit(""); err != nil {
				return nil, err
			}
			a.committed[name] = true
		}
		records[i] = layerRecord{DiffID: diffIDs[i], Blob: ocispec.Descriptor{MediaType: mediaType, Digest: blobDigest, Size: w.Size()}}
		parent = chain[i].String()
	}
	if err := ar.layers.sync(); err != nil {
		return nil, err
	}
	return ar.images.addImage(li.config, records, "", li.refs, false)
}

// blobMediaType tells how a layer blob is compressed.
func blobMediaType(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 10)
	n, _ := io.ReadFull(bufio.NewReader(f), head)
	switch compression.Detect(head[:n]) {
	case compression.Gzip:
		return ocispec.MediaTypeImageLayerGzip, nil
	case compression.Zstd:
		return ocispec.MediaTypeImageLayerZstd, nil
	case compression.None:
		return ocispec.MediaTypeImageLayer, nil
	}
	return "", invalidf("unsupported layer compression (only plain, gzip and zstd layers can be loaded)")
}

// dockerImages reads a docker-archive manifest.json.
func (a *archiveFiles) dockerImages() ([]loadImage, error) {
	var manifest []manifestItem
	if _, err := a.readJSON(manifestFileName, &manifest); err != nil {
		return nil, err
	}
	if manifest == nil {
		return nil, invalidf("invalid manifest, manifest cannot be null (but can be [])")
	}
	var out []loadImage
	for _, m := range manifest {
		config, err := a.readJSON(m.Config, nil)
		if err != nil {
			return nil, err
		}
		li := loadImage{config: config}
		for _, l := range m.Layers {
			li.layers = append(li.layers, loadLayer{file: l})
		}
		for _, t := range m.RepoTags {
			named, err := reference.ParseNormalizedNamed(t)
			if err != nil {
				return nil, invalidf("%s", err.Error())
			}
			nt, ok := named.(reference.NamedTagged)
			if !ok {
				return nil, invalidf("invalid tag %q", t)
			}
			li.refs = append(li.refs, nt)
		}
		out = append(out, li)
	}
	return out, nil
}

func blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", invalidf("invalid image archive: invalid digest %q", d)
	}
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded()), nil
}

// readBlob reads a small blob (index, manifest, config) and checks its
// digest.
func (a *archiveFiles) readBlob(desc ocispec.Descriptor) ([]byte, error) {
	p, err := blobPath(desc.Digest)
	if err != nil {
		return nil, err
	}
	_, w, err := a.file(p)
	if err != nil {
		return nil, err
	}
	if w.Digest() != desc.Digest {
		return nil, invalidf("invalid image archive: %s: digest mismatch: got %s", p, w.Digest())
	}
	return a.readJSON(p, nil)
}

// ociImages reads an OCI image layout: index.json, nested indexes (the
// host platform's manifest is chosen), manifests, configs.
func (a *archiveFiles) ociImages() ([]loadImage, error) {
	var index ocispec.Index
	if _, err := a.readJSON(ocispec.ImageIndexFile, &index); err != nil {
		return nil, err
	}
	var out []loadImage
	byManifest := map[digest.Digest]int{}
	for _, desc := range index.Manifests {
		man, err := a.resolveManifest(desc, 0)
		if err != nil {
			return nil, err
		}
		if man == nil {
			continue // no manifest for this platform
		}
		i, seen := byManifest[man.digest]
		if !seen {
			config, err := a.readBlob(man.Config)
			if err != nil {
				return nil, err
			}
			li := loadImage{config: config}
			for _, l := range man.Layers {
				p, err := blobPath(l.Digest)
				if err != nil {
					return nil, err
				}
				li.layers = append(li.layers, loadLayer{file: p, expected: l})
			}
			out = append(out, li)
			i = len(out) - 1
			byManifest[man.digest] = i
		}
		if ref := ociName(desc.Annotations); ref != nil {
			out[i].refs = append(out[i].refs, ref)
		}
	}
	return out, nil
}

type manifestWithDigest struct {
	ocispec.Manifest
	digest digest.Digest
}

// resolveManifest follows desc down to an image manifest for this host's
// platform; nil when an index has none.
func (a *archiveFiles) resolveManifest(desc ocispec.Descriptor, depth int) (*manifestWithDigest, error) {
	if depth > 4 {
		return nil, invalidf("invalid image archive: indexes nested too deep")
	}
	data, err := a.readBlob(desc)
	if err != nil {
		return nil, err
	}
	var probe struct {
		MediaType string               `json:"mediaType"`
		Manifests []ocispec.Descriptor `json:"manifests"`
		Config    *ocispec.Descriptor  `json:"config"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, invalidf("invalid image archive: manifest %s: %v", desc.Digest, err)
	}
	isIndex := desc.MediaType == ocispec.MediaTypeImageIndex || desc.MediaType == mediaTypeDockerList ||
		probe.MediaType == ocispec.MediaTypeImageIndex || probe.MediaType == mediaTypeDockerList ||
		(probe.Config == nil && probe.Manifests != nil)
	if isIndex {
		host, _ := ParsePlatform("")
		for _, m := range probe.Manifests {
			if m.Platform == nil || m.Platform.OS != host.OS || m.Platform.Architecture != host.Architecture {
				continue
			}
			if m.Annotations["vnd.docker.reference.type"] != "" {
				continue // attestations
			}
			return a.resolveManifest(m, depth+1)
		}
		return nil, nil
	}
	var m manifestWithDigest
	if err := json.Unmarshal(data, &m.Manifest); err != nil {
		return nil, invalidf("invalid image archive: manifest %s: %v", desc.Digest, err)
	}
	m.digest = desc.Digest
	return &m, nil
}

// ociName reads the image name of an index entry: containerd's full
// name annotation, or an OCI ref.name that is a whole reference (a bare
// tag such as "latest" names no repository).
func ociName(ann map[string]string) reference.NamedTagged {
	for _, v := range []string{ann[annotationImageName], ann[ocispec.AnnotationRefName]} {
		if v == "" || !strings.ContainsAny(v, ":/") {
			continue
		}
		named, err := reference.ParseNormalizedNamed(v)
		if err != nil {
			continue
		}
		if nt, ok := reference.TagNameOnly(named).(reference.NamedTagged); ok {
			return nt
		}
	}
	return nil
}
