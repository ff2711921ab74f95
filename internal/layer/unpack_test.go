package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestUnpackMatchesGoArchive unpacks layer tars with berth's unpacker
// and with go-archive's Unpack (what Apply used before; both chrooted,
// overlay whiteouts) and compares what they leave, entry by entry:
// type, mode, owner, times, content, link target, device, extended
// attributes, hard links; or that both refuse the tar.
func TestUnpackMatchesGoArchive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot, chown, mknod")
	}
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	atime := mtime.Add(time.Hour)
	type h = tar.Header
	file := func(name, body string, mode int64) entry {
		return entry{h{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(body)), ModTime: mtime, AccessTime: atime, Format: tar.FormatPAX}, body}
	}
	dir := func(name string, mode int64) entry {
		return entry{h{Name: name, Typeflag: tar.TypeDir, Mode: mode, ModTime: mtime, Format: tar.FormatPAX}, ""}
	}
	link := func(name, target string) entry {
		return entry{h{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, ModTime: mtime, Format: tar.FormatPAX}, ""}
	}
	hard := func(name, target string) entry {
		return entry{h{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644, ModTime: mtime, Format: tar.FormatPAX}, ""}
	}
	owned := func(e entry, uid, gid int) entry { e.hdr.Uid, e.hdr.Gid = uid, gid; return e }
	xattr := func(e entry, k, v string) entry {
		e.hdr.PAXRecords = map[string]string{"SCHILY.xattr." + k: v}
		return e
	}
	for _, tc := range []struct {
		name    string
		entries []entry
		fails   bool
	}{
		{name: "kinds", entries: []entry{
			dir("d/", 0o755), owned(file("d/f", "hello", 0o640), 1000, 33), file("d/suid", "x", 0o4755),
			dir("sticky/", 0o1777), dir("setgid/", 0o2750), owned(dir("owned/", 0o700), 33, 33),
			link("d/abs", "/d/f"), link("d/rel", "f"), link("d/dangling", "/nowhere"),
			hard("d/hard", "d/f"), hard("d/hardlink-to-symlink", "d/rel"), hard("d/abshard", "/d/suid"),
			{h{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: mtime}, ""},
			{h{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mtime}, ""},
			xattr(file("attr", "a", 0o644), "user.note", "kept"), xattr(dir("attrdir/", 0o755), "trusted.x", "y"),
			file("epoch", "", 0o644), {h{Name: "zero-time", Typeflag: tar.TypeReg, Mode: 0o600}, ""},
			file("/absolute/name", "abs", 0o644), file("./dot/slash", "dot", 0o644),
		}},
		{name: "implied parents", entries: []entry{file("a/b/c/file", "deep", 0o600), dir("a/b/", 0o700), file("x/y", "y", 0o644)}},
		{name: "replaced entries", entries: []entry{
			file("f", "one", 0o644), file("f", "two", 0o600),
			file("was-file", "x", 0o644), dir("was-file/", 0o750), file("was-file/in", "in", 0o644),
			dir("was-dir/", 0o755), file("was-dir/gone", "g", 0o644), file("was-dir", "now a file", 0o644),
			dir("merged/", 0o755), file("merged/a", "a", 0o644), dir("merged/", 0o700),
			link("l", "f"), file("l", "replaced link", 0o644),
		}},
		{name: "whiteouts", entries: []entry{
			dir("d/", 0o755), file("d/.wh.gone", "", 0o644), file("d/.wh..wh..opq", "", 0o644),
			owned(file("e/.wh.owned", "", 0o644), 5, 6), file(".wh.top", "", 0o644),
		}},
		{name: "through symlinks", entries: []entry{
			dir("real/", 0o755), link("abs", "/real"), file("abs/f", "via abs", 0o644),
			link("rel", "real"), file("rel/g", "via rel", 0o644), link("chain", "abs/../real"), file("chain/h", "h", 0o644),
			link("absup", "/real/../../../real"), file("absup/i", "i", 0o644),
			hard("hl", "rel/g"),
		}},
		{name: "missing link parent", entries: []entry{link("dangling", "/no/such"), file("dangling/f", "x", 0o644)}},
		{name: "big file", entries: []entry{file("big", strings.Repeat("0123456789abcdef", 40000), 0o644)}},
		{name: "parent is a file", entries: []entry{file("f", "x", 0o644), file("f/g", "x", 0o644)}, fails: true},
		{name: "hard link to a directory", entries: []entry{dir("d/", 0o755), hard("h", "d")}, fails: true},
		{name: "dot-dot name", entries: []entry{file("../escape", "x", 0o644)}, fails: true},
		{name: "dot-dot inside", entries: []entry{file("a/../../escape", "x", 0o644)}, fails: true},
		{name: "relative link out", entries: []entry{link("up", "../../.."), file("up/escape", "x", 0o644)}, fails: true},
		{name: "link chain out", entries: []entry{link("d1", "."), link("d2", "d1/../.."), file("d2/victim", "x", 0o644)}, fails: true},
		{name: "hard link out", entries: []entry{hard("h", "../../etc/passwd")}, fails: true},
		{name: "hard link missing", entries: []entry{hard("h", "/etc/passwd")}, fails: true},
		{name: "bad whiteout", entries: []entry{file("d/.wh..", "", 0o644)}, fails: true},
		{name: "whiteout over an entry", entries: []entry{file("x", "x", 0o644), file(".wh.x", "", 0o644)}, fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tarOf(t, tc.entries)
			ours, theirs := t.TempDir(), t.TempDir()
			start := time.Now().Add(-time.Minute) // file times are coarse
			errOurs := untarChrooted(bytes.NewReader(data), ours)
			errTheirs := untarGoArchive(bytes.NewReader(data), theirs)
			switch {
			case tc.fails && (errOurs == nil || errTheirs == nil):
				t.Fatalf("want both to refuse: berth %v, go-archive %v", errOurs, errTheirs)
			case !tc.fails && (errOurs != nil || errTheirs != nil):
				t.Fatalf("berth %v, go-archive %v", errOurs, errTheirs)
			case tc.fails:
				return
			}
			a, b := describeTree(t, ours, start), describeTree(t, theirs, start)
			if !slices.Equal(a, b) {
				t.Errorf("trees differ\nberth:\n  %s\ngo-archive:\n  %s", strings.Join(a, "\n  "), strings.Join(b, "\n  "))
			}
		})
	}
}

