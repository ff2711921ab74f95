// Package test holds the end-to-end tests of image distribution (issue
// 3): pull, push, login, search and image management between the engine
// under test, berth's own registry (`berth registry serve`), Debian's
// docker-registry (distribution 2.8) and a reference dockerd, driven by
// the stock docker CLI and the berth CLI. Run them against Docker itself
// with E2E_TARGET=docker.
package test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }

var digestLine = regexp.MustCompile(`(?m)^v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)$`)

// TestPushPullRoundTrip is the walk-through against berth's
// registry and against distribution 2.8: tag, push (progress, digest
// line), remove, pull by tag (progress, Digest and Status lines), pull by
// digest, and the RepoDigests that result.
func TestPushPullRoundTrip(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	forEachRegistry(t, "", func(t *testing.T, addr, _ string) {
		// The names use localhost, which Docker treats as insecure.
		addr = strings.Replace(addr, "127.0.0.1", "localhost", 1)
		e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
			src := repoName(t) + ":src"
			ref := addr + "/team/" + repoName(t) + ":v1"
			uniqueImage(t, c, src)
			c.Run(t, "tag", src, ref).OK(t)
			push := c.Run(t, "push", ref).Assert(t, 0, "The push refers to repository ["+strings.TrimSuffix(ref, ":v1")+"]", ": Pushed")
			m := digestLine.FindStringSubmatch(push.Stdout)
			if m == nil {
				t.Fatalf("no digest line:\n%s", push)
			}
			dgst := m[1]
			c.Run(t, "rmi", ref, src).OK(t)
			pull := c.Run(t, "pull", ref).Assert(t, 0,
				"v1: Pulling from team/"+repoName(t),
				": Pull complete",
				"Digest: "+dgst,
				"Status: Downloaded newer image for "+ref)
			if !strings.HasSuffix(pull.Out(), ref) {
				t.Errorf("pull does not end with the reference:\n%s", pull)
			}
			c.Run(t, "pull", ref).Assert(t, 0, "Status: Image is up to date for "+ref)
			byDigest := strings.TrimSuffix(ref, ":v1") + "@" + dgst
			c.Run(t, "pull", byDigest).Assert(t, 0, dgst+": Pulling from team/"+repoName(t), "Status: Image is up to date for "+byDigest)
			out := c.Run(t, "image", "inspect", "--format", "{{json .RepoDigests}}", ref).OK(t).Out()
			if !strings.Contains(out, byDigest) {
				t.Errorf("RepoDigests %s, want %s", out, byDigest)
			}
			out = c.Run(t, "images", "--digests", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}", strings.TrimSuffix(ref, ":v1")).OK(t).Out()
			if out != ref+" "+dgst {
				t.Errorf("images --digests: %q", out)
			}
			c.Run(t, "rmi", ref).OK(t)
		})
	})
}

// TestPullJSONMessages: the progress messages of a pull, as the API
// sends them (the CLIs draw their bars from these), are Docker's.
func TestPullJSONMessages(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	ref := addr + "/team/" + repoName(t) + ":v1"
	img := randomImage(t, 3)
	registrytest.Push(t, ref, img)
	hc := e2e.HTTPClient(e.Host)
	req, _ := http.NewRequest(http.MethodPost, "http://engine/v1.41/images/create?fromImage="+url.QueryEscape(strings.TrimSuffix(ref, ":v1"))+"&tag=v1", nil)
	req.Header.Set("X-Registry-Auth", "e30=")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Cleanup(func() { e.Docker().Run(t, "rmi", ref) })
	layers, _ := img.Layers()
	d0, _ := layers[0].Digest()
	id := d0.Hex[:12]
	want := []string{
		`{"status":"Pulling from team/` + repoName(t) + `","id":"v1"}`,
		`{"status":"Pulling fs layer","progressDetail":{},"id":"` + id + `"}`,
		`{"status":"Downloading","progressDetail":{"current":`,
		`{"status":"Download complete","progressDetail":{},"id":"` + id + `"}`,
		`{"status":"Extracting","progressDetail":{"current":`,
		`{"status":"Pull complete","progressDetail":{},"id":"` + id + `"}`,
		`{"status":"Status: Downloaded newer image for ` + ref + `"}`,
	}
	if e.Kind == e2e.KindBerth {
		// Docker sends it too, but may coalesce it away with the next
		// update of a small layer.
		want = append(want, `{"status":"Verifying Checksum","progressDetail":{},"id":"`+id+`"}`)
	}
	for _, w := range want {
		if !bytes.Contains(body, []byte(w)) {
			t.Errorf("no %s in\n%s", w, body)
		}
	}
}

