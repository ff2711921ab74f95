package storage

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// The image's VOLUME gets an anonymous volume, and a new or empty volume
// mounted over image content is filled with it on first use (owners,
// modes, symlinks, hard links kept), unless nocopy; a volume with data
// is never overwritten.
func TestImageVolumesArePrePopulated(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	img := testImage(t, e)
	const probe = `stat -c '%n %u:%g %a' /data /data/seed /data/suid /data/sub /data/sub/nested; readlink /data/link; readlink /data/out; ` +
		`[ "$(stat -c %i /data/seed)" = "$(stat -c %i /data/hard)" ] && echo hardlinked; cat /data/seed; ls -A /emptyvol | wc -l`
	const want = "/data 1000:1000 750\n/data/seed 1000:1000 640\n/data/suid 0:0 4755\n/data/sub 33:33 700\n/data/sub/nested 33:33 644\n" +
		"seed\n/etc/hostname\nhardlinked\nseed\n0"
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		named, nocopy, mounted, full := volumeName(t, e, "named"), volumeName(t, e, "nocopy"), volumeName(t, e, "mounted"), volumeName(t, e, "full")
		name := e.Name(t)
		c.Run(t, "create", "--name", name, img, "sh", "-c", probe).OK(t)
		ins := e.Inspect(t, name)
		for _, dst := range []string{"/data", "/emptyvol"} {
			m := mountAt(t, ins, dst)
			if m.Type != mount.TypeVolume || !anonymousName.MatchString(m.Name) || !m.RW {
				t.Errorf("image volume %s: %+v", dst, m)
			}
		}
		if out := c.Run(t, "start", "-a", name).OK(t).Out(); out != want {
			t.Errorf("anonymous volume from the image:\n%s\nwant:\n%s", out, want)
		}
		if out := c.Run(t, "run", "--rm", "-v", named+":/data", img, "sh", "-c", probe).OK(t).Out(); out != want {
			t.Errorf("named volume over the image's /data:\n%s\nwant:\n%s", out, want)
		}
		// Once filled, the volume carries its own content.
		if out := c.Run(t, "run", "--rm", "-v", named+":/elsewhere", e2e.Image, "cat", "/elsewhere/sub/nested").OK(t).Out(); out != "nested" {
			t.Errorf("the filled volume elsewhere: %q", out)
		}

		for _, args := range [][]string{
			{"-v", nocopy + ":/data:nocopy"},
			{"--mount", "type=volume,src=" + nocopy + ",dst=/data,volume-nocopy"},
		} {
			run := append(append([]string{"run", "--rm"}, args...), img, "ls", "-A", "/data")
			if out := c.Run(t, run...).OK(t).Out(); out != "" {
				t.Errorf("%v: /data holds %q, want nothing", args, out)
			}
		}
		if out := c.Run(t, "run", "--rm", "--mount", "type=volume,src="+mounted+",dst=/data", img, "cat", "/data/seed").OK(t).Out(); out != "seed" {
			t.Errorf("--mount volume over /data: %q", out)
		}

		c.Run(t, "run", "--rm", "-v", full+":/v", e2e.Image, "sh", "-c", "echo mine > /v/seed").OK(t)
		if out := c.Run(t, "run", "--rm", "-v", full+":/data", img, "sh", "-c", "cat /data/seed; ls /data").OK(t).Out(); out != "mine\nseed" {
			t.Errorf("a volume with data over /data: %q, want its own data only", out)
		}

		// A bind or a tmpfs over an image volume replaces it: no
		// anonymous volume for that path.
		other := e.Name(t, "other")
		c.Run(t, "create", "--name", other, "-v", t.TempDir()+":/data", "--tmpfs", "/emptyvol", img, "true").OK(t)
		ins = e.Inspect(t, other)
		if m := mountAt(t, ins, "/data"); m.Type != mount.TypeBind {
			t.Errorf("/data with a bind: %+v", m)
		}
		if hasMountAt(ins, "/emptyvol") {
			t.Errorf("/emptyvol with --tmpfs got a volume: %+v", ins.Mounts)
		}
		if n := len(ins.Mounts); n != 1 {
			t.Errorf("mounts: %+v, want the bind only", ins.Mounts)
		}
		if out := c.Run(t, "start", "-a", other).OK(t).Out(); strings.TrimSpace(out) != "" {
			t.Errorf("start: %q", out)
		}
	})
}
