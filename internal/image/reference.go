package image

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

func invalidf(format string, a ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, a...))
}

func conflictf(format string, a ...any) error {
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf(format, a...))
}

func notFoundf(format string, a ...any) error {
	return errdefs.ErrNotFound.WithMessage(fmt.Sprintf(format, a...))
}

// tagsFor is the tag commit and import give their image: ParseTag of
// repo and tag, none without a repo.
func tagsFor(repo, tag string) ([]reference.NamedTagged, error) {
	if repo == "" {
		return nil, nil
	}
	ref, err := ParseTag(repo, tag)
	if err != nil {
		return nil, err
	}
	return []reference.NamedTagged{ref}, nil
}

// ParseTag turns the repo and tag of a request into the reference to
// store, as Docker's RepoTagReference does: "busybox" and "" give
// docker.io/library/busybox:latest; a tag in repo is kept unless tag
// overrides it; digests are refused.
func ParseTag(repo, tag string) (reference.NamedTagged, error) {
	if repo == "" {
		return nil, invalidf("repository name must have at least one component")
	}
	ref, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil, invalidf("cannot import digest reference")
	}
	if tag != "" {
		t, err := reference.WithTag(reference.TrimNamed(ref), tag)
		if err != nil {
			return nil, invalidf("%s", err.Error())
		}
		ref = t
	}
	nt, ok := reference.TagNameOnly(ref).(reference.NamedTagged)
	if !ok {
		return nil, invalidf("unexpected reference: %q", ref.String())
	}
	if reference.FamiliarName(nt) == string(digest.Canonical) {
		return nil, invalidf("refusing to create an ambiguous tag using digest algorithm as name")
	}
	return nt, nil
}

// noSuchImage is Docker's not-found error for what the user asked for:
// a name gets ":latest" added ("No such image: busybox:latest").
func noSuchImage(refOrID string, ref reference.Reference) error {
	if named, ok := ref.(reference.Named); ok {
		return notFoundf("No such image: %s", reference.FamiliarString(reference.TagNameOnly(named)))
	}
	if ref != nil {
		return notFoundf("No such image: %s", reference.FamiliarString(ref))
	}
	return notFoundf("No such image: %s", refOrID)
}

// resolve finds an image the way Docker's GetImage does: a full ID or
// digest, then a repository reference (tag defaulting to latest, or
// digest), then an unambiguous ID prefix. Caller holds mu.
func (s *Service) resolve(refOrID string) (*img, error) {
	ref, err := reference.ParseAnyReference(refOrID)
	if err != nil {
		return nil, invalidf("%s", err.Error())
	}
	named, ok := ref.(reference.Named)
	if !ok {
		if d, ok := ref.(reference.Digested); ok {
			if im, ok := s.images[d.Digest()]; ok {
				return im, nil
			}
		}
		return nil, noSuchImage(refOrID, ref)
	}
	if id, ok := s.refs[refKey(named)]; ok {
		if im, ok := s.images[id]; ok {
			return im, nil
		}
	}
	if im := s.searchID(refOrID); im != nil {
		return im, nil
	}
	return nil, noSuchImage(refOrID, ref)
}

// refKey is the form references are stored in: full name, with the tag
// defaulted to latest; a reference with both tag and digest is looked up
// by digest, as Docker does.
func refKey(named reference.Named) string {
	if c, ok := named.(reference.Canonical); ok {
		if _, tagged := named.(reference.Tagged); tagged {
			if d, err := reference.WithDigest(reference.TrimNamed(c), c.Digest()); err == nil {
				return d.String()
			}
		}
		return c.String()
	}
	return reference.TagNameOnly(named).String()
}

// tagOrDigest is what a registry names a manifest by: the digest of a
// canonical reference, else its tag; "" when ref has neither.
func tagOrDigest(ref reference.Named) string {
	switch r := ref.(type) {
	case reference.Canonical:
		return r.Digest().String()
	case reference.NamedTagged:
		return r.Tag()
	}
	return ""
}

// searchID finds the one image whose ID starts with prefix ("5e3a",
// "sha256:5e3a..."). Caller holds mu.
func (s *Service) searchID(prefix string) *img {
	prefix = strings.TrimPrefix(prefix, "sha256:")
	if prefix == "" || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil
	}
	var found *img
	for id, im := range s.images {
		if strings.HasPrefix(id.Encoded(), prefix) {
			if found != nil {
				return nil // ambiguous: Docker treats it as not found
			}
			found = im
		}
	}
	return found
}

// isIDPrefix reports whether what the user typed designates an image by
// ID rather than by repository reference.
func isIDPrefix(id digest.Digest, s string) bool {
	return strings.HasPrefix(id.String(), s) || strings.HasPrefix(id.Encoded(), s)
}

// Get finds an image by reference, ID or ID prefix. Unknown images are
// errdefs.ErrNotFound with Docker's "No such image: busybox:latest".
func (s *Service) Get(ctx context.Context, refOrID string) (*Image, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	im, err := s.resolve(refOrID)
	if err != nil {
		return nil, err
	}
	return s.toImage(ctx, im), nil
}