type entry struct {
	hdr  tar.Header
	body string
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// describeTree lists every entry under root with what an unpack sets;
// times from since on (of directories the tar does not list, or atimes
// that reading moved) are "now".
func describeTree(t *testing.T, root string, since time.Time) []string {
	t.Helper()
	var out []string
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		stamp := func(ts unix.Timespec) string {
			if time.Unix(0, ts.Nano()).After(since) {
				return "now"
			}
			return fmt.Sprint(ts.Nano())
		}
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d mtime=%s", rel, st.Mode, st.Uid, st.Gid, stamp(st.Mtim))
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			line += " -> " + target
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			line += fmt.Sprintf(" atime=%s sha=%s", stamp(st.Atim), hex.EncodeToString(sum[:4]))
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if st.Nlink > 1 && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			if first, ok := inodes[st.Ino]; ok {
				line += " same-inode-as=" + first
			} else {
				inodes[st.Ino] = rel
			}
		}
		line += " xattrs=" + xattrsOf(t, p)
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func xattrsOf(t *testing.T, p string) string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return ""
		}
		t.Fatal(err)
	}
	var attrs []string
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 256)
		m, _ := unix.Lgetxattr(p, name, v)
		attrs = append(attrs, name+"="+string(v[:max(m, 0)]))
	}
	slices.Sort(attrs)
	return strings.Join(attrs, ",")
}
