package layer

import (
	"os"
	"path/filepath"
	"testing"
)

func TestUnescapeMountPath(t *testing.T) {
	if got := UnescapeMountPath(`/a\040b\134c`); got != `/a b\c` {
		t.Fatalf("got %q", got)
	}
	if ok, err := inMountTable("/proc"); !ok || err != nil {
		t.Fatalf("/proc not found in mountinfo: %v", err)
	}
	if ok, _ := inMountTable("/proc/self"); ok {
		t.Fatal("/proc/self is not a mount point")
	}
}

func TestMountUnmountIdempotent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	src, target := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	if ok, err := IsMountpoint(target); ok || err != nil {
		t.Fatalf("fresh dir: %v %v", ok, err)
	}
	if err := MountAll([]Mount{{Type: "bind", Source: src, Options: []string{"ro", "rbind"}}}, target); err != nil {
		t.Fatal(err)
	}
	if ok, err := IsMountpoint(target); !ok || err != nil {
		t.Fatalf("after mount: %v %v", ok, err)
	}
	if err := os.WriteFile(filepath.Join(target, "g"), nil, 0o644); err == nil {
		t.Error("ro bind mount is writable")
	}
	for i := 0; i < 2; i++ {
		if err := Unmount(target); err != nil {
			t.Fatalf("unmount %d: %v", i, err)
		}
	}
	if ok, _ := IsMountpoint(target); ok {
		t.Fatal("still mounted")
	}
	if err := Unmount(filepath.Join(target, "missing")); err != nil {
		t.Fatalf("unmount of a missing path: %v", err)
	}
	if err := MountAll([]Mount{{Type: "nfs", Source: "x"}}, target); err == nil {
		t.Fatal("unknown mount type accepted")
	}
}
