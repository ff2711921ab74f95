package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

func validContainerID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
		return fmt.Errorf("invalid container ID %q: %w", id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// CreateRWLayer prepares the read-write layer of a new container on the
// image imageID (an ID, or anything Get accepts). Creating it again for
// the same image is a no-op.
func (s *Service) CreateRWLayer(containerID, imageID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	ctx := context.Background()
	release := s.layers.hold()
	defer release()

	s.mu.RLock()
	im, err := s.resolve(imageID)
	existing := s.rw[containerID]
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	if existing != nil {
		if existing.ImageID == im.rec.ID {
			return nil
		}
		return fmt.Errorf("container %s already has a read-write layer: %w", containerID, errdefs.ErrAlreadyExists)
	}
	key := rwKey(containerID)
	if _, err := s.layers.sn.Prepare(ctx, key, im.top()); err != nil {
		if !errdefs.IsAlreadyExists(err) {
			return err
		}
		// Left by a crash between Prepare and the record below.
		if err := s.layers.sn.Remove(ctx, key); err != nil {
			return err
		}
		if _, err := s.layers.sn.Prepare(ctx, key, im.top()); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.mountPath(containerID), 0o755); err != nil {
		_ = s.layers.sn.Remove(ctx, key)
		return err
	}
	rec := &rwRecord{ImageID: im.rec.ID, Parent: im.top(), Created: nowUTC()}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRW).Put([]byte(containerID), data)
	})
	if err != nil {
		_ = s.layers.sn.Remove(ctx, key)
		return fmt.Errorf("record rw layer: %w", err)
	}
	s.rw[containerID] = rec
	return nil
}

func noRWLayer(containerID string) error {
	return fmt.Errorf("no read-write layer for container %s: %w", containerID, errdefs.ErrNotFound)
}

// MountRWLayer mounts the container's root filesystem and returns where:
// <root>/rw/<container>/merged. Mounting a mounted layer returns the same
// path.
func (s *Service) MountRWLayer(containerID string) (string, error) {
	if err := validContainerID(containerID); err != nil {
		return "", err
	}
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	s.mu.RLock()
	_, ok := s.rw[containerID]
	s.mu.RUnlock()
	if !ok {
		return "", noRWLayer(containerID)
	}
	target := s.mountPath(containerID)
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
	mounts, err := s.layers.sn.Mounts(context.Background(), rwKey(containerID))
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
func (s *Service) UnmountRWLayer(containerID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	return layer.Unmount(s.mountPath(containerID))
}

// RemoveRWLayer unmounts and deletes the container's read-write layer.
// Removing a layer that does not exist is not an error. Image layers
// that only this container still held (its image was removed with force)
// are freed.
func (s *Service) RemoveRWLayer(containerID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	ctx := context.Background()
	s.mountMu.Lock()
	err := layer.Unmount(s.mountPath(containerID))
	s.mountMu.Unlock()
	if err != nil {
		return err
	}
	s.mu.Lock()
	rec := s.rw[containerID]
	if rec != nil {
		err := s.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRW).Delete([]byte(containerID))
		})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("remove rw layer record: %w", err)
		}
		delete(s.rw, containerID)
	}
	orphanParent := rec != nil && rec.Parent != "" && !s.chainInUse(rec.Parent)
	s.mu.Unlock()

	if err := s.layers.sn.Remove(ctx, rwKey(containerID)); err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	if err := os.RemoveAll(filepath.Join(s.root, "rw", containerID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if orphanParent {
		s.gc(ctx)
	}
	return nil
}

// chainInUse reports whether any image has the layer chainID. Caller
// holds mu.
func (s *Service) chainInUse(chainID string) bool {
	for _, im := range s.images {
		for _, c := range im.chain {
			if c.String() == chainID {
				return true
			}
		}
	}
	return false
}

// RWLayerSize returns the size of the container's changes (SizeRw) and of
// its whole root filesystem, image layers included (SizeRootFs).
func (s *Service) RWLayerSize(containerID string) (rw, rootfs int64, err error) {
	if err := validContainerID(containerID); err != nil {
		return 0, 0, err
	}
	s.mu.RLock()
	_, ok := s.rw[containerID]
	s.mu.RUnlock()
	if !ok {
		return 0, 0, noRWLayer(containerID)
	}
	ctx := context.Background()
	key := rwKey(containerID)
	u, err := s.layers.sn.Usage(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	rootfs = u.Size
	info, err := s.layers.sn.Stat(ctx, key)
	if err != nil {
		return 0, 0, err
	}
	for p := info.Parent; p != ""; {
		pu, err := s.layers.sn.Usage(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		rootfs += pu.Size
		pi, err := s.layers.sn.Stat(ctx, p)
		if err != nil {
			return 0, 0, err
		}
		p = pi.Parent
	}
	return u.Size, rootfs, nil
}

func nowUTC() time.Time { return time.Now().UTC() }
