package test

import (
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// busyboxLayer is the test busybox as a gzip layer, to build runnable
// images on.
func busyboxLayer(t *testing.T) v1.Layer {
	t.Helper()
	data, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	return registrytest.LayerOf(t, data, false)
}

// TestPullFormatsAndAllTags: pull --all-tags of a repository whose tags
// are a Docker schema 2 image, an OCI image with a zstd layer and an OCI
// index; each runs.
func TestPullFormatsAndAllTags(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	base := busyboxLayer(t)
	gz := registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"etc/": "", "etc/format": "gzip\n"}, false))
	zst := mutate.MediaType(registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"etc/": "", "etc/format": "zstd\n"}, true)), types.OCIManifestSchema1)
	idx := registrytest.PlatformIndex(types.OCIImageIndex, map[string]v1.Image{
		runtime.GOARCH: mutate.MediaType(registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"etc/": "", "etc/format": "index\n"}, false)), types.OCIManifestSchema1),
	})
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		repo := addr + "/team/" + repoName(t)
		registrytest.Push(t, repo+":gzip", gz)
		registrytest.Push(t, repo+":zstd", zst)
		registrytest.PushIndex(t, repo+":index", idx)
		t.Cleanup(func() { c.Run(t, "rmi", repo+":gzip", repo+":zstd", repo+":index") })
		r := c.Run(t, "pull", "--all-tags", repo)
		if e.DockerOlderThan(t, 25) {
			// Docker 20.10 fails on zstd layers ("failed to register
			// layer: … unexpected EOF"); 25+ pulls them.
			r.Assert(t, 1, "failed to register layer")
			return
		}
		r.Assert(t, 0,
			"gzip: Pulling from team/"+repoName(t), "zstd: Pulling from team/"+repoName(t), "index: Pulling from team/"+repoName(t),
			"Status: Downloaded newer image for "+repo)
		for _, tag := range []string{"gzip", "zstd", "index"} {
			c.Run(t, "run", "--rm", repo+":"+tag, "cat", "/etc/format").Assert(t, 0, tag+"\n")
		}
		if got := c.Run(t, "images", "--format", "{{.Tag}}", repo).OK(t).Lines(); len(got) != 3 {
			t.Errorf("tags after pull -a: %q", got)
		}
	})
}

// TestPullReusesLayers: a layer already present is not downloaded again
// ("Already exists").
func TestPullReusesLayers(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	proxy := newRegistryProxy(t, addr, proxyOptions{})
	shared := registrytest.Layer(t, map[string]string{"shared": repoName(t)}, false)
	a := registrytest.Image(t, "", shared, registrytest.Layer(t, map[string]string{"a": repoName(t)}, false))
	b := registrytest.Image(t, "", shared, registrytest.Layer(t, map[string]string{"b": repoName(t)}, false))
	repo := proxy.Addr + "/team/" + repoName(t)
	registrytest.Push(t, addr+"/team/"+repoName(t)+":a", a)
	registrytest.Push(t, addr+"/team/"+repoName(t)+":b", b)
	t.Cleanup(func() { e.Docker().Run(t, "rmi", repo+":a", repo+":b") })

	e.Docker().Run(t, "pull", repo+":a").OK(t)
	sd, _ := shared.Digest()
	e.Docker().Run(t, "pull", repo+":b").Assert(t, 0, sd.Hex[:12]+": Already exists")
	if gets, _, _ := proxy.stats(); gets[sd.String()] != 1 {
		t.Errorf("the shared layer was downloaded %d times", gets[sd.String()])
	}
}

