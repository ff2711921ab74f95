package image

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

type conflictType int

const (
	conflictDependentChild conflictType = 1 << iota
	conflictRunningContainer
	conflictActiveReference
	conflictStoppedContainer
	conflictHard = conflictDependentChild | conflictRunningContainer
	conflictSoft = conflictActiveReference | conflictStoppedContainer
)

// deleteConflict is Docker's image delete conflict; hard ones cannot be
// forced.
type deleteConflict struct {
	hard    bool
	used    bool
	id      digest.Digest
	message string
}

func (c *deleteConflict) err() error {
	force := "must be forced"
	if c.hard {
		force = "cannot be forced"
	}
	return conflictf("conflict: unable to delete %s (%s) - %s", shortID(c.id.String()), force, c.message)
}

// event is published once the store lock is released.
type event struct {
	action eventtypes.Action
	id     string
	name   string
	labels map[string]string
}

// deletion is the state of one rmi: the records for the client and the
// events to publish.
type deletion struct {
	records []imagetypes.DeleteResponse
	events  []event
	use     map[digest.Digest][]containerUse
}

// errUsageStale says the image a name designates changed between asking
// who uses it and taking the lock.
var errUsageStale = errors.New("image changed while removing")

// Remove answers DELETE /images/{name} with Docker's semantics: a name
// removes that reference and the image only if it was the last one; an ID
// removes the image, untagging it first when its references are all in one
// repository. Containers using the image, other references and child
// images are conflicts; force overrides the soft ones (stopped containers,
// references) but never a running container. prune removes parents left
// without tags.
func (s *Service) Remove(ctx context.Context, refOrID string, force, prune bool) ([]imagetypes.DeleteResponse, error) {
	if refOrID == "" {
		return nil, invalidf("image name cannot be blank")
	}
	var (
		d       *deletion
		deleted bool
		err     error
	)
	// Who uses the image is asked before taking the store lock (see
	// usageOf); should the name move to another image meanwhile, ask again.
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		im, rerr := s.resolve(refOrID)
		var ids []digest.Digest
		for im != nil {
			ids = append(ids, im.rec.ID)
			im = s.images[im.rec.Parent]
		}
		s.mu.RUnlock()
		if rerr != nil {
			return nil, rerr
		}
		d = &deletion{records: []imagetypes.DeleteResponse{}, use: s.usageOf(ids)}
		deleted, err = s.remove(refOrID, force, prune, d)
		if !errors.Is(err, errUsageStale) || attempt == 3 {
			break
		}
	}
	for _, e := range d.events {
		s.publish(e.action, e.id, e.name, e.labels)
	}
	if err != nil {
		return nil, err
	}
	if deleted {
		for _, c := range s.gc(ctx) {
			d.records = append(d.records, imagetypes.DeleteResponse{Deleted: c.String()})
		}
	}
	return d.records, nil
}

// remove does the metadata part of Remove under the store lock and
// reports whether an image record went.
func (s *Service) remove(refOrID string, force, prune bool, d *deletion) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	im, err := s.resolve(refOrID)
	if err != nil {
		return false, err
	}
	id := im.rec.ID
	if _, ok := d.use[id]; !ok {
		return false, errUsageStale
	}
	repoRefs := s.referencesTo(id)
	removedRepositoryRef := false
	if !isIDPrefix(id, refOrID) {
		if !force && isSingleReference(repoRefs) {
			if users := d.use[id]; len(users) > 0 {
				return false, conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", refOrID, shortID(users[0].ID), shortID(id.String()))
			}
		}
		parsed, err := reference.ParseNormalizedNamed(refOrID)
		if err != nil {
			return false, invalidf("%s", err.Error())
		}
		if _, canonical := parsed.(reference.Canonical); !canonical {
			parsed = reference.TagNameOnly(parsed)
		}
		if err := s.deleteRefs(d, im, []reference.Named{parsed}); err != nil {
			return false, err
		}
		repoRefs = s.referencesTo(id)
		// Without a tag left in that repository, its digest references
		// go too.
		if _, canonical := parsed.(reference.Canonical); !canonical {
			tagLeft := false
			for _, r := range repoRefs {
				if _, c := r.(reference.Canonical); !c && r.Name() == parsed.Name() {
					tagLeft = true
				}
			}
			if !tagLeft {
				var drop []reference.Named
				for _, r := range repoRefs {
					if _, c := r.(reference.Canonical); c && r.Name() == parsed.Name() {
						drop = append(drop, r)
					}
				}
				if err := s.deleteRefs(d, im, drop); err != nil {
					return false, err
				}
				repoRefs = s.referencesTo(id)
			}
		}
		if len(repoRefs) > 0 {
			return false, nil
		}
		removedRepositoryRef = true
	} else if isSingleReference(repoRefs) {
		mask := conflictHard
		if !force {
			mask |= conflictSoft &^ conflictActiveReference
		}
		if c := s.checkConflict(id, mask, d.use[id]); c != nil {
			return false, c.err()
		}
		if err := s.deleteRefs(d, im, repoRefs); err != nil {
			return false, err
		}
	}
	return s.deleteImage(d, id, force, prune, removedRepositoryRef)
}

