package container

import (
	"context"
	"os"
	"slices"
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

// mountingVolumes is the volume store as a stopped container's view
// uses it: Mount gives a host path, Unmount is recorded.
type mountingVolumes struct {
	VolumeMounter
	mounted map[string]string // volume name → container
}

func (v *mountingVolumes) Mount(ctx context.Context, m VolumeMount) (string, error) {
	if m.Name == "gone" {
		return "", errdefs.ErrNotFound.WithMessage("no such volume: gone")
	}
	v.mounted[m.Name] = m.ContainerID
	return "/mnt/" + m.Name, nil
}

func (v *mountingVolumes) Unmount(name, containerID string) {
	if v.mounted[name] != containerID {
		panic("unmount of a volume the view did not mount: " + name)
	}
	delete(v.mounted, name)
}

func TestViewMounts(t *testing.T) {
	dir := t.TempDir()
	a, c := t.TempDir(), t.TempDir()
	hc := &containertypes.HostConfig{
		Binds:  []string{a + ":/a:ro", dir + "/new/b:/etc/hosts"},
		Mounts: []mount.Mount{{Type: mount.TypeBind, Source: c, Target: "/c"}, {Type: mount.TypeTmpfs, Target: "/t"}},
	}
	rec := record{HostConfig: hc, HostnamePath: dir + "/hostname", HostsPath: dir + "/hosts", ResolvConfPath: dir + "/missing"}
	rec.ID = "c1"
	upgradeMounts(&rec) // the binds and mounts as create resolves them
	rec.MountPoints = append(rec.MountPoints,
		MountPoint{Type: mount.TypeVolume, Name: "v1", Source: "/data/v1", Destination: "/v1", RW: true},
		MountPoint{Type: mount.TypeVolume, Name: "v2", Source: "/data/v2", Destination: "/v2"})
	for _, f := range []string{rec.HostnamePath, rec.HostsPath} {
		if err := os.WriteFile(f, []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vols := &mountingVolumes{mounted: map[string]string{}}
	s := &Service{deps: Deps{Volumes: vols}}
	got, unmount, err := s.viewMounts(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	want := []ViewMount{
		{Source: a, Destination: "/a", ReadOnly: true},
		{Source: c, Destination: "/c"},
		{Source: dir + "/new/b", Destination: "/etc/hosts"},
		{Source: "/mnt/v1", Destination: "/v1"},                 // where the store mounted it
		{Source: "/mnt/v2", Destination: "/v2", ReadOnly: true}, // not Source: a volume with options is mounted there
		{Source: rec.HostnamePath, Destination: "/etc/hostname"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("view mounts\n%+v\nwant\n%+v", got, want)
	}
	// A -v bind's missing source is created, as a start creates it.
	if fi, err := os.Stat(dir + "/new/b"); err != nil || !fi.IsDir() {
		t.Errorf("the -v bind's source: %v %v", fi, err)
	}
	if len(vols.mounted) != 2 || vols.mounted["v1"] != "c1" {
		t.Errorf("volumes mounted for the view: %v", vols.mounted)
	}
	unmount()
	if len(vols.mounted) != 0 {
		t.Errorf("volumes left mounted after the view: %v", vols.mounted)
	}

	// A volume that cannot be mounted, or a --mount bind whose source
	// is gone, fails the view and gives back the volumes mounted before.
	for _, tc := range []struct {
		mp    MountPoint
		class func(error) bool
		msg   string
	}{
		{MountPoint{Type: mount.TypeVolume, Name: "gone", Destination: "/x"}, errdefs.IsNotFound, "no such volume: gone"},
		{MountPoint{Type: mount.TypeBind, Source: dir + "/vanished", Destination: "/x"}, errdefs.IsInvalidArgument,
			`invalid mount config for type "bind": bind source path does not exist: ` + dir + "/vanished"},
	} {
		r := rec
		r.MountPoints = append(slices.Clone(rec.MountPoints), tc.mp)
		if _, _, err := s.viewMounts(context.Background(), r); !tc.class(err) || err.Error() != tc.msg {
			t.Errorf("view with %+v: %v", tc.mp, err)
		}
		if len(vols.mounted) != 0 {
			t.Errorf("volumes left mounted after a failed view: %v", vols.mounted)
		}
	}
}
