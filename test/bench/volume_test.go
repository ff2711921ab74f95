package bench

import (
	"context"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// A run with a volume next to BenchmarkRunRmNetworkNone: the volume's
// cost is the difference. The named volume is filled from the image on
// first use only; each anonymous one is new (created, checked for image
// content, removed with the container).

func BenchmarkRunRmNamedVolume(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	ctx := context.Background()
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "bench-named"}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cli.VolumeRemove(ctx, "bench-named", client.VolumeRemoveOptions{Force: true}) })
	hc := func() *container.HostConfig {
		return &container.HostConfig{NetworkMode: "none", Binds: []string{"bench-named:/data"}}
	}
	runRm(b, cli, hc())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runRm(b, cli, hc())
	}
}

func BenchmarkRunRmAnonymousVolume(b *testing.B) {
	e := e2e.Current(b)
	cli := e.Client(b)
	hc := func() *container.HostConfig {
		return &container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{{Type: mount.TypeVolume, Target: "/data"}}}
	}
	runRm(b, cli, hc())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runRm(b, cli, hc())
	}
}
