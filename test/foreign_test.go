package test

import (
	"bytes"
	"io"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	tb "github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestForeignLayers: an image with a foreign (non-distributable) layer,
// as Windows base images have, whose blob the registry holds beside its
// URLs. A pull on Linux takes it from the registry, as Docker's does
// (Docker tries the URLs on Windows only); a push skips it ("Skipped
// foreign layer") and keeps its URLs in the manifest, as the OCI spec
// and containerd have it.
func TestForeignLayers(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	// Registries refuse layer URLs unless configured to allow them.
	addr := registrytest.DockerRegistry(t, registrytest.Config{Extra: "validation:\n  manifests:\n    urls:\n      allow:\n        - ^https://\n"})
	data := registrytest.Tar(t, map[string]string{"etc/": "", "etc/foreign": "from elsewhere\n"})
	foreign, err := tb.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tb.WithMediaType(types.DockerForeignLayer), tb.WithCompressedCaching)
	if err != nil {
		t.Fatal(err)
	}
	url := "https://example.com/layers/foreign.tar.gz"
	img, err := mutate.Append(registrytest.Image(t, "", busyboxLayer(t)), mutate.Addendum{Layer: foreign, URLs: []string{url}, MediaType: types.DockerForeignLayer})
	if err != nil {
		t.Fatal(err)
	}
	fd, _ := foreign.Digest()
	diffID, _ := foreign.DiffID()
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ref := addr + "/team/" + repoName(t) + ":v1"
		registrytest.Push(t, ref, img, remote.WithNondistributable)
		t.Cleanup(func() { c.Run(t, "rmi", ref) })
		c.Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
		c.Run(t, "run", "--rm", ref, "cat", "/etc/foreign").Assert(t, 0, "from elsewhere\n")

		copyRef := addr + "/team/" + repoName(t) + "-copy:v1"
		c.Run(t, "tag", ref, copyRef).OK(t)
		t.Cleanup(func() { c.Run(t, "rmi", copyRef) })
		push := c.Run(t, "push", copyRef).Assert(t, 0, "v1: digest: ")
		if e.Kind == e2e.KindDocker {
			// dockerd (graph drivers, Linux) keeps no foreign descriptor
			// and mounts the layer like any other.
			return
		}
		push.Assert(t, 0, diffID.Hex[:12]+": Skipped foreign layer")
		man, err := registryManifest(t, copyRef)
		if err != nil {
			t.Fatal(err)
		}
		var found *v1.Descriptor
		for i, l := range man.Layers {
			if l.Digest == fd {
				found = &man.Layers[i]
			}
		}
		if found == nil || found.MediaType != types.DockerForeignLayer || len(found.URLs) != 1 || found.URLs[0] != url {
			t.Errorf("pushed manifest layers: %+v", man.Layers)
		}
	})
}