// deleteImage deletes the image if nothing conflicts (Docker's
// imageDeleteHelper); quietly gives up instead of failing when quiet and
// the image is still useful.
func (s *Service) deleteImage(d *deletion, id digest.Digest, force, prune, quiet bool) (bool, error) {
	mask := conflictHard
	if !force {
		mask |= conflictSoft
	}
	if c := s.checkConflict(id, mask, d.use[id]); c != nil {
		dangling := len(s.referencesTo(id)) == 0 && !s.hasChildren(id)
		if quiet && (!dangling || c.used) {
			return false, nil
		}
		return false, c.err()
	}
	im := s.images[id]
	parent := im.rec.Parent
	if err := s.deleteRefs(d, im, s.referencesTo(id)); err != nil {
		return false, err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketImages).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketConfigs).Delete([]byte(id))
	})
	if err != nil {
		return false, fmt.Errorf("delete image: %w", err)
	}
	delete(s.images, id)
	// Docker looks the labels up after the image is gone: a delete event has none.
	d.events = append(d.events, event{eventtypes.ActionDelete, id.String(), id.String(), nil})
	d.records = append(d.records, imagetypes.DeleteResponse{Deleted: id.String()})
	if prune && parent != "" {
		if _, ok := s.images[parent]; ok {
			if _, err := s.deleteImage(d, parent, false, true, true); err != nil {
				return true, err
			}
		}
	}
	return true, nil
}

// deleteRefs removes references of im, recording "Untagged" for each.
// Caller holds mu.
func (s *Service) deleteRefs(d *deletion, im *img, refs []reference.Named) error {
	if len(refs) == 0 {
		return nil
	}
	var gone []reference.Named
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefs)
		for _, r := range refs {
			k := refKey(r)
			if s.refs[k] != im.rec.ID {
				continue
			}
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
			gone = append(gone, r)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("untag image: %w", err)
	}
	if len(gone) == 0 && len(refs) == 1 {
		return fmt.Errorf("reference does not exist: %w", errdefs.ErrNotFound)
	}
	for _, r := range gone {
		delete(s.refs, refKey(r))
		d.records = append(d.records, imagetypes.DeleteResponse{Untagged: reference.FamiliarString(r)})
		d.events = append(d.events, event{eventtypes.ActionUnTag, im.rec.ID.String(), im.rec.ID.String(), im.config.Config.Labels})
	}
	return nil
}

