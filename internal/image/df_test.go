package image

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
)

// TestDiskUsage: shared layers are counted once; images a container uses
// are active and their layers not reclaimable.
func TestDiskUsage(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	ctx := context.Background()
	base := registrytest.Layer(t, map[string]string{"base": string(make([]byte, 10000))}, false)
	registrytest.Push(t, addr+"/team/a:v1", registrytest.Image(t, "", base))
	registrytest.Push(t, addr+"/team/b:v1", registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"b": string(make([]byte, 5000))}, false)))
	for _, r := range []string{"/team/a:v1", "/team/b:v1"} {
		if err := dist.Pull(ctx, mustRef(t, addr+r), PullOptions{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := s.Get(ctx, addr+"/team/b:v1")
	s.SetContainerUsage(func(id string) []string {
		if id == b.ID {
			return []string{"c1"}
		}
		return nil
	})
	du, err := s.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(du.Images) != 2 || du.LayersSize != 15000 || du.ActiveCount != 1 || du.Reclaimable != 0 {
		t.Errorf("disk usage %+v", du)
	}
	for _, im := range du.Images {
		if im.SharedSize != 10000 {
			t.Errorf("%v shared size %d", im.RepoTags, im.SharedSize)
		}
		if im.ID == b.ID && (im.Containers != 1 || im.Size != 15000) {
			t.Errorf("b: %+v", im)
		}
	}
	s.SetContainerUsage(func(string) []string { return nil })
	du, _ = s.DiskUsage(ctx)
	if du.ActiveCount != 0 || du.Reclaimable != 15000 {
		t.Errorf("unused: %+v", du)
	}
}