// TestTransferConcurrency: a pull downloads its layers in parallel, by
// default at most three at a time and a push five (Docker's defaults);
// max-concurrent-downloads and max-concurrent-uploads in daemon.json
// change that. The limits are the daemon's, so each engine is private.
func TestTransferConcurrency(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		config             string
		downloads, uploads int
	}{
		{"defaults", "", 3, 5},
		{"configured", `{"max-concurrent-downloads": 1, "max-concurrent-uploads": 2}`, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := e2e.StartPrivate(t, e2e.PrivateOptions{DaemonJSON: tc.config})
			addr, _ := registryServe(t)
			proxy := newRegistryProxy(t, addr, proxyOptions{hold: 300 * time.Millisecond})
			img := randomImage(t, 6)
			registrytest.Push(t, addr+"/team/"+repoName(t)+":v1", img)
			ref := proxy.Addr + "/team/" + repoName(t) + ":v1"
			c := e.Docker()
			c.Run(t, "pull", ref).Assert(t, 0, ": Waiting")
			// Another registry, so that no layer can be mounted.
			addr2, _ := registryServe(t)
			proxy2 := newRegistryProxy(t, addr2, proxyOptions{hold: 300 * time.Millisecond})
			c.Run(t, "tag", ref, proxy2.Addr+"/team/"+repoName(t)+":v1").OK(t)
			c.Run(t, "push", proxy2.Addr+"/team/"+repoName(t)+":v1").Assert(t, 0, ": Waiting", ": Pushed")
			_, _, uploads := proxy2.stats()
			if downloads := proxy.maxDownloads(t, img); downloads != tc.downloads || uploads != tc.uploads {
				t.Errorf("%d downloads and %d uploads at once, want %d and %d", downloads, uploads, tc.downloads, tc.uploads)
			}
		})
	}
}

// TestPullBadLayers: layers that are not what they claim, or try to
// write outside the image, fail the pull with Docker's error and leave
// nothing behind; absolute paths and device nodes are a layer's right.
func TestPullBadLayers(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	escape := "/tmp/" + repoName(t) + "-escaped"
	t.Cleanup(func() { os.Remove(escape) })
	c := e.Docker()
	garbage := static.NewLayer([]byte(strings.Repeat("not a layer ", 100)), types.DockerLayer)
	for _, tc := range []struct {
		name  string
		img   v1.Image
		wants []string // one of
	}{
		// Docker 20.10 unpacks "../" entries at the root of the layer
		// (and breaks on save); go-archive, as Docker 25+ has it, refuses them.
		{"dotdot", registrytest.Image(t, "", registrytest.LayerOf(t, tarOf(t, tarEntry{name: "../../../.." + escape, body: "x"}), false)), []string{"invalid entry name", ""}},
		{"garbage", registrytest.Image(t, "", garbage), []string{"failed to register layer: "}},
		{"wrong-diffid", editConfig(t, registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"a": "b"}, false)), func(cf *v1.ConfigFile) {
			cf.RootFS.DiffIDs[0] = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
		}), []string{"layers from manifest don't match image configuration", "failed to register layer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := addr + "/team/" + repoName(t) + ":v1"
			registrytest.Push(t, ref, tc.img)
			r := c.Run(t, "pull", ref)
			checkNoEscape(t, escape)
			if r.Code == 0 && slices.Contains(tc.wants, "") {
				c.Run(t, "rmi", ref).OK(t)
				return
			}
			r.AssertAny(t, 1, tc.wants...)
			c.Run(t, "image", "inspect", ref).Assert(t, 1, "No such image")
			c.Run(t, "image", "inspect", imageID(t, tc.img)).Assert(t, 1, "No such image")
		})
	}

	// Absolute names are relative to the layer root; device nodes are
	// made as in any rootful engine.
	ref := addr + "/team/" + repoName(t) + "-ok:v1"
	registrytest.Push(t, ref, registrytest.Image(t, "", busyboxLayer(t), registrytest.LayerOf(t, tarOf(t,
		tarEntry{name: "/etc/absolute", body: "inside\n"},
		tarEntry{name: "srv/", dir: true},
		tarEntry{name: "srv/null", char: [2]int64{1, 3}}), false)))
	t.Cleanup(func() { c.Run(t, "rmi", ref) })
	c.Run(t, "pull", ref).OK(t)
	c.Run(t, "run", "--rm", ref, "sh", "-c", "cat /etc/absolute; ls -l /srv/null").Assert(t, 0, "inside\n", "1,   3")
}
