package storage

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestVolumeSubpath: --mount volume-subpath mounts a directory or a file
// of a volume (Docker 26 and later; the reference 20.10 has no subpaths).
// Subpaths resolve inside the volume: a symlink the volume holds never
// leads the mount to the host. Bad subpaths get Docker's errors, and a
// stopped container's subpath mount is what docker cp sees.
func TestVolumeSubpath(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.BerthOnly(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := volumeName(t, e, "sub")
		c.Run(t, "volume", "create", vol).OK(t)
		c.Run(t, "run", "--rm", "-v", vol+":/v", "busybox", "sh", "-c",
			"mkdir -p /v/sub && echo in-sub > /v/sub/f && echo top > /v/top && ln -s / /v/escape && ln -s ../../../.. /v/sub/up").OK(t)
		sub := func(subpath, dst string) string {
			return "type=volume,src=" + vol + ",dst=" + dst + ",volume-subpath=" + subpath
		}

		out := c.Run(t, "run", "--rm", "--mount", sub("sub", "/d"), "busybox", "sh", "-c", "cat /d/f; ls /d").OK(t).Stdout
		if !strings.Contains(out, "in-sub") || strings.Contains(out, "top") {
			t.Errorf("a directory subpath:\n%s", out)
		}
		c.Run(t, "run", "--rm", "--mount", sub("top", "/t"), "busybox", "cat", "/t").Assert(t, 0, "top")
		// Symlinks to / and up past the volume's root stay in the volume.
		for _, s := range []string{"escape", "sub/up"} {
			out := c.Run(t, "run", "--rm", "--mount", sub(s, "/d"), "busybox", "ls", "/d").OK(t).Stdout
			if !strings.Contains(out, "top") || strings.Contains(out, "proc") {
				t.Errorf("subpath %s through a symlink shows:\n%s", s, out)
			}
		}

		c.Run(t, "run", "--rm", "--mount", sub("../x", "/d"), "busybox", "true").
			Assert(t, 125, `invalid mount config for type "volume": subpath must be a relative path within the volume`)
		c.Run(t, "run", "--rm", "--mount", "type=volume,dst=/d,volume-subpath=x", "busybox", "true").
			Assert(t, 125, `invalid mount config for type "volume": must not set Subpath when using anonymous volumes`)
		// (The CLI gives 127 to any error that says "no such file or directory".)
		c.Run(t, "run", "--rm", "--mount", sub("nope", "/d"), "busybox", "true").
			Assert(t, 127, "cannot access path", "/nope: no such file or directory")

		name := e.Name(t)
		c.Run(t, "create", "--name", name, "--mount", sub("sub", "/d"), "busybox", "true").OK(t)
		c.Run(t, "cp", name+":/d/f", "-").Assert(t, 0, "in-sub")
	})
}
