package layer

import (
	"context"
	"time"
)

// Kind is the state a snapshot is in.
type Kind uint8

const (
	// KindUnknown is the zero value; no stored snapshot has it.
	KindUnknown Kind = iota
	// KindView is a read-only snapshot of a committed parent.
	KindView
	// KindActive is a writable snapshot: being filled from a layer tar, or
	// a container's read-write layer.
	KindActive
	// KindCommitted is an immutable snapshot that others may use as a parent.
	KindCommitted
)

func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// Info describes one snapshot.
type Info struct {
	Kind    Kind
	Name    string // the key the snapshot is known by
	Parent  string // key of the committed parent; "" for a base snapshot
	Labels  map[string]string
	Created time.Time
}

// Usage is the disk space a snapshot itself uses, not counting its parents.
type Usage struct {
	Size   int64 // bytes of file content; hard links counted once
	Inodes int64
}

// Mount is one mount(2) call; a snapshot's filesystem is the result of
// applying its mounts in order.
type Mount struct {
	Type    string // "overlay" or "bind"
	Source  string
	Options []string
}

// Opt sets optional properties of a snapshot when it is created or committed.
type Opt func(*Info)

// WithLabels adds labels to the snapshot. Labels are small metadata the
// owner wants back from Stat (the image store keeps a layer's size there).
func WithLabels(labels map[string]string) Opt {
	return func(i *Info) {
		if i.Labels == nil {
			i.Labels = map[string]string{}
		}
		for k, v := range labels {
			i.Labels[k] = v
		}
	}
}

// Snapshotter stores layered filesystems as a tree of snapshots.
//
// The life of an image layer:
//
//	mounts, _ := sn.Prepare(ctx, "extract-1", parentChainID) // active, writable, empty on top of parent
//	size, _ := layer.Apply(ctx, mounts, tarStream)          // unpack the layer tar into it
//	sn.Commit(ctx, chainID, "extract-1")                     // immutable now, known as chainID
//
// "extract-1" no longer exists after Commit; the committed snapshot can be
// the parent of later Prepare and View calls. A base layer has parent "".
//
// The life of a container's read-write layer:
//
//	mounts, _ := sn.Prepare(ctx, "rw-<container>", imageTopChainID)
//	layer.MountAll(mounts, rootfs)   // the container runs here
//	layer.Unmount(rootfs)
//	sn.Remove(ctx, "rw-<container>")
//
// View is Prepare for read-only use: its mounts show the parent and writes
// fail. Mounts returns the mounts of an existing active or view snapshot
// again, for example after a daemon restart.
//
// Remove deletes a snapshot that no other snapshot uses as a parent;
// removing a parent with children fails with errdefs.ErrFailedPrecondition.
// Removing a key that does not exist is errdefs.ErrNotFound, so that callers
// can treat repeated removal as done.
//
// Keys are opaque strings chosen by the caller and unique among all
// snapshots, committed or not. Implementations must survive a crash at any
// point: a snapshot is either fully recorded or absent after a restart, and
// storage left behind by an interrupted call is reclaimed when the
// snapshotter is opened again.
type Snapshotter interface {
	// Stat returns the snapshot's Info; errdefs.ErrNotFound if absent.
	Stat(ctx context.Context, key string) (Info, error)
	// Usage returns the space the snapshot's own layer uses. For active
	// snapshots it is measured now; for committed ones it may be cached.
	Usage(ctx context.Context, key string) (Usage, error)
	// Mounts returns the mounts of an active or view snapshot.
	Mounts(ctx context.Context, key string) ([]Mount, error)
	// Prepare creates an active snapshot on parent ("" for none).
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error)
	// View creates a read-only snapshot of parent.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]Mount, error)
	// Commit turns the active snapshot key into the committed snapshot
	// name. errdefs.ErrAlreadyExists if name exists; key is then kept.
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	// Remove deletes a snapshot without children.
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot, in no particular order.
	Walk(ctx context.Context, fn func(context.Context, Info) error) error
	// Close releases the snapshotter's resources; mounts stay.
	Close() error
}
