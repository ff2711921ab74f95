package container

import (
	"os"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// resolvingView resolves paths by a table (symlinks of the container);
// the rest of FilesystemView is not used by checkWritable.
type resolvingView struct {
	FilesystemView
	links map[string]string
}

func (v resolvingView) Resolve(p string) (string, error) {
	for from, to := range v.links {
		if p == from || strings.HasPrefix(p, from+"/") {
			return to + strings.TrimPrefix(p, from), nil
		}
	}
	return p, nil
}

func TestCheckWritable(t *testing.T) {
	hc := &containertypes.HostConfig{
		ReadonlyRootfs: true,
		Binds:          []string{"/h/ro:/ro:ro", "/h/rw:/rw", "/h/nested:/rw/ro:ro"},
		Mounts:         []mount.Mount{{Type: mount.TypeTmpfs, Target: "/tmpfs"}},
		Tmpfs:          map[string]string{"/run": "size=8m", "/runro": "ro"},
	}
	v := resolvingView{links: map[string]string{"/var/run": "/run"}}
	for _, tc := range []struct {
		dir     string
		running bool
		want    string // "" writable
	}{
		{"/tmp", true, "container rootfs is marked read-only"},
		{"/ro", true, "mounted volume is marked read-only"},
		{"/ro/deeper", false, "mounted volume is marked read-only"},
		{"/rw", true, ""},
		{"/rw/x", false, ""},
		{"/rw/ro/x", true, "mounted volume is marked read-only"}, // the longest match wins
		{"/rwx", true, "container rootfs is marked read-only"},   // not under /rw
		{"/run/x", true, ""},
		{"/runro", true, "mounted volume is marked read-only"},
		{"/run/x", false, "container rootfs is marked read-only"}, // tmpfs is not mounted when stopped
		{"/tmpfs", true, ""},
		{"/tmpfs", false, "container rootfs is marked read-only"},
	} {
		rec := record{HostConfig: hc}
		upgradeMounts(&rec) // the binds and mounts as create resolves them
		rec.State.Running = tc.running
		err := checkWritable(v, rec, tc.dir)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s (running %v): %v", tc.dir, tc.running, err)
		case tc.want != "" && (err == nil || err.Error() != tc.want || !errdefs.IsInvalidArgument(err)):
			t.Errorf("%s (running %v): %v, want %q", tc.dir, tc.running, err, tc.want)
		}
	}
	// A writable root filesystem takes what no read-only mount covers.
	rec := record{HostConfig: &containertypes.HostConfig{}}
	if err := checkWritable(v, rec, "/tmp"); err != nil {
		t.Errorf("writable rootfs: %v", err)
	}
}

func TestViewMounts(t *testing.T) {
	hc := &containertypes.HostConfig{
		Binds:  []string{"/h/a:/a:ro", "/h/b:/etc/hosts"},
		Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/h/c", Target: "/c"}, {Type: mount.TypeTmpfs, Target: "/t"}},
	}
	dir := t.TempDir()
	rec := record{HostConfig: hc, HostnamePath: dir + "/hostname", HostsPath: dir + "/hosts", ResolvConfPath: dir + "/missing"}
	upgradeMounts(&rec) // the binds and mounts as create resolves them
	for _, f := range []string{rec.HostnamePath, rec.HostsPath} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := viewMounts(rec)
	want := []ViewMount{
		{Source: "/h/a", Destination: "/a", ReadOnly: true},
		{Source: "/h/c", Destination: "/c"},
		{Source: "/h/b", Destination: "/etc/hosts"},
		{Source: rec.HostnamePath, Destination: "/etc/hostname"},
	}
	if len(got) != len(want) {
		t.Fatalf("view mounts %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("mount %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
