package overlay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

var bucketSnapshots = []byte("snapshots")

// record is what the metadata file keeps per snapshot key.
type record struct {
	ID      uint64            `json:"id"`
	Kind    layer.Kind        `json:"kind"`
	Parent  string            `json:"parent,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	Created time.Time         `json:"created"`
	// Size and Inodes are measured once, at commit: a committed layer
	// never changes.
	Size   int64 `json:"size,omitempty"`
	Inodes int64 `json:"inodes,omitempty"`
}

// Snapshotter implements layer.Snapshotter on overlayfs.
type Snapshotter struct {
	root     string
	db       *bolt.DB
	indexOff bool

	mu       sync.Mutex
	snaps    map[string]*record
	children map[string]int // parent key → number of snapshots on it
}

var _ layer.Snapshotter = (*Snapshotter)(nil)

// New opens (or creates) the snapshotter rooted at root and removes what
// an interrupted earlier run left behind: directories with no metadata.
func New(root string) (*Snapshotter, error) {
	if err := checkOverlay(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, "snapshots"), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open snapshot metadata: %w", err)
	}
	s := &Snapshotter{
		root:     root,
		db:       db,
		snaps:    map[string]*record{},
		children: map[string]int{},
	}
	_, err = os.Stat("/sys/module/overlay/parameters/index")
	s.indexOff = err == nil
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.cleanup(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func checkOverlay() error {
	data, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return err
	}
	if !bytes.Contains(data, []byte("\toverlay\n")) {
		return fmt.Errorf("overlayfs is not supported by this kernel: %w", errdefs.ErrNotImplemented)
	}
	return nil
}

func (s *Snapshotter) load() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSnapshots)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("snapshot %q: corrupt metadata: %w", k, err)
			}
			s.snaps[string(k)] = &r
			if r.Parent != "" {
				s.children[r.Parent]++
			}
			return nil
		})
	})
}

// cleanup removes snapshot directories that no metadata names: those of a
// Prepare or Remove that a crash interrupted.
func (s *Snapshotter) cleanup() error {
	known := map[string]bool{}
	for _, r := range s.snaps {
		known[strconv.FormatUint(r.ID, 10)] = true
	}
	dir := filepath.Join(s.root, "snapshots")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !known[e.Name()] {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove leftover snapshot: %w", err)
			}
		}
	}
	return nil
}

func (s *Snapshotter) dir(id uint64) string {
	return filepath.Join(s.root, "snapshots", strconv.FormatUint(id, 10))
}

func (s *Snapshotter) info(key string, r *record) layer.Info {
	labels := make(map[string]string, len(r.Labels))
	for k, v := range r.Labels {
		labels[k] = v
	}
	return layer.Info{Kind: r.Kind, Name: key, Parent: r.Parent, Labels: labels, Created: r.Created}
}

func notFound(key string) error {
	return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
}

// Stat implements layer.Snapshotter.
func (s *Snapshotter) Stat(ctx context.Context, key string) (layer.Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.snaps[key]
	if !ok {
		return layer.Info{}, notFound(key)
	}
	return s.info(key, r), nil
}

// Usage implements layer.Snapshotter.
func (s *Snapshotter) Usage(ctx context.Context, key string) (layer.Usage, error) {
	s.mu.Lock()
	r, ok := s.snaps[key]
	if !ok {
		s.mu.Unlock()
		return layer.Usage{}, notFound(key)
	}
	if r.Kind == layer.KindCommitted {
		u := layer.Usage{Size: r.Size, Inodes: r.Inodes}
		s.mu.Unlock()
		return u, nil
	}
	fs := filepath.Join(s.dir(r.ID), "fs")
	s.mu.Unlock()
	return layer.DirUsage(ctx, fs)
}

// Mounts implements layer.Snapshotter.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]layer.Mount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.snaps[key]
	if !ok {
		return nil, notFound(key)
	}
	return s.mounts(r)
}

// mounts builds the mounts of an active or view snapshot. Caller holds mu.
func (s *Snapshotter) mounts(r *record) ([]layer.Mount, error) {
	var lowers []string
	for p := r.Parent; p != ""; {
		pr, ok := s.snaps[p]
		if !ok {
			return nil, fmt.Errorf("parent %q missing: %w", p, errdefs.ErrNotFound)
		}
		lowers = append(lowers, filepath.Join(s.dir(pr.ID), "fs"))
		p = pr.Parent
	}
	own := s.dir(r.ID)
	switch r.Kind {
	case layer.KindActive:
		if len(lowers) == 0 {
			// overlay needs a lower layer; a base snapshot is its own
			// directory.
			return []layer.Mount{{Type: "bind", Source: filepath.Join(own, "fs"), Options: []string{"rw", "rbind"}}}, nil
		}
		var opts []string
		if s.indexOff {
			opts = append(opts, "index=off")
		}
		opts = append(opts,
			"lowerdir="+strings.Join(lowers, ":"),
			"upperdir="+filepath.Join(own, "fs"),
			"workdir="+filepath.Join(own, "work"))
		return []layer.Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
	case layer.KindView:
		switch len(lowers) {
		case 0:
			return []layer.Mount{{Type: "bind", Source: filepath.Join(own, "fs"), Options: []string{"ro", "rbind"}}}, nil
		case 1:
			return []layer.Mount{{Type: "bind", Source: lowers[0], Options: []string{"ro", "rbind"}}}, nil
		}
		var opts []string
		if s.indexOff {
			opts = append(opts, "index=off")
		}
		// Without an upperdir overlay is read-only by construction.
		opts = append(opts, "lowerdir="+strings.Join(lowers, ":"))
		return []layer.Mount{{Type: "overlay", Source: "overlay", Options: opts}}, nil
	}
	return nil, fmt.Errorf("snapshot is %s, only active and view snapshots have mounts: %w", r.Kind, errdefs.ErrFailedPrecondition)
}

// Prepare implements layer.Snapshotter.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...layer.Opt) ([]layer.Mount, error) {
	return s.create(ctx, layer.KindActive, key, parent, opts)
}

// View implements layer.Snapshotter.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...layer.Opt) ([]layer.Mount, error) {
	return s.create(ctx, layer.KindView, key, parent, opts)
}

func (s *Snapshotter) create(ctx context.Context, kind layer.Kind, key, parent string, opts []layer.Opt) ([]layer.Mount, error) {
	if key == "" {
		return nil, fmt.Errorf("empty snapshot key: %w", errdefs.ErrInvalidArgument)
	}
	var info layer.Info
	for _, o := range opts {
		o(&info)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.snaps[key]; ok {
		return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
	}
	if parent != "" {
		pr, ok := s.snaps[parent]
		if !ok {
			return nil, fmt.Errorf("parent snapshot %q: %w", parent, errdefs.ErrNotFound)
		}
		if pr.Kind != layer.KindCommitted {
			return nil, fmt.Errorf("parent snapshot %q is %s, not committed: %w", parent, pr.Kind, errdefs.ErrInvalidArgument)
		}
	}
	// The directories are made under a temporary name and renamed inside
	// the metadata transaction: a crash leaves either both or a directory
	// without metadata, which New removes.
	tmp := filepath.Join(s.root, "snapshots", "tmp-"+randomHex())
	if err := os.MkdirAll(filepath.Join(tmp, "fs"), 0o755); err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(tmp, "work"), 0o700); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	r := &record{Kind: kind, Parent: parent, Labels: info.Labels, Created: time.Now().UTC()}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		id, err := b.NextSequence()
		if err != nil {
			return err
		}
		r.ID = id
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(key), data); err != nil {
			return err
		}
		final := s.dir(id)
		// A directory may exist under this id if an earlier
		// transaction that allocated it failed to commit.
		if err := os.RemoveAll(final); err != nil {
			return err
		}
		return os.Rename(tmp, final)
	})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("prepare snapshot %q: %w", key, err)
	}
	s.snaps[key] = r
	if parent != "" {
		s.children[parent]++
	}
	return s.mounts(r)
}

// Commit implements layer.Snapshotter.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...layer.Opt) error {
	if name == "" {
		return fmt.Errorf("empty snapshot name: %w", errdefs.ErrInvalidArgument)
	}
	s.mu.Lock()
	r, ok := s.snaps[key]
	if !ok {
		s.mu.Unlock()
		return notFound(key)
	}
	if r.Kind != layer.KindActive {
		s.mu.Unlock()
		return fmt.Errorf("snapshot %q is %s, only active snapshots can be committed: %w", key, r.Kind, errdefs.ErrFailedPrecondition)
	}
	fs := filepath.Join(s.dir(r.ID), "fs")
	s.mu.Unlock()

	// Measured outside the lock: a large layer takes a while to walk.
	usage, err := layer.DirUsage(ctx, fs)
	if err != nil {
		return err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snaps[key] != r {
		return notFound(key)
	}
	if _, ok := s.snaps[name]; ok {
		return fmt.Errorf("snapshot %q: %w", name, errdefs.ErrAlreadyExists)
	}
	info := layer.Info{Labels: r.Labels}
	for _, o := range opts {
		o(&info)
	}
	c := *r
	c.Kind = layer.KindCommitted
	c.Labels = info.Labels
	c.Size = usage.Size
	c.Inodes = usage.Inodes
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		data, err := json.Marshal(&c)
		if err != nil {
			return err
		}
		if err := b.Delete([]byte(key)); err != nil {
			return err
		}
		return b.Put([]byte(name), data)
	})
	if err != nil {
		return fmt.Errorf("commit snapshot %q: %w", name, err)
	}
	// overlay's work dir only matters while the layer is an upperdir.
	_ = os.RemoveAll(filepath.Join(s.dir(r.ID), "work"))
	_ = os.Mkdir(filepath.Join(s.dir(r.ID), "work"), 0o700)
	delete(s.snaps, key)
	s.snaps[name] = &c
	return nil
}

// Remove implements layer.Snapshotter.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.snaps[key]
	if !ok {
		return notFound(key)
	}
	if n := s.children[key]; n > 0 {
		return fmt.Errorf("snapshot %q has %d children: %w", key, n, errdefs.ErrFailedPrecondition)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnapshots).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("remove snapshot %q: %w", key, err)
	}
	delete(s.snaps, key)
	if r.Parent != "" {
		if s.children[r.Parent]--; s.children[r.Parent] <= 0 {
			delete(s.children, r.Parent)
		}
	}
	// Renamed first so that a crash halfway through the removal leaves a
	// name New recognises as garbage.
	dir := s.dir(r.ID)
	gone := filepath.Join(s.root, "snapshots", "rm-"+randomHex())
	if err := os.Rename(dir, gone); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	}
	return os.RemoveAll(gone)
}

// Walk implements layer.Snapshotter.
func (s *Snapshotter) Walk(ctx context.Context, fn func(context.Context, layer.Info) error) error {
	s.mu.Lock()
	infos := make([]layer.Info, 0, len(s.snaps))
	for k, r := range s.snaps {
		infos = append(infos, s.info(k, r))
	}
	s.mu.Unlock()
	for _, i := range infos {
		if err := fn(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// Close implements layer.Snapshotter.
func (s *Snapshotter) Close() error {
	return s.db.Close()
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Dir is the directory holding the snapshot's fs/ and work/, for callers
// that report where layers live (image inspect's GraphDriver data).
func (s *Snapshotter) Dir(key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.snaps[key]
	if !ok {
		return "", notFound(key)
	}
	return s.dir(r.ID), nil
}
