package test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// labelled is a one-layer image (a file named after the test, so that
// its layer is the test's own) created at date with labels.
func labelled(t *testing.T, date string, labels map[string]string) v1.Image {
	t.Helper()
	created, err := time.Parse(time.DateOnly, date)
	if err != nil {
		t.Fatal(err)
	}
	img := registrytest.Image(t, "", registrytest.Layer(t, map[string]string{"etc/" + repoName(t): date}, false))
	return editConfig(t, img, func(cf *v1.ConfigFile) {
		cf.Created = v1.Time{Time: created}
		cf.Config.Labels = labels
	})
}

func shortID(id string) string { return strings.TrimPrefix(id, "sha256:")[:12] }

// TestImageListFilters: docker images with its filters (dangling,
// reference, before, since, label), a repository argument, -q,
// --no-trunc and --digests, in Docker's order (newest first).
func TestImageListFilters(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		p := repoName(t)
		set := map[string]string{"set": p}
		a := labelled(t, "2020-01-01", map[string]string{"set": p, "tier": "a"})
		b := labelled(t, "2021-01-01", map[string]string{"set": p, "tier": "b"})
		old := labelled(t, "2022-01-01", set)
		cur := labelled(t, "2023-01-01", set)
		loadImages(t, c, map[string]v1.Image{p + "-a:1": a, p + "-a:2": a, p + "-b:1": b, p + "-c:1": old})
		loadImages(t, c, map[string]v1.Image{p + "-c:1": cur}) // old is left dangling
		t.Cleanup(func() {
			c.Run(t, "rmi", "-f", imageID(t, a), imageID(t, b), imageID(t, old), imageID(t, cur))
		})
		list := func(args ...string) []string {
			t.Helper()
			args = append([]string{"images", "--filter", "label=set=" + p, "--format", "{{.Repository}}:{{.Tag}}"}, args...)
			got := c.Run(t, args...).OK(t).Lines()
			if n := len(got); n > 1 && strings.HasPrefix(got[n-2], p+"-a:") && strings.HasPrefix(got[n-1], p+"-a:") {
				slices.Sort(got[len(got)-2:]) // the two tags of one image, in either order
			}
			return got
		}
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{nil, []string{p + "-c:1", "<none>:<none>", p + "-b:1", p + "-a:1", p + "-a:2"}},
			{[]string{"--filter", "dangling=true"}, []string{"<none>:<none>"}},
			{[]string{"--filter", "dangling=false"}, []string{p + "-c:1", p + "-b:1", p + "-a:1", p + "-a:2"}},
			{[]string{"--filter", "before=" + p + "-b:1"}, []string{p + "-a:1", p + "-a:2"}},
			{[]string{"--filter", "since=" + p + "-b:1"}, []string{p + "-c:1", "<none>:<none>"}},
			{[]string{"--filter", "reference=" + p + "-a"}, []string{p + "-a:1", p + "-a:2"}},
			{[]string{"--filter", "reference=" + p + "-*:1"}, []string{p + "-c:1", p + "-b:1", p + "-a:1"}},
			{[]string{"--filter", "label=tier"}, []string{p + "-b:1", p + "-a:1", p + "-a:2"}},
			{[]string{"--filter", "label=tier=a"}, []string{p + "-a:1", p + "-a:2"}},
			{[]string{p + "-a"}, []string{p + "-a:1", p + "-a:2"}},
			{[]string{p + "-a:2"}, []string{p + "-a:2"}},
		} {
			if got := list(tc.args...); !slices.Equal(got, tc.want) {
				t.Errorf("images %v: %q, want %q", tc.args, got, tc.want)
			}
		}

		// -q lists short IDs, one per line of the table (an image with
		// two tags twice); --no-trunc the full ones.
		ids := []string{imageID(t, cur), imageID(t, old), imageID(t, b), imageID(t, a), imageID(t, a)}
		var short []string
		for _, id := range ids {
			short = append(short, shortID(id))
		}
		if got := c.Run(t, "images", "-q", "--filter", "label=set="+p).OK(t).Lines(); !slices.Equal(got, short) {
			t.Errorf("images -q: %q, want %q", got, short)
		}
		if got := c.Run(t, "images", "-q", "--no-trunc", "--filter", "label=set="+p).OK(t).Lines(); !slices.Equal(got, ids) {
			t.Errorf("images -q --no-trunc: %q, want %q", got, ids)
		}
		// The default table, with --digests: loaded images have none.
		out := c.Run(t, "images", "--digests", "--filter", "reference="+p+"-b").OK(t).Lines()
		if len(out) != 2 || !regexp.MustCompile(`^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$`).MatchString(out[0]) ||
			!regexp.MustCompile(`^`+p+`-b\s+1\s+<none>\s+`+shortID(imageID(t, b))+`\s+\d+ years ago\s+\d+B$`).MatchString(out[1]) {
			t.Errorf("images --digests:\n%s", strings.Join(out, "\n"))
		}

		c.Run(t, "images", "--filter", "nope=1").AssertAny(t, 1, "invalid filter 'nope'", "Invalid filter 'nope'")
		// Docker 20.10 words it "Invalid filter 'dangling=[maybe]'", 25+ in lower case.
		c.Run(t, "images", "--filter", "dangling=maybe").AssertAny(t, 1, "invalid filter 'dangling=[maybe]'", "Invalid filter 'dangling=[maybe]'", "invalid filter 'dangling=maybe'")
		c.Run(t, "images", "--filter", "before=nope:404").Assert(t, 1, "No such image: nope:404")
	})
}

