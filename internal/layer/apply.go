package layer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/ctxio"
	"github.com/berth-dev/berth/internal/handoff"
	"github.com/containerd/errdefs"
	"github.com/moby/go-archive"
	"golang.org/x/sys/unix"
)

// Apply unpacks an uncompressed layer tar into the writable layer of
// mounts (as returned by Prepare). The tar's whiteouts (".wh.name",
// ".wh..wh..opq") become overlay whiteouts: a 0/0 character device, or the
// trusted.overlay.opaque xattr.
//
// The tar cannot write outside the layer: entries are resolved inside the
// layer directory (names with "..", absolute names and symlinks pointing
// outside stay inside or fail), and the unpacking runs chrooted into it on
// a thread of its own. A failing Apply leaves a partly filled snapshot that
// the caller removes.
func Apply(ctx context.Context, mounts []Mount, tarStream io.Reader) error {
	dest, err := writableDir(mounts)
	if err != nil {
		return err
	}
	// Read ahead in large chunks: the unpack runs on a locked thread,
	// for which every small read of a pipe is a context switch.
	r := handoff.Prefetch(ctxio.NewReader(ctx, tarStream))
	defer r.Close()
	if err := untarChrooted(r, dest); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsDiskError(err) {
			return fmt.Errorf("apply layer: %w", err)
		}
		return fmt.Errorf("apply layer: %s: %w", err.Error(), errdefs.ErrInvalidArgument)
	}
	return nil
}

// IsDiskError reports whether err is a full or failing disk: the daemon's
// problem, not a bad archive or layer.
func IsDiskError(err error) bool {
	for _, e := range []error{unix.ENOSPC, unix.EDQUOT, unix.EIO, unix.EROFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// untarChrooted unpacks r into dest from inside a chroot to dest, on a
// private thread (so the chroot and umask 0 affect nobody else): every
// path of the tar, and every symlink it makes, resolves inside dest, as
// moby's chrootarchive does, without a mount namespace per layer.
func untarChrooted(r io.Reader, dest string) error {
	return onPrivateThread(func() error {
		if err := unix.Chroot(dest); err != nil {
			return fmt.Errorf("chroot %s: %w", dest, err)
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		unix.Umask(0)
		return Unpack(r, "/", UnpackOptions{Layer: true})
	})
}

// Diff returns the changes in the writable layer of mounts as a layer tar,
// with overlay whiteouts turned back into ".wh." entries.
func Diff(ctx context.Context, mounts []Mount) (io.ReadCloser, error) {
	dir, err := writableDir(mounts)
	if err != nil {
		return nil, err
	}
	return archive.TarWithOptions(dir, &archive.TarOptions{
		WhiteoutFormat: archive.OverlayWhiteoutFormat,
	})
}

// writableDir finds the directory that takes a snapshot's writes: the
// upper directory of an overlay, or the source of a lone bind mount.
func writableDir(mounts []Mount) (string, error) {
	if len(mounts) != 1 {
		return "", fmt.Errorf("expected one mount, got %d: %w", len(mounts), errdefs.ErrNotImplemented)
	}
	m := mounts[0]
	switch m.Type {
	case "bind":
		for _, o := range m.Options {
			if o == "ro" {
				return "", fmt.Errorf("snapshot is read-only: %w", errdefs.ErrFailedPrecondition)
			}
		}
		return m.Source, nil
	case "overlay":
		for _, o := range m.Options {
			if v, ok := strings.CutPrefix(o, "upperdir="); ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("overlay without upperdir is read-only: %w", errdefs.ErrFailedPrecondition)
	}
	return "", fmt.Errorf("mount type %q: %w", m.Type, errdefs.ErrNotImplemented)
}

// DirUsage measures a layer directory the way Docker's overlay2 driver
// sizes a layer: the sum of the sizes of everything but directories, each
// hard-linked inode counted once.
func DirUsage(ctx context.Context, dir string) (Usage, error) {
	var u Usage
	seen := map[uint64]struct{}{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil // removed while walking (a running container)
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		u.Inodes++
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if fi.Size() == 0 {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if _, dup := seen[st.Ino]; dup {
				return nil
			}
			seen[st.Ino] = struct{}{}
		}
		u.Size += fi.Size()
		return nil
	})
	return u, err
}
