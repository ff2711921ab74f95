package test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestFullDisk: on a data root that fills up, import, load and pull fail
// with the kernel's "no space left on device" and store nothing: the
// image list and the space used are as before, and the engine still runs
// containers and takes an image that fits.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	const size = 96 << 20 // more than the data root holds
	e := e2e.StartPrivate(t, e2e.PrivateOptions{DataRootSize: "64m"})
	c := e.Docker()
	list := func() string {
		return c.Run(t, "images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").OK(t).Stdout
	}
	before, used := list(), diskUsed(t, e.DataRoot)
	nothingStored := func(what string) {
		t.Helper()
		if got := list(); got != before {
			t.Errorf("after a failed %s, images:\n%s\nwant:\n%s", what, got, before)
		}
		if u := diskUsed(t, e.DataRoot); u > used+2<<20 {
			t.Errorf("after a failed %s, %d bytes used on the data root, %d before", what, u, used)
		}
	}

	rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
	writeRandomTar(t, rootfs, size)
	c.Run(t, "import", rootfs, "big:import").Assert(t, 1, "no space left on device")
	nothingStored("import")

	big, err := random.Image(size, 1)
	if err != nil {
		t.Fatal(err)
	}
	big = forHost(t, big, runtime.GOARCH)
	archive := dockerArchive(t, "big:load", big)
	if r := c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(archive)}, "load").Assert(t, 1, "no space left on device"); strings.Contains(r.Stderr, "invalid image archive") {
		t.Errorf("a full disk called a bad archive: %s", r.Stderr)
	}
	nothingStored("load")

	addr, _ := registryServe(t)
	registrytest.Push(t, addr+"/big:pull", big)
	c.Run(t, "pull", addr+"/big:pull").Assert(t, 1, "no space left on device")
	nothingStored("pull")

	c.Run(t, "run", "--rm", "busybox", "echo", "still running").Assert(t, 0, "still running")
	registrytest.Push(t, addr+"/small:1", mustRandomHost(t))
	c.Run(t, "pull", addr+"/small:1").Assert(t, 0, "Status: Downloaded newer image for "+addr+"/small:1")
}

// diskUsed is how many bytes the filesystem holding dir uses.
func diskUsed(t *testing.T, dir string) uint64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return (st.Blocks - st.Bfree) * uint64(st.Bsize)
}

// writeRandomTar writes a root filesystem tar holding one file of size
// random (incompressible) bytes.
func writeRandomTar(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.WriteHeader(&tar.Header{Name: "blob", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(tw, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}
