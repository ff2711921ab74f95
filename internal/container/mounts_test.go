package container

import (
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// The messages are the reference Docker's (20.10, checked side by side).
func TestParseBind(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want MountPoint
		copy bool
		err  string
	}{
		{raw: "/src:/dst", want: MountPoint{Type: mount.TypeBind, Source: "/src", Destination: "/dst", RW: true, Propagation: "rprivate", CreateSource: true}},
		{raw: "/src/:/dst:ro,z", want: MountPoint{Type: mount.TypeBind, Source: "/src", Destination: "/dst", Mode: "ro,z", Propagation: "rprivate", CreateSource: true}},
		{raw: "/src:/dst:rslave,Z,rw", want: MountPoint{Type: mount.TypeBind, Source: "/src", Destination: "/dst", Mode: "rslave,Z,rw", RW: true, Propagation: "rslave", CreateSource: true}},
		{raw: "data:/dst", copy: true, want: MountPoint{Type: mount.TypeVolume, Name: "data", Destination: "/dst", Mode: "z", RW: true, Driver: "drv"}},
		{raw: "data:/dst:ro,nocopy", want: MountPoint{Type: mount.TypeVolume, Name: "data", Destination: "/dst", Mode: "ro,nocopy", Driver: "drv"}},
		{raw: "/anon", copy: true, want: MountPoint{Type: mount.TypeVolume, Destination: "/anon", Mode: "z", RW: true, Driver: "drv", Anonymous: true}},
		{raw: "/src:rel", err: `invalid volume specification: '/src:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{raw: "/src:/x:bogus", err: "invalid mode: bogus"},
		{raw: "/src:/x:ro,rw", err: "invalid mode: ro,rw"},
		{raw: "/src:/x:z,Z", err: "invalid mode: z,Z"},
		{raw: "/src:/x:shared,slave", err: "invalid mode: shared,slave"},
		{raw: "/src:/x:nocopy", err: `invalid volume specification: '/src:/x:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`},
		{raw: "vol:/x:rshared", err: `invalid volume specification: 'vol:/x:rshared': invalid mount config for type "volume": field BindOptions must not be specified`},
		{raw: "/x:ro", err: "invalid volume specification: '/x:ro'"},
		{raw: "a:b:c:d", err: "invalid volume specification: 'a:b:c:d'"},
		{raw: "/src:/", err: `invalid volume specification: '/src:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`},
		{raw: "vol:/", err: `invalid volume specification: 'vol:/': invalid mount config for type "volume": invalid specification: destination can't be '/'`},
	} {
		got, err := parseBind(tc.raw, "drv")
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: %v, want %q", tc.raw, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.raw, err)
			continue
		}
		if got.MountPoint != tc.want || got.copyData != tc.copy {
			t.Errorf("%s:\n%+v copy %v\nwant\n%+v copy %v", tc.raw, got.MountPoint, got.copyData, tc.want, tc.copy)
		}
	}
}

func TestMountSpecs(t *testing.T) {
	exists := func(p string) bool { return p == "/exists" }
	for _, tc := range []struct {
		hc  containertypes.HostConfig
		err string
	}{
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/exists", Target: "rel"}}}, err: `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Target: "/x"}}}, err: `invalid mount config for type "bind": field Source must not be empty`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/missing", Target: "/x"}}}, err: `invalid mount config for type "bind": bind source path does not exist: /missing`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/exists", Target: "/"}}}, err: `invalid mount config for type "bind": invalid specification: destination can't be '/'`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Source: "foo", Target: "/x"}}}, err: `invalid mount config for type "tmpfs": field Source must not be specified`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: "bogus", Target: "/x"}}}, err: `invalid mount config for type "bogus": mount type unknown`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/x", BindOptions: &mount.BindOptions{}}}}, err: `invalid mount config for type "volume": field BindOptions must not be specified`},
		{hc: containertypes.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume}}}, err: `invalid mount config for type "volume": field Target must not be empty`},
		{hc: containertypes.HostConfig{Binds: []string{"/a:/x", "v1:/x"}}, err: "Duplicate mount point: /x"},
		{hc: containertypes.HostConfig{Binds: []string{"/a:/x"}, Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/x/"}}}, err: "Duplicate mount point: /x/"},
		{hc: containertypes.HostConfig{Binds: []string{"v1:/x"}, Tmpfs: map[string]string{"/x": ""}}, err: "Duplicate mount point: /x"},
		{hc: containertypes.HostConfig{Binds: []string{"/a:/x", "v1:/y"}, Mounts: []mount.Mount{{Type: mount.TypeBind, Source: "/exists", Target: "/z"}}, Tmpfs: map[string]string{"/t": ""}}},
	} {
		_, err := mountSpecs(&tc.hc, exists)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.err {
			t.Errorf("%+v: %q, want %q", tc.hc, got, tc.err)
		}
	}
}

func TestParseVolumesFrom(t *testing.T) {
	for _, tc := range []struct {
		spec, ref string
		rw        bool
		err       string
	}{
		{spec: "app", ref: "app", rw: true},
		{spec: "app:ro", ref: "app"},
		{spec: "app:rw", ref: "app", rw: true},
		{spec: "app:xx", err: "invalid mode: xx"},
	} {
		ref, rw, err := parseVolumesFrom(tc.spec)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: %v", tc.spec, err)
			}
			continue
		}
		if err != nil || ref != tc.ref || rw != tc.rw {
			t.Errorf("%s: %q %v %v", tc.spec, ref, rw, err)
		}
	}
}
