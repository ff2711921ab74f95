package containerfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
	"github.com/moby/go-archive"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/sys/user"

	"github.com/berth-dev/berth/internal/handoff"
	"github.com/berth-dev/berth/internal/layer"
)

// Paths given to a View are paths in the container: relative ones are
// taken from its root, and a trailing "/" or "/." keeps its meaning as in
// Docker (follow a final symlink; the contents of a directory).

// absPath is p made absolute in the container, trailing "/" or "/." kept.
func absPath(p string) string {
	return archive.PreserveTrailingDotOrSeparator(filepath.Join("/", p), p)
}

// Resolve evaluates every symlink of the container path p, the last one
// too.
func (v *View) Resolve(p string) (string, error) {
	var out string
	err := v.run(func() (err error) {
		out, err = layer.Resolve(filepath.Join("/", p))
		return err
	})
	return out, err
}

// stat is Docker's stat of a path for the archive endpoints: the entry
// itself (a final symlink is not followed unless p ends in "/" or "/."),
// named by the last element of p; a symlink's LinkTarget is its target
// fully resolved in the container.
func stat(abs string) (containertypes.PathStat, error) {
	fi, err := os.Lstat(abs)
	if err != nil {
		return containertypes.PathStat{}, err
	}
	st := containertypes.PathStat{
		Name:  filepath.Base(abs),
		Size:  fi.Size(),
		Mode:  fi.Mode(),
		Mtime: fi.ModTime(),
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		if st.LinkTarget, err = layer.Resolve(filepath.Clean(abs)); err != nil {
			return containertypes.PathStat{}, err
		}
	}
	return st, nil
}

// Stat describes the container path p (HEAD /containers/{id}/archive).
func (v *View) Stat(p string) (containertypes.PathStat, error) {
	var st containertypes.PathStat
	err := v.run(func() (err error) {
		st, err = stat(absPath(p))
		return err
	})
	return st, err
}

// Archive streams a tar of the container path p and returns its stat
// (GET /containers/{id}/archive). Entries are named after the last
// element of p: "dir/..." for "dir" and "dir/", "./..." for "dir/.";
// symlinks inside are archived as symlinks. The tar is written on the
// view's thread while the caller reads; closing the reader stops it.
// The view must stay open until the reader is closed.
func (v *View) Archive(p string) (io.ReadCloser, containertypes.PathStat, error) {
	abs := absPath(p)
	var (
		st  containertypes.PathStat
		src string
	)
	err := v.run(func() error {
		var err error
		if st, err = stat(abs); err != nil {
			return err
		}
		// The parent is resolved; the last element only when p asks
		// for it to be followed ("dir/", "dir/."; stat followed it too).
		parent, base := filepath.Split(abs)
		if src, err = layer.Resolve(parent); err != nil {
			return err
		}
		if base != "" && base != "." {
			src = filepath.Join(src, base)
		}
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	pr, pw := handoff.Pipe()
	err = v.goRun(func() { pw.CloseWithError(pack(pw, src, filepath.Base(abs))) })
	if err != nil {
		pr.Close()
		return nil, st, err
	}
	return pr, st, nil
}

// Export streams a tar of the whole view, its entries named by their
// paths ("bin/", "bin/sh"), as docker export writes a container. The
// view must stay open until the reader is closed.
func (v *View) Export() (io.ReadCloser, error) {
	pr, pw := handoff.Pipe()
	if err := v.goRun(func() { pw.CloseWithError(pack(pw, "/", "")) }); err != nil {
		pr.Close()
		return nil, err
	}
	return pr, nil
}

// ExtractDir resolves the container path p as the directory a tar is to
// be extracted into: every symlink followed, the last one too.
func (v *View) ExtractDir(p string) (string, error) {
	var dir string
	err := v.run(func() error {
		resolved, err := layer.Resolve(filepath.Join("/", p))
		if err != nil {
			return err
		}
		fi, err := os.Lstat(resolved)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errdefs.ErrInvalidArgument.WithMessage("extraction point is not a directory")
		}
		dir = resolved
		return nil
	})
	return dir, err
}

// Extract unpacks the uncompressed tar r into dir, a directory ExtractDir
// returned. Entries are named relative to dir; one whose name or hard
// link target leads out of dir ("../x") is refused, and symlinks, in the
// tar or already in the container, resolve inside the container's root.
// Ownership comes from the tar unless chownUser (a user of the
// container, "name", "uid" or "uid:gid", looked up in its /etc/passwd
// and /etc/group) is given. With noOverwriteDirNonDir a directory is
// never replaced by a non-directory, nor the reverse.
func (v *View) Extract(dir string, r io.Reader, noOverwriteDirNonDir bool, chownUser string) error {
	in := handoff.Prefetch(r)
	defer in.Close()
	return v.run(func() error {
		o := layer.UnpackOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir}
		if chownUser != "" {
			u, err := user.GetExecUserPath(chownUser, nil, "/etc/passwd", "/etc/group")
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("copyUIDGID: user %q of the container: %v", chownUser, err))
			}
			o.Owner = &[2]int{u.Uid, u.Gid}
		}
		return layer.Unpack(in, dir, o)
	})
}