// historyImage has three history entries, one of them an empty layer,
// and two layers.
func historyImage(t *testing.T) v1.Image {
	t.Helper()
	img := registrytest.Image(t, "",
		registrytest.Layer(t, map[string]string{"bin/": "", "bin/tool": "0123456789"}, false),
		registrytest.Layer(t, map[string]string{"hello": "hello\n"}, false))
	return editConfig(t, img, func(cf *v1.ConfigFile) {
		day := func(d int) v1.Time { return v1.Time{Time: time.Date(2024, 1, d, 0, 0, 0, 0, time.UTC)} }
		cf.Created = day(3)
		cf.Author = "berth tests"
		cf.Config = v1.Config{
			Cmd:          []string{"sh"},
			Entrypoint:   []string{"/bin/tool", "--serve"},
			Env:          []string{"PATH=/bin", "MODE=test"},
			WorkingDir:   "/srv",
			User:         "1000:1000",
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Volumes:      map[string]struct{}{"/data": {}},
			Labels:       map[string]string{"org.example": repoName(t)},
			StopSignal:   "SIGINT",
		}
		cf.History = []v1.History{
			{Created: day(1), CreatedBy: "/bin/sh -c #(nop) ADD file:2c6d6c4e0a6d4ba39b7e5b4d0f1a7a8c9d8e7f6a5b4c3d2e1f0 in / "},
			{Created: day(2), CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`, EmptyLayer: true},
			{Created: day(3), CreatedBy: "RUN /bin/sh -c echo hello > /hello && echo a long command line # buildkit", Comment: "buildkit.dockerfile.v0"},
		}
	})
}

// loadHistoryImage loads historyImage under a tag for the test.
func loadHistoryImage(t *testing.T, c e2e.CLI) (string, v1.Image) {
	t.Helper()
	ref := repoName(t) + ":v1"
	img := historyImage(t)
	loadImages(t, c, map[string]v1.Image{ref: img})
	t.Cleanup(func() { c.Run(t, "rmi", ref) })
	return ref, img
}

// TestImageInspect: the fields of docker image inspect, as Docker
// reports them for a loaded image.
func TestImageInspect(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ref, img := loadHistoryImage(t, c)
		var got []struct {
			ID           string `json:"Id"`
			RepoTags     []string
			RepoDigests  []string
			Parent       string
			Comment      string
			Created      string
			Author       string
			Architecture string
			Os           string
			Size         int64
			Config       struct {
				Cmd, Entrypoint, Env []string
				WorkingDir, User     string
				ExposedPorts         map[string]any
				Volumes              map[string]any
				Labels               map[string]string
				StopSignal           string
			}
			RootFS struct {
				Type   string
				Layers []string
			}
			GraphDriver struct{ Name string }
		}
		out := c.Run(t, "image", "inspect", ref).OK(t).Stdout
		if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 {
			t.Fatalf("image inspect: %v\n%s", err, out)
		}
		g := got[0]
		cf, _ := img.ConfigFile()
		var diffIDs []string
		for _, d := range cf.RootFS.DiffIDs {
			diffIDs = append(diffIDs, d.String())
		}
		if g.ID != imageID(t, img) || !slices.Equal(g.RepoTags, []string{ref}) || len(g.RepoDigests) != 0 || g.Parent != "" ||
			g.Created != "2024-01-03T00:00:00Z" || g.Author != "berth tests" || g.Architecture != cf.Architecture || g.Os != "linux" {
			t.Errorf("image inspect: %+v", g)
		}
		// Size is the bytes of the layers' files: 10 + 6.
		if g.Size != 16 {
			t.Errorf("Size %d, want 16", g.Size)
		}
		cc := g.Config
		if !slices.Equal(cc.Cmd, []string{"sh"}) || !slices.Equal(cc.Entrypoint, []string{"/bin/tool", "--serve"}) ||
			!slices.Equal(cc.Env, []string{"PATH=/bin", "MODE=test"}) || cc.WorkingDir != "/srv" || cc.User != "1000:1000" ||
			len(cc.ExposedPorts) != 1 || cc.ExposedPorts["8080/tcp"] == nil || len(cc.Volumes) != 1 || cc.Volumes["/data"] == nil ||
			cc.Labels["org.example"] != repoName(t) || cc.StopSignal != "SIGINT" {
			t.Errorf("image inspect Config: %+v", cc)
		}
		if g.RootFS.Type != "layers" || !slices.Equal(g.RootFS.Layers, diffIDs) {
			t.Errorf("RootFS %+v, want layers %v", g.RootFS, diffIDs)
		}
		if g.GraphDriver.Name != "overlay2" {
			t.Errorf("GraphDriver %q", g.GraphDriver.Name)
		}
		for format, want := range map[string]string{
			"{{.Id}}":                        imageID(t, img),
			"{{.Config.WorkingDir}}":         "/srv",
			"{{index .RepoTags 0}}":          ref,
			"{{json .Config.Labels}}":        `{"org.example":"` + repoName(t) + `"}`,
			"{{len .RootFS.Layers}} {{.Os}}": "2 linux",
		} {
			if got := c.Run(t, "image", "inspect", "--format", format, ref).OK(t).Out(); got != want {
				t.Errorf("--format %s: %q, want %q", format, got, want)
			}
		}
		c.Run(t, "image", "inspect", ref, "nope:404").Assert(t, 1, "No such image: nope:404")
	})
}

// TestImageHistory: docker history, truncated and not, human sizes and
// dates or raw ones (-H=false), and --format.
func TestImageHistory(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		ref, img := loadHistoryImage(t, c)
		id := imageID(t, img)

		lines := c.Run(t, "history", ref).OK(t).Lines()
		want := []string{
			`^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$`,
			`^` + shortID(id) + `\s+\d+ (months|years?) ago\s+RUN /bin/sh -c echo hello > /hello && echo a…\s+6B\s+buildkit.dockerfile.v0$`,
			`^<missing>\s+\d+ (months|years?) ago\s+/bin/sh -c #\(nop\)  CMD \["sh"\]\s+0B\s*$`,
			`^<missing>\s+\d+ (months|years?) ago\s+/bin/sh -c #\(nop\) ADD file:2c6d6c4e0a6d4ba39…\s+10B\s*$`,
		}
		if len(lines) != len(want) {
			t.Fatalf("history:\n%s", strings.Join(lines, "\n"))
		}
		for i, w := range want {
			if !regexp.MustCompile(w).MatchString(lines[i]) {
				t.Errorf("history line %d: %q, want /%s/", i, lines[i], w)
			}
		}
		got := c.Run(t, "history", "--no-trunc", "-H=false", "--format", "{{.ID}}|{{.CreatedAt}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}", ref).OK(t).Lines()
		wantRaw := []string{
			id + "|2024-01-03T00:00:00Z|RUN /bin/sh -c echo hello > /hello && echo a long command line # buildkit|6|buildkit.dockerfile.v0",
			`<missing>|2024-01-02T00:00:00Z|/bin/sh -c #(nop)  CMD ["sh"]|0|`,
			"<missing>|2024-01-01T00:00:00Z|/bin/sh -c #(nop) ADD file:2c6d6c4e0a6d4ba39b7e5b4d0f1a7a8c9d8e7f6a5b4c3d2e1f0 in / |10|",
		}
		if !slices.Equal(got, wantRaw) {
			t.Errorf("history --no-trunc -H=false:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRaw, "\n"))
		}
		if got := c.Run(t, "history", "-q", ref).OK(t).Lines(); !slices.Equal(got, []string{shortID(id), "<missing>", "<missing>"}) {
			t.Errorf("history -q: %q", got)
		}
		c.Run(t, "history", "nope:404").Assert(t, 1, "No such image: nope:404")
	})
}

// TestRemoveImage: docker rmi untags before it deletes, refuses an ID
// that several repositories name or that a container uses unless forced,
// and never removes an image a running container uses.
func TestRemoveImage(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		p := repoName(t)
		uniqueImage(t, c, p+"-a:1")
		id := c.Run(t, "image", "inspect", "--format", "{{.Id}}", p+"-a:1").OK(t).Out()
		short := shortID(id)
		t.Cleanup(func() { c.Run(t, "rmi", "-f", id) })
		c.Run(t, "tag", p+"-a:1", p+"-a:2").OK(t)
		c.Run(t, "tag", p+"-a:1", p+"-b:1").OK(t)

		if got := c.Run(t, "rmi", p+"-a:1").OK(t).Out(); got != "Untagged: "+p+"-a:1" {
			t.Errorf("rmi of one of several tags: %q", got)
		}
		c.Run(t, "rmi", short).Assert(t, 1, "Error response from daemon: conflict: unable to delete "+short+" (must be forced) - image is referenced in multiple repositories")

		// A stopped container: its image's last tag goes only with -f.
		c.Run(t, "rmi", p+"-b:1").Assert(t, 0, "Untagged: "+p+"-b:1")
		name := e.Name(t)
		c.Run(t, "create", "--name", name, p+"-a:2").OK(t)
		cid := c.Run(t, "inspect", "--format", "{{.Id}}", name).OK(t).Out()
		c.Run(t, "rmi", p+"-a:2").Assert(t, 1, fmt.Sprintf(`Error response from daemon: conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s`, p+"-a:2", cid[:12], short))
		c.Run(t, "rmi", short).Assert(t, 1, "Error response from daemon: conflict: unable to delete "+short+" (must be forced) - image is being used by stopped container "+cid[:12])

		// A running container: not even -f removes the image.
		c.Run(t, "rm", name).OK(t)
		running := c.Run(t, "run", "-d", "--name", name, p+"-a:2", "sleep", "60").OK(t).Out()
		t.Cleanup(func() { c.Run(t, "rm", "-f", name) })
		c.Run(t, "rmi", "-f", short).Assert(t, 1, "Error response from daemon: conflict: unable to delete "+short+" (cannot be forced) - image is being used by running container "+running[:12])
		c.Run(t, "rm", "-f", name).OK(t)

		out := c.Run(t, "rmi", p+"-a:2").OK(t).Lines()
		if len(out) < 2 || out[0] != "Untagged: "+p+"-a:2" || out[1] != "Deleted: "+id {
			t.Errorf("rmi of the last tag:\n%s", strings.Join(out, "\n"))
		}
		c.Run(t, "image", "inspect", id).Assert(t, 1, "No such image: "+id)
		c.Run(t, "rmi", p+"-a:2").Assert(t, 1, "Error response from daemon: No such image: "+p+"-a:2")
	})
}

