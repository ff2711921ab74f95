package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestRWLayer: each container writes to its own read-write layer on
// overlayfs (inspect's GraphDriver data says where), which survives a
// stop and start and is freed when the container is removed.
func TestRWLayer(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "busybox", "sh", "-c", "echo data > /marker; echo ready; exec sleep 1000").OK(t)
		e.WaitLog(t, name, "ready", 20*time.Second)
		gd := e.Inspect(t, name).GraphDriver
		if gd == nil || gd.Name != "overlay2" {
			t.Fatalf("GraphDriver %+v, want overlay2", gd)
		}
		upper, merged := gd.Data["UpperDir"], gd.Data["MergedDir"]
		if b, err := os.ReadFile(filepath.Join(upper, "marker")); err != nil || string(b) != "data\n" {
			t.Fatalf("the container's write in its UpperDir %s: %q %v", upper, b, err)
		}
		if _, err := os.Stat(filepath.Join(upper, "etc", "passwd")); err == nil {
			t.Errorf("the image's files are copied into the rw layer %s", upper)
		}
		if _, err := os.Stat(filepath.Join(merged, "etc", "passwd")); err != nil {
			t.Errorf("MergedDir %s is not the running container's rootfs: %v", merged, err)
		}
		if !strings.Contains(gd.Data["LowerDir"], "/") {
			t.Errorf("no LowerDir: %v", gd.Data)
		}
		// Another container of the same image has a layer of its own.
		c.Run(t, "run", "--rm", "busybox", "cat", "/marker").Assert(t, 1, "No such file")

		c.Run(t, "stop", "-t", "0", name).OK(t)
		c.Run(t, "start", name).OK(t)
		c.Run(t, "exec", name, "cat", "/marker").Assert(t, 0, "data")

		c.Run(t, "rm", "-f", name).OK(t)
		for _, dir := range []string{upper, merged} {
			if _, err := os.Stat(filepath.Join(dir, "marker")); !os.IsNotExist(err) {
				t.Errorf("%s still holds the removed container's file: %v", dir, err)
			}
		}
		if _, err := os.Stat(upper); !os.IsNotExist(err) {
			t.Errorf("the removed container's rw layer %s is still there: %v", upper, err)
		}
	})
}
