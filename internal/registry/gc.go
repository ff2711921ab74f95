package registry

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/errdefs"
	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	"github.com/opencontainers/go-digest"
)

// GCOptions tune GarbageCollect.
type GCOptions struct {
	// DryRun reports what would be deleted and deletes nothing.
	DryRun bool
	// DeleteUntagged also deletes manifests that no tag points to (and
	// then the blobs only they referenced).
	DeleteUntagged bool
	// Verbose lets distribution's collector print what it marks and what
	// it deletes, on the process' standard output (it prints nowhere
	// else).
	Verbose bool
}

// GCResult is what a collection removed, or would remove in a dry run
// (then only as far as distribution reports it: see GCOptions.Verbose).
type GCResult struct {
	BlobsBefore  int   // blobs in the store before the collection
	BlobsDeleted int   // blobs gone after it
	BytesFreed   int64 // their size
}

// GarbageCollect runs distribution's mark-and-sweep collector over the
// registry stored in root: blobs that no manifest of any repository
// references are deleted, and with DeleteUntagged, untagged manifests
// first. It refuses to run while a registry serves root (ErrConflict),
// because the collector would delete blobs uploaded during its run.
func GarbageCollect(ctx context.Context, root string, opts GCOptions) (GCResult, error) {
	if root == "" {
		return GCResult{}, fmt.Errorf("registry root directory is required: %w", errdefs.ErrInvalidArgument)
	}
	if _, err := os.Stat(root); err != nil {
		if os.IsNotExist(err) {
			return GCResult{}, fmt.Errorf("registry root %s: %w", root, errdefs.ErrNotFound)
		}
		return GCResult{}, err
	}
	lock, err := lockRoot(root, true)
	if err != nil {
		return GCResult{}, err
	}
	defer lock.release()

	driver := newDriver(root)
	ns, err := storage.NewRegistry(ctx, driver, storage.EnableDelete)
	if err != nil {
		return GCResult{}, err
	}
	before, err := blobSizes(ctx, ns)
	if err != nil {
		return GCResult{}, err
	}
	// distribution's collector fails on a root where nothing was ever
	// pushed (no repositories directory); there is nothing to mark.
	if _, err := driver.Stat(ctx, repositoriesPath); isPathNotFound(err) {
		return GCResult{BlobsBefore: len(before)}, nil
	}
	err = storage.MarkAndSweep(ctx, driver, ns, storage.GCOpts{
		DryRun:         opts.DryRun,
		RemoveUntagged: opts.DeleteUntagged,
		Quiet:          !opts.Verbose,
	})
	if err != nil {
		return GCResult{}, fmt.Errorf("garbage collection: %w", err)
	}
	after, err := blobSizes(ctx, ns)
	if err != nil {
		return GCResult{}, err
	}
	res := GCResult{BlobsBefore: len(before)}
	for d, size := range before {
		if _, ok := after[d]; !ok {
			res.BlobsDeleted++
			res.BytesFreed += size
		}
	}
	return res, nil
}

// repositoriesPath is where distribution's layout keeps repositories,
// relative to the driver's root.
const repositoriesPath = "/docker/registry/v2/repositories"

// blobSizes lists every blob in the store with its size.
func blobSizes(ctx context.Context, ns distribution.Namespace) (map[digest.Digest]int64, error) {
	sizes := map[digest.Digest]int64{}
	err := ns.Blobs().Enumerate(ctx, func(d digest.Digest) error {
		desc, err := ns.BlobStatter().Stat(ctx, d)
		if err != nil {
			return err
		}
		sizes[d] = desc.Size
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return nil, err
	}
	return sizes, nil
}
