package containerfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/go-archive"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/sys/user"
	"golang.org/x/sys/unix"
)

// Paths given to a View are paths in the container: relative ones are
// taken from its root, and a trailing "/" or "/." keeps its meaning as in
// Docker (follow a final symlink; the contents of a directory).

// absPath is p made absolute in the container, trailing "/" or "/." kept.
func absPath(p string) string {
	return archive.PreserveTrailingDotOrSeparator(filepath.Join("/", p), p)
}

// maxSymlinks bounds a resolution, as the kernel's ELOOP does.
const maxSymlinks = 255

// resolve evaluates every symlink of p (absolute; on the view's thread)
// with the view's root as "/", as the kernel resolves paths for the
// container. A missing component ends the evaluation: the rest is
// appended as it is, so that a broken link resolves as far as it can.
func resolve(p string) (string, error) {
	out := "/"
	todo := p
	links := 0
	for todo != "" {
		var part string
		part, todo, _ = strings.Cut(strings.TrimLeft(todo, "/"), "/")
		switch part {
		case "", ".":
			continue
		case "..":
			out = filepath.Dir(out)
			continue
		}
		next := filepath.Join(out, part)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(next, todo), nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			out = next
			continue
		}
		if links++; links > maxSymlinks {
			return "", &os.PathError{Op: "resolve", Path: p, Err: unix.ELOOP}
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			out = "/"
		}
		todo = target + "/" + todo
	}
	return out, nil
}

// Resolve evaluates every symlink of the container path p, the last one
// too.
func (v *View) Resolve(p string) (string, error) {
	var out string
	err := v.run(func() (err error) {
		out, err = resolve(filepath.Join("/", p))
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
		if st.LinkTarget, err = resolve(filepath.Clean(abs)); err != nil {
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
// symlinks inside are archived as symlinks. The tar is read from the
// view's thread while the caller reads; closing the reader stops it.
// The view must stay open until the reader is closed.
func (v *View) Archive(p string) (io.ReadCloser, containertypes.PathStat, error) {
	abs := absPath(p)
	var (
		st   containertypes.PathStat
		opts *archive.TarOptions
		dir  string
	)
	err := v.run(func() error {
		var err error
		if st, err = stat(abs); err != nil {
			return err
		}
		// The parent is resolved; the last element only when p asks
		// for it to be followed (then stat followed it too).
		parent, base := filepath.Split(abs)
		resolved, err := resolve(parent)
		if err != nil {
			return err
		}
		if base == "" || base == "." {
			// "dir/" and "dir/.": the directory the path leads to.
		} else {
			resolved = filepath.Join(resolved, base)
		}
		if resolved == "/" {
			dir, opts = "/", archive.TarResourceRebaseOpts(".", filepath.Base(abs))
		} else {
			d, b := filepath.Split(resolved)
			dir, opts = d, archive.TarResourceRebaseOpts(b, filepath.Base(abs))
		}
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	tb, err := archive.NewTarballer(dir, opts)
	if err != nil {
		return nil, st, err
	}
	if err := v.goRun(tb.Do); err != nil {
		tb.Reader().Close()
		return nil, st, err
	}
	return tb.Reader(), st, nil
}

// ExtractDir resolves the container path p as the directory a tar is to
// be extracted into: every symlink followed, the last one too.
func (v *View) ExtractDir(p string) (string, error) {
	var dir string
	err := v.run(func() error {
		resolved, err := resolve(filepath.Join("/", p))
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
	opts := &archive.TarOptions{NoOverwriteDirNonDir: noOverwriteDirNonDir}
	// Chmod may go through /proc/self/fd, which is not in the view: it
	// is opened here, on the host side.
	opts, closeOpts, err := archive.WithProcSelfFD(opts)
	if err != nil {
		return err
	}
	defer closeOpts()
	rebased := rebaseUnder(r, dir)
	defer rebased.Close()
	err = v.run(func() error {
		if chownUser != "" {
			u, err := user.GetExecUserPath(chownUser, nil, "/etc/passwd", "/etc/group")
			if err != nil {
				return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("copyUIDGID: user %q of the container: %v", chownUser, err))
			}
			opts.ChownOpts = &archive.ChownOpts{UID: u.Uid, GID: u.Gid}
		}
		return archive.Unpack(rebased, "/", opts)
	})
	return classifyUnpackError(err)
}

// rebaseUnder renames the entries of the tar r to be under dir (absolute,
// in the container), so that the tar unpacks at the container's root and
// its symlinks resolve as the container's do. Entries naming dir itself
// ("." or "/") are dropped, as Docker's extraction skips them; entries
// and hard link targets that leave dir are refused.
func rebaseUnder(r io.Reader, dir string) io.ReadCloser {
	prefix := strings.TrimPrefix(dir, "/")
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(copyRebased(tar.NewReader(r), tar.NewWriter(pw), prefix))
	}()
	return pr
}

func copyRebased(tr *tar.Reader, tw *tar.Writer, prefix string) error {
	under := func(name, what string) (string, error) {
		clean := path.Clean(strings.TrimLeft(name, "/"))
		if clean != "." && !filepath.IsLocal(clean) {
			return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid %s %q: it leads out of the destination directory", what, name))
		}
		return path.Join(prefix, clean), nil
	}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		switch hdr.Typeflag {
		case tar.TypeXGlobalHeader:
			continue
		case tar.TypeLink:
			if hdr.Linkname, err = under(hdr.Linkname, "hard link target"); err != nil {
				return err
			}
		}
		name, err := under(hdr.Name, "entry name")
		if err != nil {
			return err
		}
		if name == prefix {
			continue
		}
		hdr.Name = name
		// A longer name may not fit the format the entry came in.
		hdr.Format = tar.FormatUnknown
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// classifyUnpackError marks go-archive's refusals of entries that would
// leave the root (it has no error type for them) as bad input.
func classifyUnpackError(err error) error {
	if err == nil || errdefs.IsInvalidArgument(err) {
		return err
	}
	msg := err.Error()
	for _, s := range []string{"path escapes from parent", "invalid entry name", "invalid hardlink target", "cannot overwrite"} {
		if strings.Contains(msg, s) {
			return errdefs.ErrInvalidArgument.WithMessage(msg)
		}
	}
	return err
}
