package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/ctxio"
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// saveImage is one image of a save and the tags it is saved under.
type saveImage struct {
	im   *img
	refs []reference.NamedTagged
}

// resolveSave turns the names of a save request into images, as Docker's
// tarexport does: a repository without tag or digest means every tag of
// it; IDs and digests mean the image without a tag.
func (s *Service) resolveSave(names []string) ([]*saveImage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*saveImage
	byID := map[digest.Digest]*saveImage{}
	add := func(im *img, ref reference.NamedTagged) {
		si, ok := byID[im.rec.ID]
		if !ok {
			si = &saveImage{im: im}
			byID[im.rec.ID] = si
			out = append(out, si)
		}
		if ref != nil && !slices.ContainsFunc(si.refs, func(r reference.NamedTagged) bool { return r.String() == ref.String() }) {
			si.refs = append(si.refs, ref)
		}
	}
	for _, name := range names {
		ref, err := reference.ParseAnyReference(name)
		if err != nil {
			return nil, invalidf("%s", err.Error())
		}
		named, ok := ref.(reference.Named)
		if !ok || reference.FamiliarName(named) == string(digest.Canonical) {
			im, err := s.resolve(name)
			if err != nil {
				return nil, err
			}
			add(im, nil)
			continue
		}
		if reference.IsNameOnly(named) {
			found := false
			for _, r := range s.sortedRefs() {
				nt, ok := r.(reference.NamedTagged)
				if !ok || r.Name() != named.Name() {
					continue
				}
				add(s.images[s.refs[r.String()]], nt)
				found = true
			}
			if !found {
				im := s.searchID(name)
				if im == nil {
					return nil, noSuchImage(name, named)
				}
				add(im, nil)
			}
			continue
		}
		id, ok := s.refs[refKey(named)]
		if !ok {
			if im := s.searchID(name); im != nil {
				add(im, nil)
				continue
			}
			return nil, noSuchImage(name, named)
		}
		nt, _ := named.(reference.NamedTagged)
		add(s.images[id], nt)
	}
	return out, nil
}

// sortedRefs lists all references in familiar order. Caller holds mu.
func (s *Service) sortedRefs() []reference.Named {
	var out []reference.Named
	for k := range s.refs {
		if n, err := reference.ParseNamed(k); err == nil {
			out = append(out, n)
		}
	}
	sortRefs(out)
	return out
}

// Save writes the images names designate as one tar that both kinds of
// loader accept, as Docker 25+ writes it: an OCI image layout (oci-layout,
// index.json, blobs/) that also carries the docker-archive manifest.json
// and repositories files. Layer blobs are written exactly as stored. All
// names are resolved before the first byte is written, so a bad name is
// an error response, not a broken archive.
func (ar *Archiver) Save(ctx context.Context, names []string, w io.Writer) error {
	if len(names) == 0 {
		return invalidf("no image names given")
	}
	// Holding the layer store keeps garbage collection from deleting blobs while
	// they are being read.
	release := ar.layers.hold()
	defer release()
	images, err := ar.images.resolveSave(names)
	if err != nil {
		return err
	}

	epoch := time.Unix(0, 0).UTC()
	type blobEntry struct {
		data []byte        // small blobs: configs, manifests
		desc digest.Digest // layer blobs: read from the content store
		size int64
	}
	blobs := map[digest.Digest]blobEntry{}
	var manifest []manifestItem
	var indexEntries []ocispec.Descriptor
	repos := map[string]map[string]string{}

	for _, si := range images {
		im := si.im
		blobs[im.rec.ID] = blobEntry{data: im.raw, size: int64(len(im.raw))}
		item := manifestItem{Config: mustBlobPath(im.rec.ID), RepoTags: []string{}, Layers: []string{}}
		var layers []ocispec.Descriptor
		for _, l := range im.rec.Layers {
			size, err := ar.layers.blobs.Info(l.Blob.Digest)
			if err != nil {
				return fmt.Errorf("image %s: layer blob %s: %w", shortID(im.rec.ID.String()), l.Blob.Digest, err)
			}
			blobs[l.Blob.Digest] = blobEntry{desc: l.Blob.Digest, size: size}
			item.Layers = append(item.Layers, mustBlobPath(l.Blob.Digest))
			layers = append(layers, ocispec.Descriptor{MediaType: l.Blob.MediaType, Digest: l.Blob.Digest, Size: size})
		}
		if layers == nil {
			layers = []ocispec.Descriptor{}
		}
		man, err := json.Marshal(ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageManifest,
			Config:    ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: im.rec.ID, Size: int64(len(im.raw))},
			Layers:    layers,
		})
		if err != nil {
			return err
		}
		manDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man))}
		blobs[manDesc.Digest] = blobEntry{data: man, size: int64(len(man))}
		for _, ref := range si.refs {
			item.RepoTags = append(item.RepoTags, reference.FamiliarString(ref))
			d := manDesc
			d.Annotations = map[string]string{annotationImageName: ref.String(), ocispec.AnnotationRefName: ref.Tag()}
			indexEntries = append(indexEntries, d)
			name := reference.FamiliarName(ref)
			if repos[name] == nil {
				repos[name] = map[string]string{}
			}
			if n := len(im.config.RootFS.DiffIDs); n > 0 {
				repos[name][ref.Tag()] = im.config.RootFS.DiffIDs[n-1].Encoded()
			}
		}
		if len(si.refs) == 0 {
			indexEntries = append(indexEntries, manDesc)
		}
		manifest = append(manifest, item)
	}

	tw := tar.NewWriter(w)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: epoch})
	}
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	digests := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	slices.Sort(digests)
	for _, d := range digests {
		b := blobs[d]
		if b.data != nil {
			if err := file(mustBlobPath(d), b.data); err != nil {
				return err
			}
			continue
		}
		if err := ar.copyBlob(ctx, tw, d, b.size, epoch); err != nil {
			return err
		}
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: indexEntries,
	})
	if err != nil {
		return err
	}
	if err := file(ocispec.ImageIndexFile, index); err != nil {
		return err
	}
	mj, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := file(manifestFileName, append(mj, '\n')); err != nil {
		return err
	}
	if err := file(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion": "`+ocispec.ImageLayoutVersion+`"}`)); err != nil {
		return err
	}
	if len(repos) > 0 {
		rj, err := json.Marshal(repos)
		if err != nil {
			return err
		}
		if err := file(legacyReposName, append(rj, '\n')); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	for _, si := range images {
		id := si.im.rec.ID.String()
		ar.images.publish(eventtypes.ActionSave, id, id, si.im.config.Config.Labels)
	}
	return nil
}

// copyBlob streams a stored layer blob into the archive.
func (ar *Archiver) copyBlob(ctx context.Context, tw *tar.Writer, d digest.Digest, size int64, mtime time.Time) error {
	f, err := ar.layers.blobs.Open(d)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: mustBlobPath(d), Mode: 0o644, Size: size, ModTime: mtime}); err != nil {
		return err
	}
	n, err := io.Copy(tw, ctxio.NewReader(ctx, f))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("blob %s changed size while saving", d)
	}
	return nil
}

func mustBlobPath(d digest.Digest) string {
	p, err := blobPath(d)
	if err != nil {
		return "blobs/invalid"
	}
	return p
}
