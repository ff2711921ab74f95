package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/berth-dev/berth/internal/ctxio"
	"github.com/berth-dev/berth/internal/image/distribution"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushOptions are the parameters of a push besides the reference.
type PushOptions struct {
	// Auth is what the client sent in X-Registry-Auth; nil is anonymous.
	Auth *registrytypes.AuthConfig
}

// Push uploads the image ref names (every tag of the repository when ref
// has no tag) to its registry with Docker's progress messages: blobs the
// repository has are skipped ("Layer already exists"), blobs known in
// another repository of the registry are mounted ("Mounted from
// team/other"), the rest uploaded, then the manifest is put under the
// tag and repo@digest recorded.
func (d *Distributor) Push(ctx context.Context, ref reference.Named, opts PushOptions, p Progress) error {
	p = orNop(p)
	if _, ok := ref.(reference.Canonical); ok {
		return invalidf("cannot push a digest reference")
	}
	ctx, done, err := d.layers.startOp(ctx)
	if err != nil {
		return err
	}
	defer done()

	p.Status("", "The push refers to repository ["+ref.Name()+"]")
	tags := d.images.tagsOf(ref)
	if len(tags) == 0 {
		return notFoundf("An image does not exist locally with the tag: %s", reference.FamiliarName(ref))
	}
	endpoints := d.registries.Endpoints(ctx, ref, true)
	ep := endpoints[len(endpoints)-1]
	path := reference.Path(ref)
	domain := reference.Domain(ref)

	for _, tag := range tags {
		im, err := d.images.lookup(tag.String())
		if err != nil {
			return err
		}
		repo, err := d.registries.Open(ctx, ep, path, opts.Auth, true, d.mountCandidates(im, domain, path)...)
		if err != nil {
			return err
		}
		if err := d.pushOne(ctx, repo, domain, tag, im, p); err != nil {
			return err
		}
	}
	return nil
}

// mountCandidates are the other repositories of the registry that hold
// blobs of the image: the token for the push must allow pulling from them.
func (d *Distributor) mountCandidates(im *img, domain, path string) []string {
	var out []string
	for _, l := range im.rec.Layers {
		for _, src := range d.sources.get(l.DiffID) {
			if src.Registry == domain && src.Repository != path && !slices.Contains(out, src.Repository) && len(out) < 8 {
				out = append(out, src.Repository)
			}
		}
	}
	return out
}

// pushLayer is one layer of a push.
type pushLayer struct {
	rec  layerRecord
	id   string // the diff ID, short, as Docker shows pushes
	size int64  // bytes of the layer, for the progress bar
	desc ocispec.Descriptor
	err  error
}

