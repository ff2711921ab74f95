package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/image/distribution"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PullOptions are the parameters of a pull besides the reference.
type PullOptions struct {
	// Platform is "os[/arch[/variant]]": the manifest to take from an
	// index; "" is this host's. A single-platform image must match it
	// when it is given.
	Platform string
	// Auth is what the client sent in X-Registry-Auth; nil is anonymous.
	Auth *registrytypes.AuthConfig
}

// ParsePullReference reads the fromImage and tag parameters of POST
// /images/create as Docker does: a trailing ":" is dropped, tag may be a
// digest, and a name with neither tag nor digest means every tag.
func ParsePullReference(fromImage, tag string) (reference.Named, error) {
	ref, err := reference.ParseNormalizedNamed(strings.TrimSuffix(fromImage, ":"))
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	if tag != "" {
		if d, err := digest.Parse(tag); err == nil {
			ref, err = reference.WithDigest(reference.TrimNamed(ref), d)
			if err != nil {
				return nil, invalidf("%s", err.Error())
			}
		} else {
			ref, err = reference.WithTag(reference.TrimNamed(ref), tag)
			if err != nil {
				return nil, invalidf("%s", err.Error())
			}
		}
	}
	if reference.FamiliarName(ref) == string(digest.Canonical) {
		return nil, invalidf("refusing to create an ambiguous tag using digest algorithm as name")
	}
	return ref, nil
}

// Pull fetches ref from its registry (by tag, by digest, or every tag of
// a name-only reference) with Docker's progress messages, and tags it
// locally. Docker Hub images go through the configured mirrors first.
func (d *Distributor) Pull(ctx context.Context, ref reference.Named, opts PullOptions, p Progress) error {
	p = orNop(p)
	var platform *ocispec.Platform
	if opts.Platform != "" {
		pl, err := ParsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		platform = &pl
	}
	ctx, done, err := d.layers.startOp(ctx)
	if err != nil {
		return err
	}
	defer done()

	var lastErr error
	for _, ep := range d.registries.Endpoints(ctx, ref, false) {
		lastErr = d.pullFrom(ctx, ep, ref, platform, opts.Auth, p)
		if lastErr == nil {
			return nil
		}
		// Docker moves on from a mirror whatever went wrong there.
		if !ep.Mirror || ctx.Err() != nil {
			break
		}
	}
	return lastErr
}

func (d *Distributor) pullFrom(ctx context.Context, ep distribution.Endpoint, ref reference.Named, platform *ocispec.Platform, auth *registrytypes.AuthConfig, p Progress) error {
	repo, err := d.registries.Open(ctx, ep, reference.Path(ref), auth, false)
	if err != nil {
		return err
	}
	updated := false
	if reference.IsNameOnly(ref) {
		tags, err := repo.Tags(ctx)
		if err != nil {
			return distribution.PullError(err, ref)
		}
		for _, tag := range tags {
			tagged, err := reference.WithTag(ref, tag)
			if err != nil {
				return invalidf("%s", err.Error())
			}
			u, err := d.pullOne(ctx, repo, tagged, platform, p)
			if err != nil {
				return err
			}
			updated = updated || u
		}
	} else {
		if updated, err = d.pullOne(ctx, repo, ref, platform, p); err != nil {
			return err
		}
	}
	name := reference.FamiliarString(ref)
	if updated {
		p.Status("", "Status: Downloaded newer image for "+name)
	} else {
		p.Status("", "Status: Image is up to date for "+name)
	}
	var labels map[string]string
	if im, err := d.images.lookup(name); err == nil {
		labels = im.config.Config.Labels
		// A single-platform image is pulled whatever its platform, as
		// Docker does for compatibility, with a warning when it is not the
		// one asked for.
		got := ocispec.Platform{OS: im.config.OS, Architecture: normaliseArch(im.config.Architecture), Variant: im.config.Variant}
		if platform != nil && (got.OS != platform.OS || got.Architecture != platform.Architecture ||
			(platform.Variant != "" && got.Variant != "" && got.Variant != platform.Variant)) {
			p.Status("", fmt.Sprintf("WARNING: image with reference %s was found but does not match the specified platform: wanted %s, actual: %s",
				name, formatPlatform(*platform), formatPlatform(got)))
		}
	}
	d.images.publish(eventtypes.ActionPull, name, reference.FamiliarName(ref), labels)
	return nil
}

