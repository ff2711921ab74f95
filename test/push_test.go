package test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// referencePushDigest is the manifest digest Docker 20.10 pushes for the
// image of the reference archive: a push that compresses the layer as
// Docker does and writes Docker's manifest byte for byte gets the same.
const referencePushDigest = "sha256:a04a274a09e20c4e29c79b725fe4e8e91418e753b3b2aa4b8805114cd68cb5f6"

// registryDigest is the digest ref's tag has in the registry.
func registryDigest(t *testing.T, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return desc.Digest.String()
}

// TestPushLikeDocker pushes to berth's registry and to distribution 2.8
// as Docker does: Docker's manifest digest for the same image, "Layer
// already exists" the second time, "Mounted from" into another
// repository, a tag pushed again moving to the new image, RepoDigests
// recorded, and every tag of a repository with --all-tags.
func TestPushLikeDocker(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) {
			e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
				addr, _ := startRegistryOf(t, kind, "")
				repo := addr + "/team/" + repoName(t)
				// The reference image is shared with other tests: remove
				// only the tags of this one.
				archive, _ := retaggedReferenceArchive(t, repo+"-a:v1")
				c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(archive)}, "load").OK(t)
				t.Cleanup(func() { c.Run(t, "rmi", repo+"-a:v1", repo+"-b:v1", repo+"-b:v2") })

				push := c.Run(t, "push", repo+"-a:v1").OK(t).Stdout
				layer := regexp.MustCompile(`(?m)^([0-9a-f]{12}): Preparing$`).FindStringSubmatch(push)
				if layer == nil || !strings.Contains(push, layer[1]+": Pushed\n") ||
					!strings.Contains(push, "v1: digest: "+referencePushDigest+" size: 527\n") {
					t.Fatalf("push:\n%s", push)
				}
				// The reference image is other tests' too: look for this push's digest.
				if got := c.Run(t, "image", "inspect", "--format", "{{json .RepoDigests}}", repo+"-a:v1").OK(t).Out(); !strings.Contains(got, `"`+repo+`-a@`+referencePushDigest+`"`) {
					t.Errorf("RepoDigests after push: %s", got)
				}
				c.Run(t, "push", repo+"-a:v1").Assert(t, 0, layer[1]+": Layer already exists", "v1: digest: "+referencePushDigest)
				c.Run(t, "tag", repo+"-a:v1", repo+"-b:v1").OK(t)
				c.Run(t, "push", repo+"-b:v1").Assert(t, 0, layer[1]+": Mounted from team/"+repoName(t)+"-a", "v1: digest: "+referencePushDigest)

				// The tag moves to another image when pushed again.
				uniqueImage(t, c, repo+"-a:v1")
				out := c.Run(t, "push", repo+"-a:v1").OK(t).Stdout
				m := digestLine.FindStringSubmatch(out)
				if m == nil || m[1] == referencePushDigest {
					t.Fatalf("push of a new image under the same tag:\n%s", out)
				}
				if got := registryDigest(t, repo+"-a:v1"); got != m[1] {
					t.Errorf("the registry has %s for the tag, the push said %s", got, m[1])
				}

				// --all-tags pushes every tag of the repository.
				c.Run(t, "tag", repo+"-b:v1", repo+"-b:v2").OK(t)
				c.Run(t, "push", "--all-tags", repo+"-b").Assert(t, 0, "v1: digest: "+referencePushDigest, "v2: digest: "+referencePushDigest)
				if got := registryDigest(t, repo+"-b:v2"); got != referencePushDigest {
					t.Errorf("v2 is %s in the registry", got)
				}
				c.Run(t, "push", repo+"-b@"+referencePushDigest).AssertAny(t, 1, "cannot push a digest reference")
			})
		})
	}
}

// registryManifest is the image manifest ref names in the registry.
func registryManifest(t *testing.T, ref string) (*v1.Manifest, error) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		return nil, err
	}
	img, err := remote.Image(r)
	if err != nil {
		return nil, err
	}
	return img.Manifest()
}

// TestPushRetriesCutUpload: a registry that hangs up in the middle of an
// upload gets the layer again in a new upload session after Docker's
// countdown, and the push completes.
func TestPushRetriesCutUpload(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	addr, _ := registryServe(t)
	proxy := newRegistryProxy(t, addr, proxyOptions{cutUploadAt: 50 << 10})
	ref := proxy.Addr + "/team/" + repoName(t) + ":v1"
	c := e.Docker()
	uniqueImage(t, c, ref)
	t.Cleanup(func() { c.Run(t, "rmi", ref) })
	out := c.Run(t, "push", ref).Assert(t, 0, ": Retrying in 5 seconds", ": Retrying in 1 second", ": Pushed").Stdout
	m := digestLine.FindStringSubmatch(out)
	if m == nil || registryDigest(t, ref) != m[1] {
		t.Errorf("push:\n%s", out)
	}
}
