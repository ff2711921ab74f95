package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestDaemonKilledMidTransfer kills the daemon (SIGKILL) in the middle of
// a pull, a push and a load: after a restart nothing half-stored is
// visible, every image left still saves whole, and the same operation
// run again completes. Berth-specific: the reference dockerd is not ours
// to kill.
func TestDaemonKilledMidTransfer(t *testing.T) {
	t.Parallel()
	e2e.Current(t).BerthOnly(t)
	e := e2e.StartPrivate(t, e2e.PrivateOptions{})
	c := e.Docker()
	addr, _ := registryServe(t)
	marker := repoName(t)
	// A megabyte of noise, so that there is a download to cut (the
	// busybox layer is there already).
	noise, err := random.Layer(1<<20, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.Image(t, "", busyboxLayer(t), noise, registrytest.Layer(t, map[string]string{"etc/": "", "etc/marker": marker + "\n"}, false))
	registrytest.Push(t, addr+"/team/"+marker+":v1", img)

	killAndRestart := func(t *testing.T) {
		t.Helper()
		if err := e.Daemon.Kill(); err != nil {
			t.Fatal(err)
		}
		e.Restart(t)
		// Nothing an interrupted operation wrote is left half done.
		ingest := filepath.Join(e.DataRoot, "image", "content", "ingest")
		if entries, err := os.ReadDir(ingest); err != nil || len(entries) > 0 {
			t.Errorf("ingest after restart: %v, %v", entries, err)
		}
		// Every image left saves: all its blobs are there.
		ids := c.Run(t, "images", "-q").OK(t).Lines()
		c.Run(t, append([]string{"save", "-o", filepath.Join(t.TempDir(), "all.tar")}, ids...)...).OK(t)
	}

	t.Run("pull", func(t *testing.T) {
		proxy := newRegistryProxy(t, addr, proxyOptions{stallAt: 300 << 10})
		ref := proxy.Addr + "/team/" + marker + ":v1"
		pull := c.Start(t, "pull", ref)
		waitStalled(t, proxy)
		killAndRestart(t)
		pull.Wait(t, 30*time.Second)
		c.Run(t, "image", "inspect", ref).Assert(t, 1, "No such image")
		c.Run(t, "image", "inspect", imageID(t, img)).Assert(t, 1, "No such image")
		proxy.Release()
		c.Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
		c.Run(t, "run", "--rm", ref, "cat", "/etc/marker").Assert(t, 0, marker)
	})

	t.Run("push", func(t *testing.T) {
		other, _ := registryServe(t)
		proxy := newRegistryProxy(t, other, proxyOptions{stallAt: 100 << 10})
		ref := proxy.Addr + "/team/" + repoName(t) + ":v1"
		c.Run(t, "tag", imageID(t, img), ref).OK(t)
		push := c.Start(t, "push", ref)
		waitStalled(t, proxy)
		killAndRestart(t)
		push.Wait(t, 30*time.Second)
		proxy.Release()
		out := c.Run(t, "push", ref).OK(t).Stdout
		m := digestLine.FindStringSubmatch(out)
		if m == nil || registryDigest(t, ref) != m[1] {
			t.Errorf("push after the restart:\n%s", out)
		}
	})

	t.Run("load", func(t *testing.T) {
		tag := repoName(t) + ":v1"
		saved := []byte(c.Run(t, "save", imageID(t, img)).OK(t).Stdout)
		loaded := editConfig(t, img, func(cf *v1.ConfigFile) { cf.Config.Labels = map[string]string{"load": "yes"} })
		archive := dockerArchive(t, tag, loaded)
		if len(archive) < 1<<20 {
			t.Fatalf("archive of %d bytes is too small to cut", len(archive))
		}
		c.Run(t, "rmi", "-f", imageID(t, img)).OK(t) // its layers must come from the archive
		load := c.Start(t, "load")
		// Once a megabyte went through the pipe, the daemon is reading
		// an archive it cannot finish.
		if err := load.Write(string(archive[:1<<20])); err != nil {
			t.Fatal(err)
		}
		killAndRestart(t)
		load.CloseStdin() // the CLI waits on its input, not on the daemon
		load.Wait(t, 30*time.Second)
		c.Run(t, "image", "inspect", tag).Assert(t, 1, "No such image")
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(string(archive))}, "load").Assert(t, 0, "Loaded image: "+tag)
		c.Run(t, "run", "--rm", tag, "cat", "/etc/marker").Assert(t, 0, marker)
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(string(saved))}, "load").OK(t)
	})
}

// waitStalled waits until the proxy holds a transfer.
func waitStalled(t *testing.T, p *registryProxy) {
	t.Helper()
	select {
	case <-p.Stalled:
	case <-time.After(30 * time.Second):
		t.Fatal("no transfer reached the proxy")
	}
}