// pullOne pulls one tag or digest and reports whether the reference now
// names another image (or a new one), which Docker words "Downloaded newer
// image".
func (d *Distributor) pullOne(ctx context.Context, repo *distribution.Repository, ref reference.Named, platform *ocispec.Platform, p Progress) (bool, error) {
	manifestRef := tagOrDigest(ref)
	if manifestRef == "" {
		return false, invalidf("internal error: reference has neither a tag nor a digest: %s", ref.String())
	}
	top, err := repo.Manifest(ctx, manifestRef)
	if err != nil {
		return false, distribution.PullError(err, ref)
	}
	p.Status(manifestRef, "Pulling from "+reference.Path(ref))
	if err := top.Verify(manifestRef); err != nil {
		return false, err
	}

	man := top
	if isIndex(top.MediaType) {
		child, err := selectManifest(top.Raw, platform)
		if err != nil {
			return false, err
		}
		if man, err = repo.Manifest(ctx, child.String()); err != nil {
			return false, distribution.PullError(err, ref)
		}
		if err := man.Verify(child.String()); err != nil {
			return false, err
		}
		if isIndex(man.MediaType) {
			return false, invalidf("unsupported manifest format: nested index %s", child)
		}
	}
	switch man.MediaType {
	case distribution.MediaTypeDockerSchema1, distribution.MediaTypeDockerSchema1JWS:
		return false, errdefs.ErrNotImplemented.WithMessage(fmt.Sprintf("[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed. Suggest the author of %s to upgrade the image to the OCI Format or Docker Image manifest v2, schema 2. More information at https://docs.docker.com/go/deprecated-image-specs/", reference.FamiliarString(ref)))
	case ocispec.MediaTypeImageManifest, distribution.MediaTypeDockerManifest:
	default:
		return false, invalidf("unsupported manifest media type %q", man.MediaType)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(man.Raw, &m); err != nil {
		return false, invalidf("invalid manifest %s: %v", man.Digest, err)
	}
	if m.Config.Digest.Validate() != nil {
		return false, invalidf("invalid manifest %s: no image config", man.Digest)
	}
	id, downloaded, err := d.fetchImage(ctx, repo, ref, &m, p)
	if err != nil {
		return false, err
	}
	p.Status("", "Digest: "+top.Digest.String())
	changed, err := d.images.recordPull(ref, id, top.Digest)
	if err != nil {
		return false, err
	}
	return downloaded || changed, nil
}

func isIndex(mediaType string) bool {
	return mediaType == ocispec.MediaTypeImageIndex || mediaType == distribution.MediaTypeDockerManifestList
}

// selectManifest picks the manifest for platform (the host's when nil)
// out of an index: an exact variant match first, then any variant.
func selectManifest(raw []byte, platform *ocispec.Platform) (digest.Digest, error) {
	want, _ := ParsePlatform("")
	if platform != nil {
		want = *platform
	}
	var idx ocispec.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		return "", invalidf("invalid manifest list: %v", err)
	}
	var loose digest.Digest
	for _, m := range idx.Manifests {
		pl := m.Platform
		if pl == nil || m.Annotations["vnd.docker.reference.type"] != "" {
			continue // attestations and the like
		}
		if pl.OS != want.OS || normaliseArch(pl.Architecture) != want.Architecture {
			continue
		}
		variant := pl.Variant
		if pl.Architecture == "arm64" && variant == "v8" {
			variant = ""
		}
		if variant == want.Variant {
			return m.Digest, nil
		}
		if want.Variant == "" && loose == "" {
			loose = m.Digest
		}
	}
	if loose != "" {
		return loose, nil
	}
	return "", errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no matching manifest for %s in the manifest list entries", formatPlatform(want)))
}

func formatPlatform(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// errRootFSMismatch is Docker's error for a manifest whose layers are not
// those the image config lists.
var errRootFSMismatch = errors.New("layers from manifest don't match image configuration")
