package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
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
