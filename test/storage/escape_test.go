package storage

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// A mount target that is a symlink in the image resolves inside the
// container's root, never on the host: /escape ("../../../..<dir>") and
// /abs ("<dir>") name a directory that exists on the host, and every
// mount through them lands in the container's own <dir>; nothing is
// written to the host's, nothing of it is copied into a volume.
func TestMountTargetSymlinkStaysInRoot(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	img := testImage(t, e)
	host := escapeTarget(t)
	before := dirNames(t, host)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		bindSrc := t.TempDir()
		for _, target := range []string{"/escape", "/abs"} {
			vol := volumeName(t, e, "vol"+target[1:])
			// The volume is filled from the image's own (missing) <dir>,
			// never from the host's.
			if out := c.Run(t, "run", "--rm", "-v", vol+":"+target, img, "ls", "-A", target).OK(t).Out(); out != "" {
				t.Errorf("volume at %s holds %q: copied from the host", target, out)
			}
			c.Run(t, "run", "--rm", "-v", vol+":"+target, img, "sh", "-c", "echo pwned > "+target+"/owned; cat "+host+"/owned").
				OK(t).Assert(t, 0, "pwned")
			c.Run(t, "run", "--rm", "-v", bindSrc+":"+target, img, "sh", "-c", "echo pwned > "+target+"/bound").OK(t)
			c.Run(t, "run", "--rm", "--tmpfs", target, img, "sh", "-c", "echo pwned > "+target+"/tmp").OK(t)
			c.Run(t, "run", "--rm", "--mount", "type=tmpfs,dst="+target, img, "sh", "-c", "echo pwned > "+target+"/tmp").OK(t)
			v, _ := inspectVolume(t, e, vol)
			if _, err := os.Stat(filepath.Join(v.Mountpoint, "owned")); err != nil {
				t.Errorf("the volume at %s did not receive the write: %v", target, err)
			}
		}
		if _, err := os.Stat(filepath.Join(bindSrc, "bound")); err != nil {
			t.Errorf("the bind did not receive the write: %v", err)
		}
	})
	if after := dirNames(t, host); !slices.Equal(before, after) {
		t.Fatalf("the host's %s changed: %v, was %v", host, after, before)
	}
}

// A mount target that is a symlink to "/" or ".." would cover the
// container's whole root: the start fails (Docker's runtime refuses it
// too), and nothing lands on the host's root.
func TestMountTargetSymlinkToRoot(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	img := testImage(t, e)
	before := dirNames(t, "/")
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		src := t.TempDir()
		os.WriteFile(filepath.Join(src, "marker-"+c.Name), []byte("x"), 0o644)
		for _, target := range []string{"/rootlink", "/uplink", "/deepup", "/rootlink/../uplink"} {
			vol := volumeName(t, e, "v"+filepath.Base(target))
			for _, args := range [][]string{
				{"-v", src + ":" + target},
				{"--mount", "type=bind,src=" + src + ",dst=" + target},
				{"--tmpfs", target},
				{"-v", vol + ":" + target},
			} {
				name := e.Name(t)
				run := append(append([]string{"run", "--name", name}, args...), img, "ls", "/")
				r := c.Run(t, run...)
				// Docker's runtime fails (127: its error says "no such
				// file or directory"); berth refuses first (125).
				if r.Code != 125 && r.Code != 127 {
					t.Errorf("%v: want a failed start, got:\n%s", args, r)
				}
				c.Run(t, "rm", "-f", name).OK(t)
				if e.Kind == e2e.KindBerth {
					r.Assert(t, r.Code, "resolves to the container's root directory")
					// Refused before the volume was made.
					if _, ok := inspectVolume(t, e, vol); ok {
						t.Errorf("%v: the volume was created", args)
					}
				}
			}
		}
	})
	if after := dirNames(t, "/"); !slices.Equal(before, after) {
		t.Fatalf("the host's / changed: %v, was %v", after, before)
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
