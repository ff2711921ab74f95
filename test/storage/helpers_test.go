package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/berth-dev/berth/test/internal/e2e"
)

var nameUnsafe = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// volumeName is a volume name derived from the test's name: a stale
// volume of that name is removed first, and the volume when the test
// ends (after its containers, whose cleanups were registered earlier
// run later).
func volumeName(t *testing.T, e *e2e.Engine, suffix string) string {
	t.Helper()
	n := strings.Trim(nameUnsafe.ReplaceAllString(strings.ReplaceAll(t.Name(), "/", "-"), "_"), "_.-") + "-" + suffix
	removeVolume(e, n)
	t.Cleanup(func() { removeVolume(e, n) })
	return n
}

func removeVolume(e *e2e.Engine, name string) {
	cl, err := client.New(client.WithHost(e.Host))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true})
}

// inspectVolume returns the volume, or ok false when it does not exist.
func inspectVolume(t testing.TB, e *e2e.Engine, name string) (volume.Volume, bool) {
	t.Helper()
	res, err := e.Client(t).VolumeInspect(context.Background(), name, client.VolumeInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return volume.Volume{}, false
	}
	if err != nil {
		t.Fatalf("volume inspect %s: %v", name, err)
	}
	return res.Volume, true
}

// mountAt is the container's mount at dest, as inspect shows it.
func mountAt(t testing.TB, c container.InspectResponse, dest string) container.MountPoint {
	t.Helper()
	for _, m := range c.Mounts {
		if m.Destination == dest {
			return m
		}
	}
	t.Fatalf("container %s has no mount at %s; mounts: %+v", c.Name, dest, c.Mounts)
	return container.MountPoint{}
}

func hasMountAt(c container.InspectResponse, dest string) bool {
	for _, m := range c.Mounts {
		if m.Destination == dest {
			return true
		}
	}
	return false
}

var anonymousName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// waitVolumeGone waits for the volume's destroy event (since: before the
// removal started) and checks that the volume is gone.
func waitVolumeGone(t testing.TB, e *e2e.Engine, name string, since time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := e.Client(t).Events(ctx, client.EventsListOptions{
		Since:   e2e.UnixArg(since),
		Filters: client.Filters{}.Add("type", "volume").Add("event", "destroy").Add("volume", name),
	})
	select {
	case <-res.Messages:
	case err := <-res.Err:
		t.Fatalf("waiting for volume %s to be removed: %v", name, err)
	}
	if _, ok := inspectVolume(t, e, name); ok {
		t.Fatalf("volume %s still exists after its destroy event", name)
	}
}

// The test image: busybox plus a populated VOLUME /data, an empty
// VOLUME /emptyvol, and symlinks that point out of the root: /rootlink
// to "/", /uplink to "..", /deepup to "../../../../../../..", and
// /escape (relative) and /abs (absolute) to hostDir, a directory that
// exists on the host (with a file named secret) but not in the image.
const storageImage = "e2e-storage-vols:latest"

var (
	hostDirOnce sync.Once
	hostDir     string
	hostDirErr  error

	imageMu    sync.Mutex
	imageBuilt = map[string]bool{} // by engine host
)

func removeHostDirs() {
	if hostDir != "" {
		os.RemoveAll(hostDir)
	}
}

// escapeTarget is the host directory the image's /escape and /abs point
// at; it holds "secret".
func escapeTarget(t testing.TB) string {
	t.Helper()
	hostDirOnce.Do(func() {
		hostDir, hostDirErr = os.MkdirTemp("", "e2e-storage-host-")
		if hostDirErr == nil {
			hostDirErr = os.WriteFile(filepath.Join(hostDir, "secret"), []byte("host secret\n"), 0o600)
		}
	})
	if hostDirErr != nil {
		t.Fatal(hostDirErr)
	}
	return hostDir
}

// testImage imports the test image into the engine (once) with the
// stock CLI: docker import --change 'VOLUME ...'.
func testImage(t testing.TB, e *e2e.Engine) string {
	t.Helper()
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageBuilt[e.Host] {
		return storageImage
	}
	data, err := imageTar(escapeTarget(t))
	if err != nil {
		t.Fatal(err)
	}
	e.Docker().RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(data)},
		"import", "-c", `VOLUME ["/data", "/emptyvol"]`, "-c", `CMD ["sh"]`, "-", storageImage).OK(t)
	imageBuilt[e.Host] = true
	return storageImage
}

// imageTar is the busybox root filesystem with the test image's extras.
func imageTar(target string) ([]byte, error) {
	base, err := e2e.BusyboxTar()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(base))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	file := func(name, body string, mode int64, uid, gid int) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(body)), Mode: mode, Uid: uid, Gid: gid, ModTime: mtime}
	}
	dir := func(name string, mode int64, uid, gid int) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: mtime}
	}
	link := func(name, target string) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mtime}
	}
	extras := []struct {
		h    *tar.Header
		body string
	}{
		{dir("data/", 0o750, 1000, 1000), ""},
		{file("data/seed", "seed\n", 0o640, 1000, 1000), "seed\n"},
		{&tar.Header{Typeflag: tar.TypeLink, Name: "data/hard", Linkname: "data/seed", Mode: 0o640, Uid: 1000, Gid: 1000, ModTime: mtime}, ""},
		{link("data/link", "seed"), ""},
		{link("data/out", "/etc/hostname"), ""},
		{file("data/suid", "x\n", 0o4755, 0, 0), "x\n"},
		{dir("data/sub/", 0o700, 33, 33), ""},
		{file("data/sub/nested", "nested\n", 0o644, 33, 33), "nested\n"},
		{dir("emptyvol/", 0o755, 0, 0), ""},
		{link("rootlink", "/"), ""},
		{link("uplink", ".."), ""},
		{link("deepup", "../../../../../../.."), ""},
		{link("escape", "../../../../../../.."+target), ""},
		{link("abs", target), ""},
	}
	for _, x := range extras {
		if err := tw.WriteHeader(x.h); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, x.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
