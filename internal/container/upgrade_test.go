package container

import (
	"testing"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
)

// Records written before mount points were recorded keep their binds and
// tmpfs mounts across an upgrade.
func TestUpgradeMountsKeepsBinds(t *testing.T) {
	r := record{ID: "c1", HostConfig: &containertypes.HostConfig{
		Binds:  []string{"/srv/data:/data:ro"},
		Mounts: []mount.Mount{{Type: mount.TypeTmpfs, Target: "/cache"}},
	}}
	upgradeMounts(&r)
	if len(r.MountPoints) != 2 {
		t.Fatalf("mount points = %+v, want the bind and the tmpfs", r.MountPoints)
	}
	b, tm := r.MountPoints[1], r.MountPoints[0]
	if b.Type != mount.TypeBind || b.Source != "/srv/data" || b.Destination != "/data" || b.RW {
		t.Errorf("bind = %+v, want /srv/data on /data read-only", b)
	}
	if tm.Type != mount.TypeTmpfs || tm.Destination != "/cache" {
		t.Errorf("tmpfs = %+v, want /cache", tm)
	}

	// A record that has mount points keeps them as they are.
	kept := record{ID: "c2", HostConfig: &containertypes.HostConfig{Binds: []string{"/a:/b"}}, MountPoints: []MountPoint{}}
	upgradeMounts(&kept)
	if len(kept.MountPoints) != 0 {
		t.Errorf("mount points rewritten: %+v", kept.MountPoints)
	}
}
