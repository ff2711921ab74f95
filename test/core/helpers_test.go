package core

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/api/types/container"
)

// containerState is what WaitFor conditions receive.
type containerState = container.InspectResponse

// loadWithConfig loads the test image as tag with its configuration
// changed by edit (the "config" object of the image config: StopSignal,
// ExposedPorts, ...), for what `import --change` cannot set on every
// engine. It rewrites a `docker save` archive: a new config file named by
// its digest, the manifest pointing at it, and nothing else that names
// the old one (index.json), so that Docker 20.10 and berth load it alike.
func loadWithConfig(t *testing.T, e *e2e.Engine, tag string, edit func(cfg map[string]any)) {
	t.Helper()
	saved := e.Docker().Run(t, "save", "busybox").OK(t).Stdout
	files := map[string][]byte{}
	var order []string
	tr := tar.NewReader(strings.NewReader(saved))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = b
		order = append(order, hdr.Name)
	}
	var manifest []map[string]any
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json of the saved test image: %v", err)
	}
	var img map[string]any
	if err := json.Unmarshal(files[manifest[0]["Config"].(string)], &img); err != nil {
		t.Fatalf("image config: %v", err)
	}
	cfg, _ := img["config"].(map[string]any)
	if cfg == nil {
		cfg = map[string]any{}
	}
	edit(cfg)
	img["config"] = cfg
	newCfg, err := json.Marshal(img)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(newCfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	manifest[0]["Config"] = cfgName
	manifest[0]["RepoTags"] = []string{tag}
	m, _ := json.Marshal(manifest)

	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	add := func(name string, b []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	for _, name := range order {
		switch name {
		case "manifest.json", "index.json", "oci-layout", "repositories":
			continue
		}
		add(name, files[name])
	}
	add(cfgName, newCfg)
	add("manifest.json", m)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	e.Docker().RunWith(t, e2e.RunOpts{Stdin: &out}, "load").Assert(t, 0, "Loaded image: "+tag)
	t.Cleanup(func() { e.Docker().Run(t, "rmi", "-f", tag) })
}
