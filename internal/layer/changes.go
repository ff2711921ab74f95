package layer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/go-archive"
	"golang.org/x/sys/unix"
)

// Layers splits the mounts of an active snapshot into the directory that
// takes its writes and the read-only layers under it, top first.
func Layers(mounts []Mount) (upper string, lowers []string, err error) {
	upper, err = writableDir(mounts)
	if err != nil {
		return "", nil, err
	}
	if mounts[0].Type == "overlay" {
		for _, o := range mounts[0].Options {
			if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
				lowers = strings.Split(v, ":")
			}
		}
	}
	return upper, lowers, nil
}

// Changes lists what the writable layer of mounts changed over the layers
// under it, as `docker diff` reports it: a path in the writable layer is
// added (A) unless a lower layer has it, then changed (C); a whiteout (a
// 0/0 character device) or an opaque directory that hides lower content
// is deleted (D). Every directory above a change is changed too, as
// Docker lists it (its overlay2 driver compares the mounted trees, and
// lists each directory that holds a change: a mount point made at
// /var/www/b gives C /var, C /var/www, A /var/www/b); a directory that
// only exists because a child changed and whose metadata equals the
// lower one is not listed for itself. Paths are absolute, sorted, and
// the walk tolerates files that vanish meanwhile (a running container).
func Changes(ctx context.Context, mounts []Mount) ([]archive.Change, error) {
	upper, lowers, err := Layers(mounts)
	if err != nil {
		return nil, err
	}
	var changes []archive.Change
	listed := map[string]bool{}
	err = filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != upper {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		path := "/" + filepath.ToSlash(rel)
		ch := archive.Change{Path: path, Kind: archive.ChangeAdd}
		deleted, err := overlayDeleted(lowers, p, path, fi)
		if err != nil {
			return err
		}
		if deleted {
			ch.Kind = archive.ChangeDelete
		} else {
			for _, l := range lowers {
				st, err := os.Lstat(filepath.Join(l, path))
				if err != nil {
					if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
						continue
					}
					return err
				}
				if st.IsDir() && fi.IsDir() && st.Mode() == fi.Mode() && sameFsTime(st.ModTime(), fi.ModTime()) {
					// Copied up because something under it changed.
					return nil
				}
				ch.Kind = archive.ChangeModify
				break
			}
		}
		changes = append(changes, ch)
		listed[path] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, ch := range changes {
		for dir := filepath.Dir(ch.Path); dir != "/" && !listed[dir]; dir = filepath.Dir(dir) {
			changes = append(changes, archive.Change{Path: dir, Kind: archive.ChangeModify})
			listed[dir] = true
		}
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Path < changes[j].Path })
	return changes, nil
}

// overlayDeleted reports whether the upper entry at full (path inside the
// layer) stands for a deletion: a whiteout device, or an opaque directory
// over a lower one.
func overlayDeleted(lowers []string, full, path string, fi os.FileInfo) (bool, error) {
	if fi.Mode()&os.ModeCharDevice != 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && unix.Major(st.Rdev) == 0 && unix.Minor(st.Rdev) == 0 {
			return true, nil
		}
	}
	if !fi.IsDir() {
		return false, nil
	}
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(full, "trusted.overlay.opaque", buf)
	if err != nil || n != 1 || buf[0] != 'y' {
		return false, nil
	}
	for _, l := range lowers {
		if _, err := os.Lstat(filepath.Join(l, path)); err == nil {
			return true, nil
		}
	}
	return false, nil
}

// sameFsTime compares modification times as go-archive does: tar keeps
// whole seconds, so a time with no nanoseconds matches any in its second.
func sameFsTime(a, b time.Time) bool {
	return a.Equal(b) || (a.Unix() == b.Unix() && (a.Nanosecond() == 0 || b.Nanosecond() == 0))
}

// DiffExcluding is Diff without the given paths (absolute, inside the
// layer): mount points the engine made, which are not the container's
// changes.
func DiffExcluding(ctx context.Context, mounts []Mount, exclude []string) (io.ReadCloser, error) {
	dir, err := writableDir(mounts)
	if err != nil {
		return nil, err
	}
	patterns := make([]string, 0, len(exclude))
	for _, p := range exclude {
		p = strings.TrimPrefix(filepath.Clean("/"+p), "/")
		if p == "" {
			return nil, fmt.Errorf("cannot exclude the layer's root: %w", errdefs.ErrInvalidArgument)
		}
		patterns = append(patterns, p)
	}
	return archive.TarWithOptions(dir, &archive.TarOptions{
		WhiteoutFormat:  archive.OverlayWhiteoutFormat,
		ExcludePatterns: patterns,
	})
}
