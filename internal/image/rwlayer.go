package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// rwRecord is a container's read-write layer: an active snapshot on the
// top layer of the image the container was made from.
type rwRecord struct {
	ImageID digest.Digest `json:"imageID"`
	Parent  string        `json:"parent,omitempty"` // chain ID; "" for an image without layers
	Created time.Time     `json:"created"`
}

func rwKey(containerID string) string { return "rw-" + containerID }

// RWLayers are the read-write layers of containers: for each container
// an active snapshot on the top layer of its image, which takes the
// container's changes and is mounted as its root filesystem at
// <root>/rw/<container>/merged while it runs. The records are kept in
// images.db and loaded with the store, whose garbage collection keeps
// the snapshots they name and the image layers under them.
type RWLayers struct {
	dir    string // <root>/rw
	db     *bolt.DB
	layers *layerStore
	images rwImages

	mu   sync.RWMutex
	recs map[string]*rwRecord // by container ID

	// mountMu serialises mounting and unmounting.
	mountMu sync.Mutex
}

// rwImages is what RWLayers needs of the image store; see imageStore
// for why it is an interface.
type rwImages interface {
	// lookup finds the image a container is created from.
	lookup(refOrID string) (*img, error)
	// chainInUse reports whether an image still has the layer chainID.
	chainInUse(chainID string) bool
	// gc frees layers nothing references any more.
	gc(ctx context.Context) []digest.Digest
}

func newRWLayers(dir string, db *bolt.DB, layers *layerStore, images rwImages) *RWLayers {
	return &RWLayers{dir: dir, db: db, layers: layers, images: images, recs: map[string]*rwRecord{}}
}

// load reads the records of the rw bucket, when the store opens.
func (r *RWLayers) load(b *bolt.Bucket) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return b.ForEach(func(k, v []byte) error {
		var rec rwRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("rw layer %s: corrupt record: %w", k, err)
		}
		r.recs[string(k)] = &rec
		return nil
	})
}

func (r *RWLayers) mountPath(containerID string) string {
	return filepath.Join(r.dir, containerID, "merged")
}

// snapshots are the keys of the rw snapshots, for garbage collection.
func (r *RWLayers) snapshots() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.recs))
	for cid := range r.recs {
		out = append(out, rwKey(cid))
	}
	return out
}

// users lists the containers with an rw layer on each image: who uses an
// image when the container service has not said (SetContainerUsage).
func (r *RWLayers) users() map[digest.Digest][]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := map[digest.Digest][]string{}
	for cid, rec := range r.recs {
		out[rec.ImageID] = append(out[rec.ImageID], cid)
	}
	return out
}

// mounted reports whether the container's root filesystem is mounted:
// whether it runs, when the container service has not said
// (SetContainerRunning).
func (r *RWLayers) mounted(containerID string) bool {
	m, _ := layer.IsMountpoint(r.mountPath(containerID))
	return m
}

func validContainerID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("invalid container ID %q: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// CreateRWLayer prepares the read-write layer of a new container on the
// image imageID (an ID, or anything Get accepts). Creating it again for
// the same image is a no-op.
func (r *RWLayers) CreateRWLayer(containerID, imageID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	ctx := context.Background()
	release := r.layers.hold()
	defer release()

	im, err := r.images.lookup(imageID)
	r.mu.RLock()
	existing := r.recs[containerID]
	r.mu.RUnlock()
	if err != nil {
		return err
	}
	if existing != nil {
		if existing.ImageID == im.rec.ID {
			return nil
		}
		return fmt.Errorf("container %s already has a read-write layer: %w", containerID, errdefs.ErrAlreadyExists)
	}
	sn := r.layers.sn
	key := rwKey(containerID)
	if _, err := sn.Prepare(ctx, key, im.top()); err != nil {
		if !errdefs.IsAlreadyExists(err) {
			return err
		}
		// Left by a crash between Prepare and the record below.
		if err := sn.Remove(ctx, key); err != nil {
			return err
		}
		if _, err := sn.Prepare(ctx, key, im.top()); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(r.mountPath(containerID), 0o755); err != nil {
		_ = sn.Remove(ctx, key)
		return err
	}
	rec := &rwRecord{ImageID: im.rec.ID, Parent: im.top(), Created: nowUTC()}
	r.mu.Lock()
	defer r.mu.Unlock()
	err = r.db.Update(func(tx *bolt.Tx) error {
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRW).Put([]byte(containerID), data)
	})
	if err != nil {
		_ = sn.Remove(ctx, key)
		return fmt.Errorf("record rw layer: %w", err)
	}
	r.recs[containerID] = rec
	return nil
}

func noRWLayer(containerID string) error {
	return fmt.Errorf("no read-write layer for container %s: %w", containerID, errdefs.ErrNotFound)
}

// has reports whether the container has an rw layer.
func (r *RWLayers) has(containerID string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.recs[containerID]
	return ok
}

// MountRWLayer mounts the container's root filesystem and returns where:
// <root>/rw/<container>/merged. Mounting a mounted layer returns the same
// path.
func (r *RWLayers) MountRWLayer(containerID string) (string, error) {
	if err := validContainerID(containerID); err != nil {
		return "", err
	}
	r.mountMu.Lock()
	defer r.mountMu.Unlock()
	if !r.has(containerID) {
		return "", noRWLayer(containerID)
	}
	target := r.mountPath(containerID)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return "", err
	}
	mounted, err := layer.IsMountpoint(target)
	if err != nil {
		return "", err
	}
	if mounted {
		return target, nil
	}
	mounts, err := r.layers.sn.Mounts(context.Background(), rwKey(containerID))
	if err != nil {
		return "", err
	}
	if err := layer.MountAll(mounts, target); err != nil {
		return "", fmt.Errorf("mount rootfs of container %s: %w", containerID, err)
	}
	return target, nil
}

