package image

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/image/content"
	"github.com/berth-dev/berth/internal/layer/overlay"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// Config configures the image store.
type Config struct {
	Root   string      // state directory, e.g. /var/lib/berth/image
	Events *events.Bus // may be nil in tests
}

var (
	bucketImages  = []byte("images")  // id → imageRecord JSON
	bucketConfigs = []byte("configs") // id → raw config bytes
	bucketRefs    = []byte("refs")    // full reference string → id
	bucketRW      = []byte("rw")      // container id → rwRecord JSON
	bucketDist    = []byte("dist")    // diff ID → []distSource JSON: where a layer's blobs are known to be
)

// Service is the image store: the images the daemon holds, their
// configs, layer records and repository references in images.db (kept
// in memory too), and who uses them. It answers lookups, list, inspect,
// history and disk usage, and tags, removes and prunes. What images are
// made of is in its layerStore; images come in and go out through the
// Archiver and the Distributor; containers' layers are its RWLayers.
type Service struct {
	db     *bolt.DB
	layers *layerStore
	rw     *RWLayers
	events *events.Bus

	mu     sync.RWMutex
	images map[digest.Digest]*img
	refs   map[string]digest.Digest // full reference string → image
	usage  func(imageID string) []string
	// running reports whether a container is running, for the "cannot
	// be forced" rmi conflict. Unset, a mounted rw layer counts as running.
	running func(containerID string) bool

	pruneRunning sync.Mutex
}

// New opens the image store at cfg.Root, removing whatever an interrupted
// earlier run left half done.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("image root not set: %w", errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Root, "rw"), 0o710); err != nil {
		return nil, err
	}
	blobs, err := content.New(filepath.Join(cfg.Root, "content"))
	if err != nil {
		return nil, err
	}
	sn, err := overlay.New(filepath.Join(cfg.Root, "overlay"))
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(cfg.Root, "images.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		sn.Close()
		return nil, fmt.Errorf("open image metadata: %w", err)
	}
	s := &Service{
		db:     db,
		layers: newLayerStore(cfg.Root, sn, blobs),
		events: cfg.Events,
		images: map[digest.Digest]*img{},
		refs:   map[string]digest.Digest{},
	}
	s.rw = newRWLayers(filepath.Join(cfg.Root, "rw"), db, s.layers, s)
	if err := s.loadAll(); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := s.layers.collect(ctx, s.roots()); err != nil {
		s.Close()
		return nil, fmt.Errorf("image store cleanup: %w", err)
	}
	return s, nil
}

// Close releases the store. Mounted rw layers stay mounted (containers
// keep running across a daemon restart). Pulls and pushes under way are
// cancelled and waited for.
func (s *Service) Close() error {
	return s.layers.close(s.db.Close)
}

func (s *Service) loadAll() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketImages, bucketConfigs, bucketRefs, bucketRW, bucketDist} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		configs := tx.Bucket(bucketConfigs)
		err := tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
			var rec imageRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("image %s: corrupt record: %w", k, err)
			}
			raw := configs.Get(k)
			if raw == nil || digest.FromBytes(raw) != rec.ID {
				slog.Warn("image config missing or corrupt; dropping image", "id", string(k))
				return nil
			}
			im, err := newImg(rec, append([]byte(nil), raw...))
			if err != nil {
				slog.Warn("unreadable image; dropping it", "id", string(k), "err", err)
				return nil
			}
			s.images[rec.ID] = im
			return nil
		})
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
			id := digest.Digest(v)
			if _, ok := s.images[id]; ok {
				s.refs[string(k)] = id
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.rw.load(tx.Bucket(bucketRW))
	})
}

// Count is the number of images (docker info's "Images").
func (s *Service) Count() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.images)
}

// SetContainerUsage tells the service which containers use an image, for
// rmi conflicts and the Containers count of the image list. Without it
// the service knows only the rw layers it made for each image.
func (s *Service) SetContainerUsage(fn func(imageID string) []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = fn
}

