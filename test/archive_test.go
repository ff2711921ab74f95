package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// referenceArchive is `docker save` output of Docker 20.10.24 (see its
// README), so that the load direction of interoperability is checked in
// CI, where no reference engine runs.
const referenceArchive = "../internal/image/testdata/docker-20.10-busybox.tar.gz"

// retaggedReferenceArchive returns the reference archive with its tags
// replaced by tag (so that loading it cannot move the suite's own
// busybox:latest), and the image ID Docker gave it.
func retaggedReferenceArchive(t *testing.T, tag string) ([]byte, string) {
	t.Helper()
	f, err := os.Open(referenceArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	var id string
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		switch hdr.Name {
		case "repositories":
			continue // the legacy tag map; manifest.json is what loads
		case "manifest.json":
			var m []map[string]any
			if err := json.Unmarshal(data, &m); err != nil || len(m) != 1 {
				t.Fatalf("manifest.json: %v (%d entries)", err, len(m))
			}
			m[0]["RepoTags"] = []string{tag}
			id = "sha256:" + strings.TrimSuffix(m[0]["Config"].(string), ".json")
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			hdr.Size = int64(len(data))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), id
}

// TestLoadReferenceArchive: an archive the reference Docker engine wrote
// loads with the same image ID, runs, and saves back to an archive that
// loads again to the same ID — through both CLIs.
func TestLoadReferenceArchive(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		tag := repoName(t) + ":v1"
		archive, id := retaggedReferenceArchive(t, tag)
		t.Cleanup(func() { c.Run(t, "rmi", "-f", tag) })
		c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(archive)}, "load").Assert(t, 0, "Loaded image: "+tag)
		if got := c.Run(t, "image", "inspect", "--format", "{{.Id}}", tag).OK(t).Out(); got != id {
			t.Errorf("loaded as %s, Docker's ID is %s", got, id)
		}
		c.Run(t, "run", "--rm", tag, "echo", "from the reference archive").Assert(t, 0, "from the reference archive")

		saved := c.Run(t, "save", tag).OK(t).Stdout
		c.Run(t, "rmi", tag).OK(t)
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(saved)}, "load").Assert(t, 0, "Loaded image: "+tag)
		if got := c.Run(t, "image", "inspect", "--format", "{{.Id}}", tag).OK(t).Out(); got != id {
			t.Errorf("saved and loaded back as %s, want %s", got, id)
		}
	})
}

// ociLayout is an OCI image layout (index.json, oci-layout, blobs/) of
// img as a tar, named ref by the annotations containerd and Docker 25+
// write.
func ociLayout(t *testing.T, img v1.Image, ref string) []byte {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	})); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	return buf.Bytes()
}

// TestSaveLoadFormats: save -o and load -i of several images, a
// repository (all its tags), an image by ID (loaded untagged), a
// gzip-compressed archive, and an OCI image layout.
func TestSaveLoadFormats(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		p := repoName(t)
		a, b := labelled(t, "2020-01-01", map[string]string{"set": p}), labelled(t, "2021-01-01", map[string]string{"set": p})
		loadImages(t, c, map[string]v1.Image{p + "-a:1": a, p + "-a:2": a, p + "-b:1": b})
		t.Cleanup(func() { c.Run(t, "rmi", "-f", imageID(t, a), imageID(t, b)) })
		rmAll := func() {
			t.Helper()
			c.Run(t, "rmi", "-f", imageID(t, a), imageID(t, b)).OK(t)
		}
		ids := func() []string {
			return c.Run(t, "images", "--filter", "label=set="+p, "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").OK(t).Lines()
		}
		before := ids()

		file := filepath.Join(t.TempDir(), "images.tar")
		c.Run(t, "save", "-o", file, p+"-a", p+"-b:1").OK(t)
		rmAll()
		c.Run(t, "load", "-i", file).Assert(t, 0, "Loaded image: "+p+"-a:1", "Loaded image: "+p+"-a:2", "Loaded image: "+p+"-b:1")
		if got := ids(); !slices.Equal(got, before) {
			t.Errorf("after save -o and load -i: %q, want %q", got, before)
		}

		// By ID the image has no tag in the archive.
		saved := c.Run(t, "save", imageID(t, b)).OK(t).Stdout
		rmAll()
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(saved)}, "load").Assert(t, 0, "Loaded image ID: "+imageID(t, b))
		if got := c.Run(t, "images", "--filter", "label=set="+p, "--format", "{{.Repository}}:{{.Tag}}").OK(t).Lines(); !slices.Equal(got, []string{"<none>:<none>"}) {
			t.Errorf("loaded by ID: %q", got)
		}

		// docker save | gzip | docker load.
		loadImages(t, c, map[string]v1.Image{p + "-a:1": a})
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		io.Copy(zw, strings.NewReader(c.Run(t, "save", p+"-a:1").OK(t).Stdout))
		zw.Close()
		rmAll()
		c.RunWith(t, e2e.RunOpts{Stdin: &gz}, "load").Assert(t, 0, "Loaded image: "+p+"-a:1")
		// Docker 20.10 words an unknown name "reference does not exist".
		c.Run(t, "save", p+"-nope:1").AssertAny(t, 1, "No such image: "+p+"-nope:1", "reference does not exist")

		// An OCI image layout, as containerd and Docker 25+ write it.
		oci := ociLayout(t, labelled(t, "2022-01-01", map[string]string{"set": p, "oci": "yes"}), p+"-oci:1")
		r := c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(oci)}, "load")
		if e.DockerOlderThan(t, 25) {
			// Docker before 25 loads docker-archive only; it takes an
			// OCI layout for a legacy archive, and misses its json files.
			r.Assert(t, 1, "no such file or directory")
			return
		}
		r.Assert(t, 0, "Loaded image: "+p+"-oci:1")
		if got := c.Run(t, "image", "inspect", "--format", "{{.Config.Labels.oci}}", p+"-oci:1").OK(t).Out(); got != "yes" {
			t.Errorf("OCI layout loaded with labels %q", got)
		}
		c.Run(t, "rmi", p+"-oci:1").OK(t)
	})
}

