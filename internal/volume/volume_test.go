package volume_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/volume"
	"github.com/berth-dev/berth/internal/volume/local"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Publish(_ events.Type, action events.Action, id string, _ map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(action)+" "+id)
}

func newService(t *testing.T, root string) (*volume.Service, *recorder) {
	t.Helper()
	drv, err := local.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ev := &recorder{}
	s, err := volume.New(volume.Config{Root: root, Drivers: []volume.Driver{drv}, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	return s, ev
}

func names(vols []volumetypes.Volume) []string {
	var out []string
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateListRemove(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, ev := newService(t, root)
	v, err := s.Create(ctx, volumetypes.CreateRequest{Name: "data", Labels: map[string]string{"team": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Driver != "local" || v.Mountpoint != filepath.Join(root, "data", "_data") || v.Labels["team"] != "a" || v.Scope != "local" {
		t.Fatalf("created %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() {
		t.Fatalf("mountpoint: %v", err)
	}
	// Again: the same volume, labels as first given.
	if again, err := s.Create(ctx, volumetypes.CreateRequest{Name: "data"}); err != nil || again.Labels["team"] != "a" {
		t.Fatalf("create again: %+v %v", again, err)
	}
	anon, err := s.Create(ctx, volumetypes.CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(anon.Name) != 64 {
		t.Fatalf("anonymous name %q", anon.Name)
	}
	if _, ok := anon.Labels[volume.AnonymousLabel]; !ok {
		t.Fatalf("anonymous volume labels %v", anon.Labels)
	}

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{`{"label":{"team=a":true}}`, []string{"data"}},
		{`{"label!":{"team":true}}`, []string{anon.Name}},
		{`{"name":{"dat":true}}`, []string{"data"}},
		{`{"driver":{"local":true}}`, []string{anon.Name, "data"}},
		{`{"dangling":{"true":true}}`, []string{anon.Name, "data"}},
		{`{"dangling":{"false":true}}`, nil},
	} {
		f, err := filters.Parse(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.List(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(names(got), want) {
			t.Errorf("list %s: %v, want %v", tc.filter, names(got), want)
		}
	}
	f, _ := filters.Parse(`{"nope":{"x":true}}`)
	if _, err := s.List(ctx, f); !errdefs.IsInvalidArgument(err) {
		t.Errorf("unknown filter: %v", err)
	}

	// In use: refused, with force too.
	if _, err := s.Reference(ctx, volumetypes.CreateRequest{Name: "data"}, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reference(ctx, volumetypes.CreateRequest{Name: "data"}, "c1"); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		err := s.Remove(ctx, "data", force)
		if !errdefs.IsConflict(err) || err.Error() != "remove data: volume is in use - [c1, c2]" {
			t.Fatalf("remove in use (force %v): %v", force, err)
		}
	}
	s.Release("data", "c1")
	s.Release("data", "c2")
	if err := s.Remove(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) {
		t.Fatalf("data left behind: %v", err)
	}
	if err := s.Remove(ctx, "data", false); !errdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Fatalf("remove missing: %v", err)
	}
	if err := s.Remove(ctx, "data", true); err != nil {
		t.Fatalf("remove -f missing: %v", err)
	}
	if !slices.Contains(ev.got, "create data") || !slices.Contains(ev.got, "destroy data") {
		t.Errorf("events %v", ev.got)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, _ := newService(t, root)
	for _, tc := range []struct {
		req  volumetypes.CreateRequest
		want string
	}{
		{volumetypes.CreateRequest{Name: "a/b"}, `create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{volumetypes.CreateRequest{Name: "../x"}, `create ../x: "../x" includes invalid characters`},
		{volumetypes.CreateRequest{Name: "x"}, "create x: volume name is too short, names should be at least two alphanumeric characters"},
		{volumetypes.CreateRequest{Name: "vv", Driver: "nope"}, `create vv: error looking up volume plugin nope: plugin "nope" not found`},
		{volumetypes.CreateRequest{Name: "vv", DriverOpts: map[string]string{"foo": "bar"}}, `create vv: invalid option: "foo"`},
		{volumetypes.CreateRequest{Name: "vv", DriverOpts: map[string]string{"type": "tmpfs"}}, `create vv: missing required option: "device"`},
	} {
		_, err := s.Create(ctx, tc.req)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.req, err, tc.want)
		}
		if errdefs.IsUnknown(err) {
			t.Errorf("%+v: unclassified error %v", tc.req, err)
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 0 {
		t.Fatalf("bad input left %v", entries)
	}
}

func TestPruneAnonymousOnly(t *testing.T) {
	ctx := context.Background()
	s, _ := newService(t, t.TempDir())
	for _, n := range []string{"named", "used"} {
		if _, err := s.Create(ctx, volumetypes.CreateRequest{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	anon, _ := s.Create(ctx, volumetypes.CreateRequest{})
	usedAnon, _ := s.Reference(ctx, volumetypes.CreateRequest{}, "c")
	s.Reference(ctx, volumetypes.CreateRequest{Name: "used"}, "c")
	rep, err := s.Prune(ctx, filters.Args{}, true)
	if err != nil || !slices.Equal(rep.VolumesDeleted, []string{anon.Name}) {
		t.Fatalf("prune anonymous: %+v %v", rep, err)
	}
	rep, err = s.Prune(ctx, filters.Args{}, false)
	if err != nil || !slices.Equal(rep.VolumesDeleted, []string{"named"}) {
		t.Fatalf("prune all: %+v %v", rep, err)
	}
	left, _ := s.List(ctx, filters.Args{})
	want := []string{usedAnon.Name, "used"}
	slices.Sort(want)
	if !slices.Equal(names(left), want) {
		t.Fatalf("left %v", names(left))
	}
}

// A restarted service adopts the volumes on disk; references are the
// containers' to count again.
func TestReload(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, _ := newService(t, root)
	if _, err := s.Create(ctx, volumetypes.CreateRequest{Name: "kept", Labels: map[string]string{"a": "b"}, DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}}); err != nil {
		t.Fatal(err)
	}
	// A volume directory laid out by Docker, without berth's metadata.
	if err := os.MkdirAll(filepath.Join(root, "fromdocker", "_data"), 0o755); err != nil {
		t.Fatal(err)
	}
	s2, _ := newService(t, root)
	v, err := s2.Get(ctx, "kept")
	if err != nil || v.Labels["a"] != "b" || v.Options["type"] != "tmpfs" {
		t.Fatalf("after reload: %+v %v", v, err)
	}
	if _, err := s2.Get(ctx, "fromdocker"); err != nil {
		t.Fatalf("adopted volume: %v", err)
	}
	if err := s2.Restore("kept", "c1", false); err != nil {
		t.Fatal(err)
	}
	if err := s2.Remove(ctx, "kept", false); !errdefs.IsConflict(err) {
		t.Fatalf("restored reference: %v", err)
	}
	if err := s2.Restore("gone", "c1", false); !errdefs.IsNotFound(err) {
		t.Fatalf("restore of a missing volume: %v", err)
	}
}

// A tmpfs volume is mounted while a container runs with it and
// unmounted after the last one stops.
func TestMountCounting(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts need root")
	}
	ctx := context.Background()
	s, ev := newService(t, t.TempDir())
	if _, err := s.Create(ctx, volumetypes.CreateRequest{Name: "mem", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"c1", "c2"} {
		if _, err := s.Reference(ctx, volumetypes.CreateRequest{Name: "mem"}, c); err != nil {
			t.Fatal(err)
		}
	}
	p1, err := s.Mount(ctx, volume.MountRequest{Name: "mem", ContainerID: "c1", Destination: "/m", RW: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Release("mem", "c1"); s.Release("mem", "c2") })
	if err := os.WriteFile(filepath.Join(p1, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	p2, err := s.Mount(ctx, volume.MountRequest{Name: "mem", ContainerID: "c2", Destination: "/m"})
	if err != nil || p2 != p1 {
		t.Fatalf("second mount: %q %v", p2, err)
	}
	s.Unmount("mem", "c1")
	if _, err := os.Stat(filepath.Join(p1, "f")); err != nil {
		t.Fatalf("unmounted while c2 runs: %v", err)
	}
	s.Unmount("mem", "c2")
	if _, err := os.Stat(filepath.Join(p1, "f")); !os.IsNotExist(err) {
		t.Fatalf("still mounted after the last user stopped: %v", err)
	}
	if !slices.Contains(ev.got, "mount mem") || !slices.Contains(ev.got, "unmount mem") {
		t.Errorf("events %v", ev.got)
	}
}