// TestImagePrune: image prune removes dangling images, -a every image no
// container uses, narrowed by label and until filters.
func TestImagePrune(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		p := repoName(t)
		lbl := func(extra ...string) map[string]string {
			m := map[string]string{"set": p}
			for _, kv := range extra {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			return m
		}
		used := labelled(t, "2019-01-01", lbl())
		old := labelled(t, "2020-01-01", lbl())
		dangling := labelled(t, "2021-01-01", lbl())
		keep := labelled(t, "2021-06-01", lbl("keep=yes"))
		cur := labelled(t, "2022-01-01", lbl())
		loadImages(t, c, map[string]v1.Image{p + "-used:1": used, p + "-old:1": old, p + "-d:1": dangling, p + "-new:1": cur})
		loadImages(t, c, map[string]v1.Image{p + "-d:1": keep})
		t.Cleanup(func() {
			c.Run(t, "rmi", "-f", imageID(t, used), imageID(t, old), imageID(t, dangling), imageID(t, keep), imageID(t, cur))
		})
		name := e.Name(t)
		c.Run(t, "create", "--name", name, p+"-used:1").OK(t)
		t.Cleanup(func() { c.Run(t, "rm", "-f", name) })
		left := func() []string {
			return c.Run(t, "images", "-q", "--no-trunc", "--filter", "label=set="+p).OK(t).Lines()
		}

		// Dangling images only.
		out := c.Run(t, "image", "prune", "-f", "--filter", "label=set="+p).OK(t).Stdout
		if !strings.Contains(out, "Deleted Images:\ndeleted: "+imageID(t, dangling)+"\n") || !strings.Contains(out, "Total reclaimed space: ") {
			t.Errorf("image prune:\n%s", out)
		}
		// -a with until: images created before the date, unless used.
		until := fmt.Sprint(time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC).Unix())
		out = c.Run(t, "image", "prune", "-a", "-f", "--filter", "label=set="+p, "--filter", "until="+until).OK(t).Stdout
		if !strings.Contains(out, "untagged: "+p+"-old:1\ndeleted: "+imageID(t, old)+"\n") || strings.Contains(out, imageID(t, used)) {
			t.Errorf("image prune -a --filter until=%s:\n%s", until, out)
		}
		if got, want := left(), []string{imageID(t, cur), imageID(t, keep), imageID(t, used)}; !slices.Equal(got, want) {
			t.Errorf("left after prune: %q, want %q", got, want)
		}
		// -a with label!=: all but the kept one and the used one.
		out = c.Run(t, "image", "prune", "-a", "-f", "--filter", "label=set="+p, "--filter", "label!=keep=yes").OK(t).Stdout
		if !strings.Contains(out, "untagged: "+p+"-new:1\ndeleted: "+imageID(t, cur)+"\n") {
			t.Errorf("image prune -a --filter label!=keep=yes:\n%s", out)
		}
		if got, want := left(), []string{imageID(t, keep), imageID(t, used)}; !slices.Equal(got, want) {
			t.Errorf("left after prune: %q, want %q", got, want)
		}
		// Nothing to prune.
		if got := c.Run(t, "image", "prune", "-a", "-f", "--filter", "label=set="+p, "--filter", "label!=keep").OK(t).Out(); got != "Total reclaimed space: 0B" {
			t.Errorf("image prune with nothing to prune: %q", got)
		}
		c.Run(t, "image", "prune", "-f", "--filter", "nope=1").AssertAny(t, 1, "invalid filter 'nope'", "Invalid filter 'nope'")
	})
}