// badArchive is a docker-archive of one image, tagged ref, whose layer
// (and files) edit can spoil.
func badArchive(t *testing.T, ref string, layer []byte, edit func(files map[string][]byte, manifest map[string]any)) []byte {
	t.Helper()
	diffID := fmt.Sprintf("sha256:%x", sha256.Sum256(layer))
	cfg := fmt.Sprintf(`{"architecture":%q,"os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[%q]}}`, runtime.GOARCH, diffID)
	cfgName := fmt.Sprintf("%x.json", sha256.Sum256([]byte(cfg)))
	files := map[string][]byte{cfgName: []byte(cfg), "l0/layer.tar": layer}
	manifest := map[string]any{"Config": cfgName, "RepoTags": []string{ref}, "Layers": []string{"l0/layer.tar"}}
	if edit != nil {
		edit(files, manifest)
	}
	m, _ := json.Marshal([]any{manifest})
	files["manifest.json"] = m
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range slices.Sorted(maps.Keys(files)) {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n]))})
		tw.Write(files[n])
	}
	tw.Close()
	return buf.Bytes()
}

// TestLoadBadArchives: archives that are not tars, cut short, missing a
// layer, with a layer that is not the one the config names, or with
// names outside the archive get Docker's errors, and load nothing; a
// layer with "../" entries, loaded or imported, writes nothing outside.
func TestLoadBadArchives(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	ref := repoName(t) + ":v1"
	layer := registrytest.Tar(t, map[string]string{"etc/": "", "etc/loaded": repoName(t)})
	good := badArchive(t, ref, layer, nil)
	escape := "/tmp/" + repoName(t) + "-escaped"
	t.Cleanup(func() { os.Remove(escape) })
	dotdot := tarOf(t, tarEntry{name: "etc/", dir: true}, tarEntry{name: "../../../.." + escape, body: "x"})
	// Docker 20.10 unpacks "../" entries at the layer's root (and breaks
	// on save); go-archive, as Docker 25+ has it, refuses them. "" marks
	// what may succeed.
	dotdotWants := []string{"invalid entry name", ""}
	for _, tc := range []struct {
		name    string
		archive []byte
		want    []string // one of
	}{
		{"not a tar", bytes.Repeat([]byte("not a tar archive "), 64), []string{"archive/tar: invalid tar header"}},
		{"cut short", good[:1500], []string{"unexpected EOF"}},
		{"layer missing", badArchive(t, ref, layer, func(f map[string][]byte, _ map[string]any) { delete(f, "l0/layer.tar") }), []string{"l0/layer.tar: no such file"}},
		{"wrong layer", badArchive(t, ref, layer, func(f map[string][]byte, _ map[string]any) {
			f["l0/layer.tar"] = registrytest.Tar(t, map[string]string{"etc/": "", "etc/other": "x"})
		}), []string{fmt.Sprintf(`invalid diffID for layer 0: expected "sha256:%x"`, sha256.Sum256(layer))}},
		{"name outside", badArchive(t, ref, layer, func(_ map[string][]byte, m map[string]any) { m["Layers"] = []string{"../../../../etc/hostname"} }),
			// Docker: "evalSymlinksInScope: /…/etc/hostname is not in /…/docker-import-…".
			[]string{"escapes the archive", "is not in"}},
		{"dotdot layer", badArchive(t, ref, dotdot, nil), dotdotWants},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			c := e.Docker()
			r := c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tc.archive)}, "load")
			checkNoEscape(t, escape)
			if r.Code == 0 && slices.Contains(tc.want, "") {
				c.Run(t, "rmi", ref).OK(t)
				return
			}
			r.AssertAny(t, 1, tc.want...)
			c.Run(t, "image", "inspect", ref).Assert(t, 1, "No such image: "+ref)
		})
	}
	t.Run("dotdot-import", func(t *testing.T) {
		c := e.Docker()
		r := c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(dotdot)}, "import", "-", ref)
		checkNoEscape(t, escape)
		if r.Code == 0 {
			c.Run(t, "rmi", ref).OK(t)
			return
		}
		r.AssertAny(t, 1, dotdotWants...)
		c.Run(t, "image", "inspect", ref).Assert(t, 1, "No such image: "+ref)
	})
}

// checkNoEscape fails the test if a layer wrote path on the host.
func checkNoEscape(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("a layer wrote %s on the host", path)
	}
}
