package image

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/filters"
	"github.com/berth-dev/berth/internal/registry/registrytest"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// TestListFiltersWithPulledImages: image ls filters on pulled images
// (before, since, label, reference, dangling) and their digests.
func TestListFiltersWithPulledImages(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	ctx := context.Background()
	dated := func(day int, label string) v1.Image {
		img := registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"day": label}, false))
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Created = v1.Time{Time: time.Date(2024, 5, day, 0, 0, 0, 0, time.UTC)}
		cf.Config.Labels = map[string]string{"day": label}
		img, _ = mutate.ConfigFile(img, cf)
		return img
	}
	digests := map[string]string{}
	for i, name := range []string{"one", "two", "three"} {
		digests[name] = registrytest.Push(t, addr+"/team/"+name+":v1", dated(i+1, name))
		if err := dist.Pull(ctx, mustRef(t, addr+"/team/"+name+":v1"), PullOptions{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f filters.Args) []string {
		t.Helper()
		res, err := s.List(ctx, ListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range res {
			out = append(out, r.RepoTags...)
		}
		return out
	}
	args := func(kv ...string) filters.Args {
		f := filters.Args{}
		for i := 0; i < len(kv); i += 2 {
			f.Add(kv[i], kv[i+1])
		}
		return f
	}
	ref := func(n string) string { return addr + "/team/" + n + ":v1" }
	if got := list(args("before", ref("three"))); !slices.Equal(got, []string{ref("two"), ref("one")}) {
		t.Errorf("before: %v", got)
	}
	if got := list(args("since", ref("one"))); !slices.Equal(got, []string{ref("three"), ref("two")}) {
		t.Errorf("since: %v", got)
	}
	if got := list(args("label", "day=two")); !slices.Equal(got, []string{ref("two")}) {
		t.Errorf("label: %v", got)
	}
	if got := list(args("reference", addr+"/team/t*")); !slices.Equal(got, []string{ref("three"), ref("two")}) {
		t.Errorf("reference: %v", got)
	}
	// A pattern without tag matches the digest reference too, as in Docker.
	res, _ := s.List(ctx, ListOptions{Filters: args("reference", addr+"/team/one")})
	if len(res) != 1 || !slices.Equal(res[0].RepoDigests, []string{addr + "/team/one@" + digests["one"]}) {
		t.Errorf("digests: %+v", res)
	}
	// The tag moves with a newer push; the old image keeps its digest
	// and is dangling.
	registrytest.Push(t, ref("one"), dated(9, "newer"))
	if err := dist.Pull(ctx, mustRef(t, ref("one")), PullOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	res, _ = s.List(ctx, ListOptions{Filters: args("dangling", "true")})
	if len(res) != 1 || len(res[0].RepoTags) != 0 || !slices.Equal(res[0].RepoDigests, []string{addr + "/team/one@" + digests["one"]}) {
		t.Errorf("dangling: %+v", res)
	}
}

// TestConcurrentPulls: two clients pulling the same image at once both
// succeed, and the store has it once.
func TestConcurrentPulls(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	layers := []v1.Layer{}
	for _, n := range []string{"a", "b", "c", "d"} {
		layers = append(layers, registrytest.Layer(t, map[string]string{n + "/": "", n + "/f": string(make([]byte, 200<<10))}, false))
	}
	registrytest.Push(t, addr+"/team/same:v1", registrytest.Image(t, "", layers...))
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = dist.Pull(context.Background(), mustRef(t, addr+"/team/same:v1"), PullOptions{}, nil)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	images, snaps, blobs := storeState(t, s)
	if images != 1 || snaps != 4 || blobs != 4 {
		t.Errorf("%d images, %d snapshots, %d blobs", images, snaps, blobs)
	}
	assertNoUncommitted(t, s)
}

// TestPullOpaqueDirectory: an opaque directory in an upper layer (a
// directory replaced) hides what lower layers had in it, also when the
// layer was unpacked before its parent was committed.
func TestPullOpaqueDirectory(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	big := string(make([]byte, 2<<20)) // slows the bottom layer down
	l1 := registrytest.Layer(t, map[string]string{"big": big, "data/": "", "data/old": "old", "data/keep/": ""}, false)
	l2 := registrytest.Layer(t, map[string]string{"data/": "", "data/.wh..wh..opq": "", "data/new": "new"}, false)
	img := registrytest.Image(t, "", l1, l2)
	registrytest.Push(t, addr+"/team/opaque:v1", img)
	if err := dist.Pull(context.Background(), mustRef(t, addr+"/team/opaque:v1"), PullOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigName()
	if err := s.RWLayers().CreateRWLayer("opaque", cfg.String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.RWLayers().UnmountRWLayer("opaque"); s.RWLayers().RemoveRWLayer("opaque") })
	rootfs, err := s.RWLayers().MountRWLayer("opaque")
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(rootfs, "data"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"new"}) {
		t.Errorf("data/ holds %v, want [new]", names)
	}
}