// TestPullMultiPlatform: an index picks the host's platform, --platform
// another one; an index without this platform gets Docker's error.
func TestPullMultiPlatform(t *testing.T) {
	t.Parallel()
	if runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
		t.Skip("the index has amd64 and arm64 images")
	}
	e := e2e.Current(t)
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[runtime.GOARCH]
	imgs := map[string]v1.Image{}
	for _, arch := range []string{"amd64", "arm64"} {
		imgs[arch] = forHost(t, mustRandom(t), arch)
	}
	forEachRegistry(t, "", func(t *testing.T, addr, _ string) {
		ref := addr + "/team/" + repoName(t) + ":v1"
		registrytest.PushIndex(t, ref, registrytest.PlatformIndex(types.OCIImageIndex, imgs))
		s390x := addr + "/team/" + repoName(t) + "-s390x:v1"
		registrytest.PushIndex(t, s390x, registrytest.PlatformIndex(types.DockerManifestList, map[string]v1.Image{"s390x": forHost(t, mustRandom(t), "s390x")}))
		t.Cleanup(func() { e.Docker().Run(t, "rmi", ref) })

		e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
			c.Run(t, "pull", ref).OK(t)
			want, _ := imgs[runtime.GOARCH].ConfigName()
			if got := c.Run(t, "image", "inspect", "--format", "{{.Id}} {{.Architecture}}", ref).OK(t).Out(); got != want.String()+" "+runtime.GOARCH {
				t.Errorf("pulled %s, want %s", got, want)
			}
			c.Run(t, "pull", "--platform", "linux/"+other, ref).OK(t)
			if got := c.Run(t, "image", "inspect", "--format", "{{.Architecture}}", ref).OK(t).Out(); got != other {
				t.Errorf("--platform linux/%s pulled %s", other, got)
			}
			c.Run(t, "pull", s390x).Assert(t, 1, "no matching manifest for linux/"+runtime.GOARCH+" in the manifest list entries")
			c.Run(t, "image", "inspect", s390x).Assert(t, 1, "No such image")
		})
	})
}

// TestSearchRegistry: docker search against berth's registry.
func TestSearchRegistry(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	img := mustRandom(t)
	for _, r := range []string{"team/busybox", "busybox", "tools/busybox-extra", "team/alpine"} {
		registrytest.Push(t, addr+"/"+r+":v1", forHost(t, img, runtime.GOARCH))
	}
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		r := c.Run(t, "search", "--limit", "5", addr+"/busybox").OK(t)
		lines := r.Lines()
		if len(lines) != 4 || !regexp.MustCompile(`^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$`).MatchString(lines[0]) {
			t.Fatalf("search:\n%s", r)
		}
		if !strings.Contains(r.Stdout, "team/busybox") || strings.Contains(r.Stdout, "alpine") {
			t.Errorf("search results:\n%s", r)
		}
		if got := c.Run(t, "search", "--limit", "2", "--format", "{{.Name}}", addr+"/busybox").OK(t).Lines(); len(got) != 2 {
			t.Errorf("--limit 2: %v", got)
		}
		c.Run(t, "search", "--limit", "500", addr+"/busybox").AssertAny(t, 1, "limit 500 is outside the range of [1, 100]", "Limit 500 is outside the range of [1, 100]")
	})
}