// Tag adds repo:tag (normalised as ParseTag does) to the image refOrID,
// moving the tag if another image had it.
func (s *Service) Tag(ctx context.Context, refOrID, repo, tag string) error {
	ref, err := ParseTag(repo, tag)
	if err != nil {
		return err
	}
	s.mu.Lock()
	im, err := s.resolve(refOrID)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	err = s.setRefs(im.rec.ID, []reference.NamedTagged{ref})
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.publish(eventtypes.ActionTag, im.rec.ID.String(), reference.FamiliarString(ref), im.config.Config.Labels)
	return nil
}

// setRefs points refs at id and records the tag time, in one
// transaction. Caller holds mu for writing.
func (s *Service) setRefs(id digest.Digest, refs []reference.NamedTagged) error {
	im := s.images[id]
	rec := im.rec
	rec.LastTagTime = time.Now().UTC()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefs)
		for _, r := range refs {
			if err := b.Put([]byte(r.String()), []byte(id)); err != nil {
				return err
			}
		}
		data, err := json.Marshal(&rec)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketImages).Put([]byte(id), data)
	})
	if err != nil {
		return fmt.Errorf("tag image: %w", err)
	}
	for _, r := range refs {
		s.refs[r.String()] = id
	}
	im.rec = rec
	return nil
}

// recordPull points ref at id and records repo@digest, the digest of what
// was pulled, as Docker does; it reports whether ref moved.
func (s *Service) recordPull(ref reference.Named, id, manifestDigest digest.Digest) (bool, error) {
	canonical, err := reference.WithDigest(reference.TrimNamed(ref), manifestDigest)
	if err != nil {
		return false, invalidf("%s", err.Error())
	}
	refs := []reference.Named{canonical}
	key := refKey(canonical)
	if _, byDigest := ref.(reference.Canonical); !byDigest {
		refs = append(refs, ref)
		key = refKey(ref)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.images[id]; !ok {
		// Removed while the pull finished: report it as Docker's store
		// would, rather than record a dangling reference.
		return false, fmt.Errorf("image %s: %w", id, errdefs.ErrNotFound)
	}
	changed := s.refs[key] != id
	return changed, s.setReferences(id, refs, false)
}

// setReferences points refs (tags or digests) at id in one transaction,
// moving them from other images. touchTag records the tag time. Caller
// holds mu for writing.
func (s *Service) setReferences(id digest.Digest, refs []reference.Named, touchTag bool) error {
	tagged := make([]reference.NamedTagged, 0, len(refs))
	var digests []reference.Canonical
	for _, r := range refs {
		switch v := r.(type) {
		case reference.Canonical:
			digests = append(digests, v)
		case reference.NamedTagged:
			tagged = append(tagged, v)
		}
	}
	if touchTag && len(tagged) > 0 {
		if err := s.setRefs(id, tagged); err != nil {
			return err
		}
		tagged = nil
	}
	return s.putRefs(id, tagged, digests)
}

// putRefs stores references without touching the tag time.
func (s *Service) putRefs(id digest.Digest, tagged []reference.NamedTagged, digests []reference.Canonical) error {
	keys := make([]string, 0, len(tagged)+len(digests))
	for _, t := range tagged {
		keys = append(keys, refKey(t))
	}
	for _, d := range digests {
		keys = append(keys, refKey(d))
	}
	if len(keys) == 0 {
		return nil
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefs)
		for _, k := range keys {
			if err := b.Put([]byte(k), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("record references: %w", err)
	}
	for _, k := range keys {
		s.refs[k] = id
	}
	return nil
}

// lookup finds an image as Get does, for the transfers.
func (s *Service) lookup(refOrID string) (*img, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.resolve(refOrID)
}

// tagsOf lists what a push of ref sends: ref if it is a tag the store
// has, else every tag of ref's repository, in familiar order.
func (s *Service) tagsOf(ref reference.Named) []reference.NamedTagged {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var tags []reference.NamedTagged
	if t, ok := ref.(reference.NamedTagged); ok {
		if _, ok := s.refs[refKey(t)]; ok {
			tags = append(tags, t)
		}
		return tags
	}
	for _, r := range s.sortedRefs() {
		if t, ok := r.(reference.NamedTagged); ok && r.Name() == ref.Name() {
			tags = append(tags, t)
		}
	}
	return tags
}

// layerOf finds the record of the layer with diffID in some image.
func (s *Service) layerOf(diffID digest.Digest) (layerRecord, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, im := range s.images {
		for _, l := range im.rec.Layers {
			if l.DiffID == diffID {
				return l, true
			}
		}
	}
	return layerRecord{}, false
}

// recordPush records repo@digest of a pushed image, as Docker does,
// unless the image was removed meanwhile.
func (s *Service) recordPush(canonical reference.Canonical, id digest.Digest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.images[id]; !ok {
		return nil
	}
	return s.putRefs(id, nil, []reference.Canonical{canonical})
}
