package test

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/client"
)

// TestDiskUsageSharedLayersAndPrune, on a private engine (prune -a takes
// every image): a tag moved by a pull leaves the old image dangling and
// images --filter dangling=true lists it; two images on the busybox
// layer share it (system df counts it once, as shared size) and it
// outlives the removal of the others; system df and df -v account for
// all of it; image prune -a removes what no container uses.
func TestDiskUsageSharedLayersAndPrune(t *testing.T) {
	t.Parallel()
	e := e2e.StartPrivate(t, e2e.PrivateOptions{})
	addr, _ := registryServe(t)
	repo := addr + "/team/" + repoName(t)
	c := e.Docker()

	// Dangling after a pull moves the tag.
	registrytest.Push(t, repo+":v1", mustRandomHost(t))
	c.Run(t, "pull", repo+":v1").OK(t)
	old := c.Run(t, "image", "inspect", "--format", "{{.Id}}", repo+":v1").OK(t).Out()
	registrytest.Push(t, repo+":v1", mustRandomHost(t))
	c.Run(t, "pull", repo+":v1").Assert(t, 0, "Status: Downloaded newer image for "+repo+":v1")
	// The old image keeps its digest reference, so Docker lists it under
	// its repository with tag <none>.
	out := c.Run(t, "images", "--digests", "--filter", "dangling=true", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").OK(t).Out()
	if out != repo+":<none> "+shortID(old) {
		t.Errorf("dangling images:\n%s", out)
	}

	// Two images on the busybox layer (the same as busybox:latest's).
	base := busyboxLayer(t)
	a := registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"a": "a\n"}, false))
	b := registrytest.Image(t, "", base, registrytest.Layer(t, map[string]string{"b": "b\n"}, false))
	registrytest.Push(t, repo+":a", a)
	registrytest.Push(t, repo+":b", b)
	bd, _ := base.Digest()
	c.Run(t, "pull", repo+":a").OK(t)
	c.Run(t, "pull", repo+":b").Assert(t, 0, bd.Hex[:12]+": Already exists")
	name := e.Name(t)
	c.Run(t, "create", "--name", name, repo+":a").OK(t)

	df, err := e.Client(t).DiskUsage(context.Background(), client.DiskUsageOptions{Verbose: true})
	if err != nil {
		t.Fatalf("system df: %v", err)
	}
	// busybox, the two pulls of v1, a and b; a is used.
	if df.Images.TotalCount != 5 || df.Images.ActiveCount != 1 || df.Images.TotalSize <= 0 {
		t.Errorf("system df images: %+v", df.Images)
	}
	var busybox, sum int64
	shared := map[string]int64{}
	for _, im := range df.Images.Items {
		sum += im.Size
		shared[im.ID] = im.SharedSize
		if len(im.RepoTags) > 0 && im.RepoTags[0] == e2e.Image {
			busybox = im.Size
		}
	}
	if shared[imageID(t, a)] != busybox || shared[imageID(t, b)] != busybox || busybox == 0 {
		t.Errorf("shared sizes: a %d, b %d; the busybox layer is %d", shared[imageID(t, a)], shared[imageID(t, b)], busybox)
	}
	// The busybox layer is stored once, not three times.
	if df.Images.TotalSize != sum-2*busybox {
		t.Errorf("images total %d, want %d (the sizes, the shared layer once)", df.Images.TotalSize, sum-2*busybox)
	}
	for _, cli := range e.CLIs(t) {
		lines := cli.Run(t, "system", "df", "--format", "{{.Type}}: {{.TotalCount}} {{.Active}}").OK(t).Lines()
		if strings.Join(lines, "|") != "Images: 5 1|Containers: 1 0|Local Volumes: 0 0|Build Cache: 0 0" {
			t.Errorf("%s system df: %q", cli.Name, lines)
		}
		verbose := cli.Run(t, "system", "df", "-v").Assert(t, 0, "Images space usage:", "Containers space usage:", "Build cache usage: 0B").Stdout
		if !regexp.MustCompile(`(?m)^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS$`).MatchString(verbose) ||
			!regexp.MustCompile(`(?m)^<none>\s+<none>\s+`+shortID(old)+`\s`).MatchString(verbose) ||
			!regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(repo)+`\s+a\s+`+shortID(imageID(t, a))+`\s+.*\s1$`).MatchString(verbose) {
			t.Errorf("%s system df -v:\n%s", cli.Name, verbose)
		}
	}

	// The shared layer stays while any image has it.
	c.Run(t, "rm", name).OK(t)
	c.Run(t, "rmi", repo+":a", e2e.Image).OK(t)
	c.Run(t, "run", "--rm", repo+":b", "cat", "/b").Assert(t, 0, "b\n")

	c.Run(t, "image", "prune", "-a", "-f").Assert(t, 0, "Total reclaimed space:")
	if got := c.Run(t, "images", "-aq").OK(t).Out(); got != "" {
		t.Errorf("images left after prune -a: %q", got)
	}
	if df, err := e.Client(t).DiskUsage(context.Background(), client.DiskUsageOptions{}); err != nil || df.Images.TotalSize != 0 {
		t.Errorf("after prune -a: %+v, %v", df.Images, err)
	}
}