// TestPullInterruptedAndCorrupt: a registry that hangs up in the middle
// of every blob once (the pull resumes and completes), and a blob
// corrupted in the registry's storage (Docker's verification error,
// nothing left behind).
func TestPullInterruptedAndCorrupt(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	c := e.Docker()
	forEachRegistry(t, "", func(t *testing.T, addr, root string) {
		img := randomImage(t, 2)
		registrytest.Push(t, addr+"/team/"+repoName(t)+":v1", img)
		proxy := newRegistryProxy(t, addr, proxyOptions{cutAt: 100 << 10})
		ref := proxy.Addr + "/team/" + repoName(t) + ":v1"
		t.Cleanup(func() { c.Run(t, "rmi", ref) })
		c.Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
		if _, ranges, _ := proxy.stats(); ranges == 0 && e.Kind == e2e.KindBerth {
			// Docker 20.10 starts the blob again after a 5 s pause.
			t.Errorf("berth did not resume the cut downloads with a Range request")
		}

		// A blob corrupt in the registry's storage. (A blob cut short in
		// storage is a registry hanging up mid-blob for good: both engines
		// retry it for over a minute.)
		bad := randomImage(t, 1)
		badRef := addr + "/team/" + repoName(t) + "-corrupt:v1"
		registrytest.Push(t, badRef, bad)
		layers, _ := bad.Layers()
		d, _ := layers[0].Digest()
		p := registrytest.BlobPath(root, d)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		os.WriteFile(p, data, 0o644)
		c.Run(t, "pull", badRef).Assert(t, 1, "filesystem layer verification failed for digest "+d.String())
		c.Run(t, "image", "inspect", imageID(t, bad)).Assert(t, 1, "No such image")
		c.Run(t, "image", "inspect", badRef).Assert(t, 1, "No such image")

		// A manifest that is not the one its digest names.
		tamper := newRegistryProxy(t, addr, proxyOptions{tamperManifests: true})
		dgst := registrytest.Push(t, addr+"/team/"+repoName(t)+"-tampered:v1", mustRandomHost(t))
		byDigest := tamper.Addr + "/team/" + repoName(t) + "-tampered@" + dgst
		// The error comes in the progress stream, after "Pulling from".
		if got := c.Run(t, "pull", byDigest).Assert(t, 1, dgst+": Pulling from team/").Stderr; got != "manifest verification failed for digest "+dgst+"\n" {
			t.Errorf("pull of a manifest that is not its digest: %q", got)
		}
		c.Run(t, "image", "inspect", byDigest).Assert(t, 1, "No such image")
	})
}

// TestPullErrorsCLI: unknown tags and repositories, unreachable
// registries, unknown local images to push, in Docker's words, from
// berth's registry and from distribution 2.8; a single-platform image
// that is not the one asked for comes with a warning.
func TestPullErrorsCLI(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	forEachRegistry(t, "", func(t *testing.T, addr, _ string) {
		registrytest.Push(t, addr+"/team/"+repoName(t)+":v1", mustRandomHost(t))
		e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
			repo := addr + "/team/" + strings.TrimSuffix(repoName(t), "-"+c.Name)
			c.Run(t, "pull", repo+":nope").Assert(t, 1, "Error response from daemon: manifest for "+repo+":nope not found: manifest unknown")
			c.Run(t, "pull", addr+"/team/nope:v1").Assert(t, 1, "Error response from daemon: manifest for "+addr+"/team/nope:v1 not found: manifest unknown")
			c.Run(t, "pull", "127.0.0.1:1/team/x:v1").Assert(t, 1, `Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused`)
			other := map[string]string{"amd64": "arm64"}[runtime.GOARCH]
			if other == "" {
				other = "amd64"
			}
			// A single-platform image comes whatever --platform says,
			// with a warning (Docker 20.10.24 omits it for an
			// architecture mismatch).
			pull := c.Run(t, "pull", "--platform", "linux/"+other, repo+":v1").OK(t)
			if !e.DockerOlderThan(t, 25) {
				pull.Assert(t, 0, "WARNING: image with reference "+repo+":v1 was found but does not match the specified platform: wanted linux/"+other+", actual: linux/"+runtime.GOARCH)
			}
			c.Run(t, "rmi", repo+":v1").OK(t)
			c.Run(t, "push", addr+"/team/not-here:v1").Assert(t, 1, "An image does not exist locally with the tag: "+addr+"/team/not-here")
		})
	})
}