// checkConflict finds the first conflict of the kinds in mask. Caller
// holds mu.
func (s *Service) checkConflict(id digest.Digest, mask conflictType, users []containerUse) *deleteConflict {
	if mask&conflictDependentChild != 0 && s.hasChildren(id) {
		return &deleteConflict{hard: true, id: id, message: "image has dependent child images"}
	}
	if mask&conflictRunningContainer != 0 {
		for _, c := range users {
			if c.Running {
				return &deleteConflict{hard: true, used: true, id: id, message: "image is being used by running container " + shortID(c.ID)}
			}
		}
	}
	if mask&conflictActiveReference != 0 && len(s.referencesTo(id)) > 0 {
		return &deleteConflict{id: id, message: "image is referenced in multiple repositories"}
	}
	if mask&conflictStoppedContainer != 0 {
		for _, c := range users {
			if !c.Running {
				return &deleteConflict{used: true, id: id, message: "image is being used by stopped container " + shortID(c.ID)}
			}
		}
	}
	return nil
}

// isSingleReference is true when all references are in one repository
// with at most one tag.
func isSingleReference(refs []reference.Named) bool {
	if len(refs) <= 1 {
		return len(refs) == 1
	}
	var single reference.Named
	canonical := map[string]bool{}
	for _, r := range refs {
		if _, ok := r.(reference.Canonical); ok {
			canonical[r.Name()] = true
		} else if single == nil {
			single = r
		} else {
			return false
		}
	}
	if single == nil {
		single = refs[0]
	}
	return len(canonical) == 1 && canonical[single.Name()]
}

// Prune answers POST /images/prune: dangling images by default, all
// unused ones with dangling=false; label, label! and until narrow it.
func (s *Service) Prune(ctx context.Context, f filters.Args) (*imagetypes.PruneReport, error) {
	if !s.pruneRunning.TryLock() {
		return nil, conflictf("a prune operation is already running")
	}
	defer s.pruneRunning.Unlock()
	if err := f.Validate("dangling", "label", "label!", "until"); err != nil {
		return nil, err
	}
	danglingOnly, err := boolFilter(f, "dangling", true)
	if err != nil {
		return nil, err
	}
	var until time.Time
	if vals := f.Get("until"); len(vals) > 1 {
		return nil, invalidf("more than one until filter specified")
	} else if len(vals) == 1 {
		if until, err = parseUntil(vals[0], time.Now()); err != nil {
			return nil, err
		}
	}

	type target struct {
		id   digest.Digest
		refs []reference.Named
	}
	var targets []target
	sizes := map[string]int64{}
	s.mu.RLock()
	for id, im := range s.images {
		refs := s.referencesTo(id)
		if len(refs) == 0 && s.hasChildren(id) {
			continue
		}
		if danglingOnly && s.hasChildren(id) {
			continue
		}
		if !until.IsZero() && im.created().After(until) {
			continue
		}
		labels := im.config.Config.Labels
		if !f.MatchLabels("label", labels) {
			continue
		}
		if f.Has("label!") && f.MatchLabels("label!", labels) {
			continue
		}
		targets = append(targets, target{id: id, refs: refs})
		for _, c := range im.chain {
			if u, err := s.layers.sn.Usage(ctx, c.String()); err == nil {
				sizes[c.String()] = u.Size
			}
		}
	}
	s.mu.RUnlock()

	report := &imagetypes.PruneReport{}
	for _, t := range targets {
		if ctx.Err() != nil {
			break
		}
		var names []string
		if len(t.refs) > 0 {
			hasTag := false
			for _, r := range t.refs {
				if _, ok := r.(reference.NamedTagged); ok {
					hasTag = true
				}
			}
			if danglingOnly && hasTag {
				continue
			}
			for _, r := range t.refs {
				names = append(names, r.String())
			}
		} else {
			names = []string{t.id.Encoded()}
		}
		for _, n := range names {
			recs, err := s.Remove(ctx, n, false, true)
			if err != nil {
				continue // in use, or already gone with another name
			}
			report.ImagesDeleted = append(report.ImagesDeleted, recs...)
		}
	}
	for _, r := range report.ImagesDeleted {
		if r.Deleted != "" {
			report.SpaceReclaimed += uint64(sizes[r.Deleted])
		}
	}
	if s.events != nil {
		s.events.Publish(eventtypes.ImageEventType, eventtypes.ActionPrune, "", map[string]string{
			"reclaimed": strconv.FormatUint(report.SpaceReclaimed, 10),
		})
	}
	return report, nil
}