// SetContainerRunning tells the service which containers are running: an
// image used by a running container cannot be removed even with force.
// Without it, a container whose rw layer is mounted counts as running.
func (s *Service) SetContainerRunning(fn func(containerID string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = fn
}

// containerUse is a container using an image.
type containerUse struct {
	ID      string
	Running bool
}

// usageOf asks which containers use each of ids. It must be called
// without mu held: the callbacks go into the container service, which may
// itself be waiting to call into this one.
func (s *Service) usageOf(ids []digest.Digest) map[digest.Digest][]containerUse {
	s.mu.RLock()
	usage, running := s.usage, s.running
	s.mu.RUnlock()
	var byImage map[digest.Digest][]string
	if usage == nil {
		byImage = s.rw.users()
	}
	out := make(map[digest.Digest][]containerUse, len(ids))
	for _, id := range ids {
		users := byImage[id]
		if usage != nil {
			users = usage(id.String())
		}
		users = slices.Clone(users)
		slices.Sort(users)
		uses := []containerUse{}
		for _, c := range users {
			var run bool
			if running != nil {
				run = running(c)
			} else {
				run = s.rw.mounted(c)
			}
			uses = append(uses, containerUse{ID: c, Running: run})
		}
		out[id] = uses
	}
	return out
}

// publish sends an image event; attributes carry the image's labels and
// the name, as Docker's do.
func (s *Service) publish(action eventtypes.Action, id, name string, labels map[string]string) {
	if s.events == nil {
		return
	}
	attrs := map[string]string{}
	for k, v := range labels {
		attrs[k] = v
	}
	if name != "" {
		attrs["name"] = name
	}
	s.events.Publish(eventtypes.ImageEventType, action, id, attrs)
}

// referencesTo lists the references to id, full form, sorted. Caller holds mu.
func (s *Service) referencesTo(id digest.Digest) []reference.Named {
	var out []reference.Named
	for k, v := range s.refs {
		if v != id {
			continue
		}
		if n, err := reference.ParseNamed(k); err == nil {
			out = append(out, n)
		}
	}
	sortRefs(out)
	return out
}

// toImage builds the exported view of an image. Caller holds mu.
func (s *Service) toImage(ctx context.Context, im *img) *Image {
	out := &Image{
		ID:            im.rec.ID.String(),
		Config:        im.config.DockerOCIImage,
		Comment:       im.config.Comment,
		DockerVersion: im.config.DockerVersion,
		Parent:        im.rec.Parent.String(),
		LastTagTime:   im.rec.LastTagTime,
		Size:          s.layers.size(ctx, im.chain),
		RepoTags:      []string{},
		RepoDigests:   []string{},
	}
	for _, r := range s.referencesTo(im.rec.ID) {
		if _, ok := r.(reference.Canonical); ok {
			out.RepoDigests = append(out.RepoDigests, reference.FamiliarString(r))
		} else {
			out.RepoTags = append(out.RepoTags, reference.FamiliarString(r))
		}
	}
	return out
}

// sortRefs orders references as Docker lists them: by familiar form.
func sortRefs(v []reference.Named) {
	slices.SortFunc(v, func(a, b reference.Named) int {
		return strings.Compare(reference.FamiliarString(a), reference.FamiliarString(b))
	})
}

// knownBlobDiffID is the diff ID some stored image already verified for
// blob, "" if none.
func (s *Service) knownBlobDiffID(blob digest.Digest) digest.Digest {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, im := range s.images {
		for _, l := range im.rec.Layers {
			if l.Blob.Digest == blob {
				return l.DiffID
			}
		}
	}
	return ""
}

// addImage records an image whose layers and blobs are stored, and points
// refs at it, in one transaction: the image appears whole or not at all.
// Tags that pointed elsewhere move. touchTag records the tag time, as
// Docker does for a tag given to import but not for tags a load restores.
// The caller keeps the layers from garbage collection until it returns
// (layerStore.hold or protect).
func (s *Service) addImage(raw []byte, layers []layerRecord, parent digest.Digest, refs []reference.NamedTagged, touchTag bool) (*img, error) {
	id := digest.FromBytes(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	im, exists := s.images[id]
	if !exists {
		rec := imageRecord{ID: id, Layers: layers, Parent: parent, Added: nowUTC()}
		var err error
		im, err = newImg(rec, raw)
		if err != nil {
			return nil, err
		}
	}
	rec := im.rec
	if len(refs) > 0 && touchTag {
		rec.LastTagTime = nowUTC()
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		data, err := json.Marshal(&rec)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketImages).Put([]byte(id), data); err != nil {
			return err
		}
		if err := tx.Bucket(bucketConfigs).Put([]byte(id), raw); err != nil {
			return err
		}
		for _, r := range refs {
			if err := tx.Bucket(bucketRefs).Put([]byte(r.String()), []byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record image: %w", err)
	}
	im.rec = rec
	s.images[id] = im
	for _, r := range refs {
		s.refs[r.String()] = id
	}
	return im, nil
}

// roots lists the layers, blobs and rw snapshots the images and
// containers reference, for garbage collection.
func (s *Service) roots() gcRoots {
	r := gcRoots{chains: map[string]bool{}, active: map[string]bool{}, blobs: map[digest.Digest]bool{}}
	s.mu.RLock()
	for _, im := range s.images {
		for _, c := range im.chain {
			r.chains[c.String()] = true
		}
		for _, l := range im.rec.Layers {
			r.blobs[l.Blob.Digest] = true
		}
	}
	s.mu.RUnlock()
	for _, key := range s.rw.snapshots() {
		r.active[key] = true
	}
	return r
}

// chainInUse reports whether any image has the layer chainID.
func (s *Service) chainInUse(chainID string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, im := range s.images {
		for _, c := range im.chain {
			if c.String() == chainID {
				return true
			}
		}
	}
	return false
}

// RWLayers are the read-write layers of the containers made from the
// store's images.
func (s *Service) RWLayers() *RWLayers { return s.rw }

// gc removes the layers and blobs nothing references any more, now or
// once the operations creating layers are done (see layerStore.gc). It
// returns the chain IDs of removed layers if it ran.
func (s *Service) gc(ctx context.Context) []digest.Digest {
	return s.layers.gc(ctx, s.roots)
}