// UnmountRWLayer unmounts the container's root filesystem; unmounting
// one that is not mounted is not an error.
func (r *RWLayers) UnmountRWLayer(containerID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	r.mountMu.Lock()
	defer r.mountMu.Unlock()
	return layer.Unmount(r.mountPath(containerID))
}

// RemoveRWLayer unmounts and deletes the container's read-write layer.
// Removing a layer that does not exist is not an error. Image layers
// that only this container still held (its image was removed with force)
// are freed.
func (r *RWLayers) RemoveRWLayer(containerID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	ctx := context.Background()
	r.mountMu.Lock()
	err := layer.Unmount(r.mountPath(containerID))
	r.mountMu.Unlock()
	if err != nil {
		return err
	}
	r.mu.Lock()
	rec := r.recs[containerID]
	if rec != nil {
		err := r.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRW).Delete([]byte(containerID))
		})
		if err != nil {
			r.mu.Unlock()
			return fmt.Errorf("remove rw layer record: %w", err)
		}
		delete(r.recs, containerID)
	}
	r.mu.Unlock()
	orphanParent := rec != nil && rec.Parent != "" && !r.images.chainInUse(rec.Parent)

	if err := r.layers.sn.Remove(ctx, rwKey(containerID)); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	if err := os.RemoveAll(filepath.Join(r.dir, containerID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if orphanParent {
		r.images.gc(ctx)
	}
	return nil
}

// RWLayerSize returns the size of the container's changes (SizeRw) and of
// its whole root filesystem, image layers included (SizeRootFs).
func (r *RWLayers) RWLayerSize(containerID string) (rw, rootfs int64, err error) {
	if err := validContainerID(containerID); err != nil {
		return 0, 0, err
	}
	if !r.has(containerID) {
		return 0, 0, noRWLayer(containerID)
	}
	ctx := context.Background()
	sn := r.layers.sn
	key := rwKey(containerID)
	u, err := sn.Usage(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	rootfs = u.Size
	info, err := sn.Stat(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	for p := info.Parent; p != ""; {
		pu, err := sn.Usage(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		rootfs += pu.Size
		pi, err := sn.Stat(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		p = pi.Parent
	}
	return u.Size, rootfs, nil
}

// RWLayerGraphDriver describes the container's root filesystem in
// overlay2's terms, as inspect's GraphDriver.Data does for Docker: the rw
// layer's UpperDir and WorkDir, the image layers under it (LowerDir, top
// first) and where the rootfs is mounted while it runs (MergedDir). Tools
// read them to look at a container's files from the host.
func (r *RWLayers) RWLayerGraphDriver(containerID string) (map[string]string, error) {
	if err := validContainerID(containerID); err != nil {
		return nil, err
	}
	if !r.has(containerID) {
		return nil, noRWLayer(containerID)
	}
	d, ok := r.layers.sn.(dirOf)
	if !ok {
		return map[string]string{}, nil
	}
	ctx := context.Background()
	key := rwKey(containerID)
	dir, err := d.Dir(key)
	if err != nil {
		return nil, err
	}
	data := map[string]string{
		"UpperDir":  filepath.Join(dir, "fs"),
		"WorkDir":   filepath.Join(dir, "work"),
		"MergedDir": r.mountPath(containerID),
	}
	info, err := r.layers.sn.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	var lowers []string
	for p := info.Parent; p != ""; {
		pdir, err := d.Dir(p)
		if err != nil {
			return nil, err
		}
		lowers = append(lowers, filepath.Join(pdir, "fs"))
		pi, err := r.layers.sn.Stat(ctx, p)
		if err != nil {
			return nil, err
		}
		p = pi.Parent
	}
	if len(lowers) > 0 {
		data["LowerDir"] = strings.Join(lowers, ":")
	}
	return data, nil
}

func nowUTC() time.Time { return time.Now().UTC() }
