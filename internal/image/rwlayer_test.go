package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/containerd/errdefs"
)

func TestRWLayerLifecycle(t *testing.T) {
	s, _, root := newService(t)
	loadFile(t, s, fixtureArchive)
	const id = "rwlifecycle0123456789"
	if err := s.RWLayers().CreateRWLayer(id, "busybox"); err != nil {
		t.Fatal(err)
	}
	if err := s.RWLayers().CreateRWLayer(id, fixtureID); err != nil {
		t.Fatalf("create again for the same image: %v", err)
	}
	if err := s.RWLayers().CreateRWLayer("x", "nope"); !errdefs.IsNotFound(err) {
		t.Errorf("rw layer on a missing image: %v", err)
	}
	rootfs, err := s.RWLayers().MountRWLayer(id)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "rw", id, "merged"); rootfs != want {
		t.Errorf("rootfs %s, want %s", rootfs, want)
	}
	again, err := s.RWLayers().MountRWLayer(id)
	if err != nil || again != rootfs {
		t.Fatalf("second mount: %s %v", again, err)
	}
	if b, err := os.ReadFile(filepath.Join(rootfs, "etc/passwd")); err != nil || len(b) == 0 {
		t.Fatalf("image content not visible: %v", err)
	}
	if l, _ := os.Readlink(filepath.Join(rootfs, "bin/sh")); l != "/bin/busybox" {
		t.Errorf("bin/sh -> %q", l)
	}
	// Writes and deletes go to the container's layer only.
	os.WriteFile(filepath.Join(rootfs, "new.txt"), make([]byte, 4096), 0o644)
	os.Remove(filepath.Join(rootfs, "etc/group"))
	// GraphDriver data names where the change is, and the image under it.
	gd, err := s.RWLayers().RWLayerGraphDriver(id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(gd["UpperDir"], "new.txt")); err != nil || gd["MergedDir"] != rootfs {
		t.Errorf("GraphDriver %v: UpperDir without the change (%v) or MergedDir not the rootfs", gd, err)
	}
	if _, err := os.Stat(filepath.Join(gd["LowerDir"], "etc/passwd")); err != nil {
		t.Errorf("GraphDriver LowerDir %q is not the image: %v", gd["LowerDir"], err)
	}
	rw, total, err := s.RWLayers().RWLayerSize(id)
	im, _ := s.Get(context.Background(), "busybox")
	if err != nil || rw != 4096 || total != 4096+im.Size {
		t.Errorf("sizes rw=%d rootfs=%d (image %d): %v", rw, total, im.Size, err)
	}
	// A daemon restart keeps the layer and the mount.
	s = reopen(t, s, root)
	if mounted, _ := layer.IsMountpoint(rootfs); !mounted {
		t.Fatal("rootfs unmounted by a restart")
	}
	if got, err := s.RWLayers().MountRWLayer(id); err != nil || got != rootfs {
		t.Fatalf("mount after restart: %s %v", got, err)
	}
	if err := s.RWLayers().UnmountRWLayer(id); err != nil {
		t.Fatal(err)
	}
	if err := s.RWLayers().UnmountRWLayer(id); err != nil {
		t.Fatalf("second unmount: %v", err)
	}
	if mounted, _ := layer.IsMountpoint(rootfs); mounted {
		t.Fatal("still mounted")
	}
	// Remounting shows the changes again.
	rootfs, _ = s.RWLayers().MountRWLayer(id)
	if _, err := os.Stat(filepath.Join(rootfs, "new.txt")); err != nil {
		t.Errorf("container change lost: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "etc/group")); !os.IsNotExist(err) {
		t.Errorf("deleted file is back: %v", err)
	}
	if err := s.RWLayers().RemoveRWLayer(id); err != nil {
		t.Fatal(err)
	}
	if err := s.RWLayers().RemoveRWLayer(id); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "rw", id)); !os.IsNotExist(err) {
		t.Errorf("rw dir left: %v", err)
	}
	if _, err := s.RWLayers().MountRWLayer(id); !errdefs.IsNotFound(err) {
		t.Errorf("mount of removed layer: %v", err)
	}
	if _, snaps, _ := storeState(t, s); snaps != 1 {
		t.Errorf("%d snapshots, want the image's only", snaps)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if err := s.RWLayers().CreateRWLayer(bad, "busybox"); !errdefs.IsInvalidArgument(err) {
			t.Errorf("container id %q: %v", bad, err)
		}
	}
}

// An image with no layers at all (FROM scratch with only config) still
// gives containers a root filesystem.
func TestRWLayerOnImageWithoutLayers(t *testing.T) {
	s, _, _ := newService(t)
	loadBytes(t, s, ociLayout(t, testImage{name: "scratch-config:1"}))
	if err := s.RWLayers().CreateRWLayer("noflayers", "scratch-config:1"); err != nil {
		t.Fatal(err)
	}
	defer s.RWLayers().RemoveRWLayer("noflayers")
	rootfs, err := s.RWLayers().MountRWLayer("noflayers")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := tarEntries(t, saveImages(t, s, "scratch-config:1"))
	if _, ok := out["manifest.json"]; !ok {
		t.Error("save of an image without layers failed")
	}
}
