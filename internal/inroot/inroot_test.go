package inroot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Symlinks to "/" and "..", absolute and relative, resolve to the root
// itself; a name that is not there is ENOENT.
func TestOpenat2StaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root"), 0o644)
	for name, target := range map[string]string{"up": "..", "abs": "/", "deep": "etc/../../../..", "pw": "/../etc/passwd"} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootFd)
	var rootSt unix.Stat_t
	unix.Fstat(rootFd, &rootSt)
	for _, name := range []string{"up", "/abs", "deep", "/", "up/up/abs/deep"} {
		fd, err := Openat2(rootFd, name, unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		unix.Close(fd)
		if st.Dev != rootSt.Dev || st.Ino != rootSt.Ino {
			t.Errorf("%s resolved outside the root", name)
		}
	}
	fd, err := Openat2(rootFd, "up/pw", unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC})
	if err != nil {
		t.Fatalf("up/pw: %v", err)
	}
	buf := make([]byte, 8)
	n, _ := unix.Read(fd, buf)
	unix.Close(fd)
	if string(buf[:n]) != "root" {
		t.Errorf("up/pw read %q, want the root's etc/passwd", buf[:n])
	}
	if _, err := Openat2(rootFd, "nosuch", unix.OpenHow{Flags: unix.O_PATH}); !errors.Is(err, unix.ENOENT) {
		t.Errorf("nosuch: %v, want ENOENT", err)
	}
}