// TestSaveLoadWithReferenceDockerd moves an image from the engine to a
// reference dockerd (docker save | docker -H ref load) and back.
func TestSaveLoadWithReferenceDockerd(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	ref, err := e2e.NewDockerd(filepath.Join(t.TempDir(), "ref"))
	if err != nil {
		t.Skipf("no reference dockerd: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ref.Start(ctx); err != nil {
		t.Skipf("reference dockerd did not start: %v", err)
	}
	t.Cleanup(func() { ref.Stop(20 * time.Second); ref.Cleanup() })
	tag := repoName(t) + ":v1"
	uniqueImage(t, e.Docker(), tag)
	t.Cleanup(func() { e.Docker().Run(t, "rmi", tag) })
	id := e.Docker().Run(t, "image", "inspect", "--format", "{{.Id}}", tag).OK(t).Out()

	saved := e.Docker().Run(t, "save", tag).OK(t).Stdout
	refCLI := e.Docker().WithEnv("DOCKER_HOST=unix://" + ref.Socket)
	refCLI.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(saved)}, "load").Assert(t, 0, "Loaded image: "+tag)
	if got := refCLI.Run(t, "image", "inspect", "--format", "{{.Id}}", tag).OK(t).Out(); got != id {
		t.Errorf("the reference dockerd has %s, the engine %s", got, id)
	}
	back := refCLI.Run(t, "save", tag).OK(t).Stdout
	e.Docker().Run(t, "rmi", tag).OK(t)
	e.Docker().RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(back)}, "load").Assert(t, 0, "Loaded image: "+tag)
	if got := e.Docker().Run(t, "image", "inspect", "--format", "{{.Id}}", tag).OK(t).Out(); got != id {
		t.Errorf("loaded back as %s, want %s", got, id)
	}

	// A pulled image keeps its gzip layers; the reference loads those too.
	addr, _ := registryServe(t)
	pulled := addr + "/team/" + repoName(t) + ":v1"
	img := randomImage(t, 2)
	registrytest.Push(t, pulled, img)
	e.Docker().Run(t, "pull", pulled).OK(t)
	t.Cleanup(func() { e.Docker().Run(t, "rmi", pulled) })
	saved = e.Docker().Run(t, "save", pulled).OK(t).Stdout
	refCLI.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(saved)}, "load").Assert(t, 0, "Loaded image: "+pulled)
	cfg, _ := img.ConfigName()
	if got := refCLI.Run(t, "image", "inspect", "--format", "{{.Id}}", pulled).OK(t).Out(); got != cfg.String() {
		t.Errorf("the reference dockerd loaded the pulled image as %s, want %s", got, cfg)
	}
}

// TestProgressBarsOnTerminal: on a terminal both CLIs draw Docker's
// progress for pull and push, redrawing each layer's line in place (on
// an 80-column terminal Docker shows the counts without the bar).
func TestProgressBarsOnTerminal(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	img := randomImage(t, 2)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ref := addr + "/team/" + repoName(t) + ":v1"
		registrytest.Push(t, ref, img)
		t.Cleanup(func() { c.Run(t, "rmi", ref) })
		pull := c.StartPTY(t, "pull", ref)
		// The cursor goes up to the layer's line, clears it, redraws it.
		pull.Expect(t, `\x1b\[\d+A\x1b\[2K\r[0-9a-f]{12}: Downloading\s+\d+(\.\d+)?kB/262.8kB\r\x1b\[\d+B`, 30*time.Second)
		pull.Expect(t, `\x1b\[\d+A\x1b\[2K\r[0-9a-f]{12}: Pull complete \r\x1b\[\d+B`, 30*time.Second)
		pull.Expect(t, `Status: Downloaded newer image for `+regexp.QuoteMeta(ref), 30*time.Second)
		if code := pull.Wait(t, 30*time.Second); code != 0 {
			t.Fatalf("pull exited %d", code)
		}
		other, _ := registryServe(t)
		c.Run(t, "tag", ref, other+"/team/"+repoName(t)+":v1").OK(t)
		t.Cleanup(func() { c.Run(t, "rmi", other+"/team/"+repoName(t)+":v1") })
		push := c.StartPTY(t, "push", other+"/team/"+repoName(t)+":v1")
		push.Expect(t, `\x1b\[\d+A\x1b\[2K\r[0-9a-f]{12}: Pushing\s+\d+(\.\d+)?kB/\d+(\.\d+)?kB\r\x1b\[\d+B`, 30*time.Second)
		push.Expect(t, `v1: digest: sha256:[0-9a-f]{64} size: \d+`, 30*time.Second)
		if code := push.Wait(t, 30*time.Second); code != 0 {
			t.Fatalf("push exited %d", code)
		}
	})
}