func (d *Distributor) pushOne(ctx context.Context, repo *distribution.Repository, domain string, tag reference.NamedTagged, im *img, p Progress) error {
	// Blobs being read are protected from a concurrent rmi's collection.
	names := []string{}
	for _, l := range im.rec.Layers {
		names = append(names, l.Blob.Digest.String())
	}
	release, err := d.layers.protect(names...)
	if err != nil {
		return err
	}
	defer release()
	for _, l := range im.rec.Layers {
		if _, err := d.layers.blobs.Info(l.Blob.Digest); err != nil {
			return fmt.Errorf("layer %s of %s: %w", shortID(l.DiffID.String()), tag, err)
		}
	}

	// Docker lists a push's layers top first.
	layers := make([]*pushLayer, len(im.rec.Layers))
	for i, l := range im.rec.Layers {
		pl := &pushLayer{rec: l, id: shortID(l.DiffID.String())}
		if i < len(im.chain) {
			if u, err := d.layers.sn.Usage(ctx, im.chain[i].String()); err == nil {
				pl.size = u.Size
			}
		}
		layers[len(layers)-1-i] = pl
	}
	for _, l := range layers {
		p.Update(l.id, "Preparing")
	}
	for k, l := range layers {
		if k >= d.maxUploads {
			p.Update(l.id, "Waiting")
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := d.uploads
	var wg sync.WaitGroup
	for _, l := range layers {
		took := false
		select {
		case slots <- struct{}{}:
			took = true
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			if took {
				<-slots // the daemon's token, not this push's
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			l.desc, l.err = d.pushLayer(ctx, repo, domain, l, p)
			if l.err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// The first real failure, not the cancellations it caused.
	var cancelled error
	for _, l := range layers {
		switch {
		case l.err == nil:
		case !isCancel(l.err):
			return l.err
		case cancelled == nil:
			cancelled = l.err
		}
	}
	if cancelled != nil {
		return cancelled
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// The config, then the manifest.
	configDesc := ocispec.Descriptor{MediaType: distribution.MediaTypeDockerConfig, Digest: im.rec.ID, Size: int64(len(im.raw))}
	exists, err := repo.BlobExists(ctx, im.rec.ID)
	if err != nil {
		return distribution.Describe(err)
	}
	if !exists {
		loc, err := repo.StartUpload(ctx)
		if err == nil {
			err = repo.Upload(ctx, loc, bytes.NewReader(im.raw), func() digest.Digest { return im.rec.ID })
		}
		if err != nil {
			return distribution.Describe(err)
		}
	}
	descs := make([]ocispec.Descriptor, len(im.rec.Layers))
	for i, l := range layers {
		descs[len(layers)-1-i] = l.desc
	}
	mediaType, raw, err := buildManifest(configDesc, descs)
	if err != nil {
		return err
	}
	if err := repo.PutManifest(ctx, tag.Tag(), mediaType, raw); err != nil {
		return distribution.Describe(err)
	}
	dgst := digest.FromBytes(raw)
	p.Status("", fmt.Sprintf("%s: digest: %s size: %d", tag.Tag(), dgst, len(raw)))
	p.Aux(pushResult{Tag: tag.Tag(), Digest: dgst.String(), Size: len(raw)})

	canonical, err := reference.WithDigest(reference.TrimNamed(tag), dgst)
	if err != nil {
		return invalidf("%s", err.Error())
	}
	sources := map[digest.Digest][]distSource{}
	for i, desc := range descs {
		if !isForeign(desc.MediaType) {
			sources[im.rec.Layers[i].DiffID] = append(sources[im.rec.Layers[i].DiffID], distSource{Blob: desc, Registry: domain, Repository: repo.Path})
		}
	}
	if err := d.sources.add(sources); err != nil {
		return err
	}
	if err := d.images.recordPush(canonical, im.rec.ID); err != nil {
		return err
	}
	d.images.publish(eventtypes.ActionPush, reference.FamiliarString(tag), reference.FamiliarName(tag), im.config.Config.Labels)
	return nil
}

func isCancel(err error) bool {
	return errdefs.IsCanceled(err) || errors.Is(err, context.Canceled)
}

// pushResult is the aux message of a push, as Docker sends it.
type pushResult struct {
	Tag    string
	Digest string
	Size   int
}

// pushLayer brings one layer into the repository and returns the
// descriptor the manifest lists for it.
func (d *Distributor) pushLayer(ctx context.Context, repo *distribution.Repository, domain string, l *pushLayer, p Progress) (ocispec.Descriptor, error) {
	if isForeign(l.rec.Blob.MediaType) {
		p.Update(l.id, "Skipped foreign layer")
		return l.rec.Blob, nil
	}
	// What the repository may have already: blobs it was pulled from or
	// pushed to, and the stored blob itself when it can go as it is.
	own := pushableDescriptor(l.rec.Blob)
	var candidates []ocispec.Descriptor
	var mounts []distSource
	for _, src := range d.sources.get(l.rec.DiffID) {
		if src.Registry != domain {
			continue
		}
		if src.Repository == repo.Path {
			candidates = append(candidates, src.Blob)
		} else {
			mounts = append(mounts, src)
		}
	}
	if own.MediaType != "" {
		candidates = append(candidates, own)
	}
	checked := map[digest.Digest]bool{}
	for _, c := range candidates {
		if checked[c.Digest] {
			continue
		}
		checked[c.Digest] = true
		ok, err := repo.BlobExists(ctx, c.Digest)
		if err != nil {
			return ocispec.Descriptor{}, distribution.Describe(err)
		}
		if ok {
			p.Update(l.id, "Layer already exists")
			return manifestDescriptor(c), nil
		}
	}
	// Only the first mount source is tried: a registry that refuses a
	// mount opens an upload session instead, which is used below.
	var upload string
	if len(mounts) > 0 {
		m := mounts[0]
		mounted, loc, err := repo.Mount(ctx, m.Blob.Digest, m.Repository)
		if err != nil {
			return ocispec.Descriptor{}, distribution.Describe(err)
		}
		if mounted {
			p.Update(l.id, "Mounted from "+m.Repository)
			return manifestDescriptor(m.Blob), nil
		}
		upload = loc
	}
	desc, err := d.uploadRetrying(ctx, repo, upload, l, own, p)
	if err != nil {
		return ocispec.Descriptor{}, distribution.Describe(err)
	}
	p.Update(l.id, "Pushed")
	return desc, nil
}

// uploadRetrying uploads a layer into the upload session at loc (a new
// one when loc is ""), trying a failure that may pass (a connection
// lost, a server error) again in a new session, as Docker does: five
// attempts, after 5, 10, … seconds.
func (d *Distributor) uploadRetrying(ctx context.Context, repo *distribution.Repository, loc string, l *pushLayer, own ocispec.Descriptor, p Progress) (ocispec.Descriptor, error) {
	for attempt := 1; ; attempt++ {
		var err error
		if loc == "" {
			loc, err = repo.StartUpload(ctx)
		}
		var desc ocispec.Descriptor
		if err == nil {
			desc, err = d.uploadLayer(ctx, repo, loc, l, own, p)
		}
		if err == nil {
			return desc, nil
		}
		loc = ""
		if ctx.Err() != nil {
			return ocispec.Descriptor{}, ctx.Err()
		}
		if !distribution.Temporary(err) || attempt >= maxTransferAttempts {
			return ocispec.Descriptor{}, err
		}
		if err := retryCountdown(ctx, p, l.id, attempt*5); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
}

// pushableDescriptor is the stored blob when it can be pushed as it is
// (compressed), with the media type a manifest lists; zero otherwise.
func pushableDescriptor(d ocispec.Descriptor) ocispec.Descriptor {
	switch d.MediaType {
	case ocispec.MediaTypeImageLayerGzip, distribution.MediaTypeDockerLayer:
		return ocispec.Descriptor{MediaType: distribution.MediaTypeDockerLayer, Digest: d.Digest, Size: d.Size}
	case ocispec.MediaTypeImageLayerZstd:
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerZstd, Digest: d.Digest, Size: d.Size}
	}
	return ocispec.Descriptor{}
}

// manifestDescriptor is a layer as a pushed manifest lists it: Docker's
// media type for gzip, OCI's for zstd.
func manifestDescriptor(d ocispec.Descriptor) ocispec.Descriptor {
	out := ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
	if out.MediaType == ocispec.MediaTypeImageLayerGzip {
		out.MediaType = distribution.MediaTypeDockerLayer
	}
	return out
}

// uploadLayer uploads a layer: a compressed stored blob as it is, an
// uncompressed one gzip-compressed on the way as Docker does (with the
// same compressor, so the digest is the one Docker would push).
func (d *Distributor) uploadLayer(ctx context.Context, repo *distribution.Repository, loc string, l *pushLayer, own ocispec.Descriptor, p Progress) (ocispec.Descriptor, error) {
	f, err := d.layers.blobs.Open(l.rec.Blob.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	defer f.Close()
	if own.MediaType != "" {
		b := newBar(p, l.id, "Pushing", own.Size)
		body := &countingReader{r: ctxio.NewReader(ctx, f), onRead: func(n int64) { b.report(n, false) }}
		if err := repo.Upload(ctx, loc, body, func() digest.Digest { return own.Digest }); err != nil {
			return ocispec.Descriptor{}, err
		}
		b.report(own.Size, true)
		return own, nil
	}
	// Uncompressed: compress into the request as it is read, counting
	// the tar bytes for the bar (Docker's bar counts them too, against
	// the layer's size).
	b := newBar(p, l.id, "Pushing", l.size)
	pr, pw := io.Pipe()
	h := digest.Canonical.Digester()
	var size int64
	go func() {
		src := &countingReader{r: ctxio.NewReader(ctx, f), onRead: func(n int64) { b.report(n, false) }}
		bw := bufio.NewWriterSize(io.MultiWriter(pw, h.Hash(), counter{&size}), 32<<10)
		zw := gzip.NewWriter(bw)
		_, err := io.Copy(zw, src)
		if err == nil {
			err = zw.Close()
		}
		if err == nil {
			err = bw.Flush()
		}
		b.report(src.n, true)
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	if err := repo.Upload(ctx, loc, pr, h.Digest); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: distribution.MediaTypeDockerLayer, Digest: h.Digest(), Size: size}, nil
}

// counter counts what is written to it.
type counter struct{ n *int64 }

func (c counter) Write(p []byte) (int, error) {
	*c.n += int64(len(p))
	return len(p), nil
}

// buildManifest writes the manifest of a push: Docker's schema 2, byte
// for byte as Docker writes it (three-space indent, its field order), so
// that the same image pushed by Docker and by berth has one digest; an
// OCI manifest when a layer is zstd, which schema 2 cannot say.
func buildManifest(config ocispec.Descriptor, layers []ocispec.Descriptor) (string, []byte, error) {
	oci := false
	for _, l := range layers {
		if l.MediaType == ocispec.MediaTypeImageLayerZstd {
			oci = true
		}
	}
	type desc struct {
		MediaType string   `json:"mediaType"`
		Size      int64    `json:"size"`
		Digest    string   `json:"digest"`
		URLs      []string `json:"urls,omitempty"`
	}
	type manifest struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}
	m := manifest{SchemaVersion: 2, MediaType: distribution.MediaTypeDockerManifest, Layers: []desc{}}
	m.Config = desc{MediaType: config.MediaType, Size: config.Size, Digest: config.Digest.String()}
	if oci {
		m.MediaType = ocispec.MediaTypeImageManifest
		m.Config.MediaType = ocispec.MediaTypeImageConfig
	}
	for _, l := range layers {
		mt := l.MediaType
		if oci {
			switch mt {
			case distribution.MediaTypeDockerLayer:
				mt = ocispec.MediaTypeImageLayerGzip
			case distribution.MediaTypeDockerForeign:
				mt = ocispec.MediaTypeImageLayerNonDistributableGzip //nolint:staticcheck
			}
		} else if isForeign(mt) {
			mt = distribution.MediaTypeDockerForeign
		}
		m.Layers = append(m.Layers, desc{MediaType: mt, Size: l.Size, Digest: l.Digest.String(), URLs: l.URLs})
	}
	raw, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return "", nil, err
	}
	return m.MediaType, raw, nil
}
