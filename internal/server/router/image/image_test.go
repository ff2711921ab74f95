package imagerouter_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/busyboxtest"
	"github.com/berth-dev/berth/internal/events"
	"github.com/berth-dev/berth/internal/image"
	"github.com/berth-dev/berth/internal/layer"
	"github.com/berth-dev/berth/internal/server"
	imagerouter "github.com/berth-dev/berth/internal/server/router/image"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

const fixture = "../../../image/testdata/docker-20.10-busybox.tar.gz"

// daemon is an image service behind the real server and router.
type daemon struct {
	svc  *image.Service
	bus  *events.Bus
	url  string
	cli  *client.Client
	root string
}

func newDaemon(t *testing.T) *daemon {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := t.TempDir()
	bus := events.New()
	svc, err := image.New(context.Background(), image.Config{Root: root, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	dist, err := image.NewDistributor(svc, image.DistributorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New("28.3.0", imagerouter.New(svc, image.NewArchiver(svc), dist)))
	cli, err := client.New(client.WithHost("tcp://"+ts.Listener.Addr().String()), client.WithAPIVersion("1.51"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.Close()
		ts.Close()
		svc.Close()
		entries, _ := os.ReadDir(filepath.Join(root, "rw"))
		for _, e := range entries {
			layer.Unmount(filepath.Join(root, "rw", e.Name(), "merged"))
		}
	})
	return &daemon{svc: svc, bus: bus, url: ts.URL, cli: cli, root: root}
}

// jsonLines decodes a JSON message stream.
func jsonLines(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON message: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// rootfsTar is the busybox root filesystem, for imports.
func rootfsTar(t *testing.T) []byte {
	t.Helper()
	if _, err := os.Stat(busyboxtest.Binary); err != nil {
		t.Skip("no " + busyboxtest.Binary)
	}
	data, err := busyboxtest.Rootfs{}.Tar()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestImportListInspectHistoryTagRemove(t *testing.T) {
	d := newDaemon(t)
	ctx := context.Background()
	rc, err := d.cli.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootfsTar(t)), SourceName: "-"}, "busybox",
		client.ImageImportOptions{Changes: []string{`CMD ["sh"]`, "LABEL team=berth"}, Message: "from the test"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := jsonLines(t, rc)
	rc.Close()
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0]["status"].(string), "sha256:") {
		t.Fatalf("import stream %v", msgs)
	}
	id := msgs[0]["status"].(string)

	list, err := d.cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	if got := list.Items[0]; got.ID != id || !slices.Equal(got.RepoTags, []string{"busybox:latest"}) || got.Labels["team"] != "berth" || got.Size == 0 || got.Containers != -1 {
		t.Errorf("summary %+v", got)
	}

	insp, err := d.cli.ImageInspect(ctx, "busybox")
	if err != nil {
		t.Fatal(err)
	}
	if insp.ID != id || insp.Comment != "from the test" || insp.Os != "linux" || insp.RootFS.Type != "layers" || len(insp.RootFS.Layers) != 1 ||
		insp.GraphDriver == nil || insp.GraphDriver.Name != "overlay2" || insp.GraphDriver.Data["UpperDir"] == "" || !slices.Equal(insp.Config.Cmd, []string{"sh"}) {
		t.Errorf("inspect %+v", insp.InspectResponse)
	}
	// The raw shape carries what Docker 28 sends at API 1.51.
	resp, err := http.Get(d.url + "/v1.51/images/busybox/json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	json.NewDecoder(resp.Body).Decode(&raw)
	resp.Body.Close()
	for _, k := range []string{"Parent", "DockerVersion", "Comment", "Created", "Metadata", "RepoDigests"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("inspect lacks %s", k)
		}
	}
	if cfg := raw["Config"].(map[string]any); cfg["Entrypoint"] != nil || cfg["WorkingDir"] != "" {
		t.Errorf("legacy config fields: %v", cfg)
	} else if _, ok := cfg["Env"]; !ok {
		t.Errorf("Config lacks Env: %v", cfg)
	}

	hist, err := d.cli.ImageHistory(ctx, id)
	if err != nil || len(hist.Items) != 1 || hist.Items[0].Comment != "from the test" {
		t.Errorf("history %+v %v", hist, err)
	}

	if _, err := d.cli.ImageTag(ctx, client.ImageTagOptions{Source: "busybox", Target: "localhost:5000/team/bb:v1"}); err != nil {
		t.Fatal(err)
	}
	insp, _ = d.cli.ImageInspect(ctx, id)
	if !slices.Equal(insp.RepoTags, []string{"busybox:latest", "localhost:5000/team/bb:v1"}) {
		t.Errorf("tags after tag: %v", insp.RepoTags)
	}

	// Errors come back with Docker's status and text.
	_, err = d.cli.ImageInspect(ctx, "nope")
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "No such image: nope:latest") {
		t.Errorf("inspect missing: %v", err)
	}
	_, err = d.cli.ImageRemove(ctx, id[7:19], client.ImageRemoveOptions{PruneChildren: true})
	if !cerrdefs.IsConflict(err) || !strings.Contains(err.Error(), "image is referenced in multiple repositories") {
		t.Errorf("rmi by id: %v", err)
	}
	res, err := d.cli.ImageRemove(ctx, "busybox", client.ImageRemoveOptions{PruneChildren: true})
	if err != nil || len(res.Items) != 1 || res.Items[0].Untagged != "busybox:latest" {
		t.Errorf("rmi busybox: %+v %v", res, err)
	}
	res, err = d.cli.ImageRemove(ctx, "localhost:5000/team/bb:v1", client.ImageRemoveOptions{PruneChildren: true})
	if err != nil || len(res.Items) != 3 || res.Items[1].Deleted != id {
		t.Errorf("rmi last tag: %+v %v", res, err)
	}
	past, _, cancel := d.bus.Subscribe(timeZero())
	cancel()
	var actions []string
	for _, m := range past {
		actions = append(actions, string(m.Action))
	}
	if strings.Join(actions, " ") != "tag import tag untag untag delete" {
		t.Errorf("events %v", actions)
	}
}

func TestImportFromURL(t *testing.T) {
	d := newDaemon(t)
	data := rootfsTar(t)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rootfs.tar" {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	defer src.Close()
	rc, err := d.cli.ImageImport(context.Background(), client.ImageImportSource{SourceName: src.URL + "/rootfs.tar"}, "fromurl:1", client.ImageImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msgs := jsonLines(t, rc)
	rc.Close()
	if len(msgs) < 3 || msgs[0]["status"] != "Downloading from "+src.URL+"/rootfs.tar" || msgs[1]["status"] != "Importing" ||
		!strings.HasPrefix(msgs[len(msgs)-1]["status"].(string), "sha256:") {
		t.Fatalf("stream %v", msgs)
	}
	insp, err := d.cli.ImageInspect(context.Background(), "fromurl:1")
	if err != nil || insp.Comment != "Imported from "+src.URL+"/rootfs.tar" {
		t.Errorf("inspect %v %v", insp.Comment, err)
	}
	_, err = d.cli.ImageImport(context.Background(), client.ImageImportSource{SourceName: src.URL + "/missing"}, "x", client.ImageImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("import from a 404: %v", err)
	}
}

func TestSaveLoadBetweenDaemons(t *testing.T) {
	a, b := newDaemon(t), newDaemon(t)
	ctx := context.Background()
	f, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rc, err := a.cli.ImageLoad(ctx, f, client.ImageLoadWithQuiet(false))
	if err != nil {
		t.Fatal(err)
	}
	msgs := jsonLines(t, rc)
	rc.Close()
	var streams []string
	bars := 0
	for _, m := range msgs {
		if s, ok := m["stream"].(string); ok {
			streams = append(streams, s)
		}
		if m["status"] == "Loading layer" {
			bars++
			if _, ok := m["progressDetail"]; !ok {
				t.Errorf("progress without detail: %v", m)
			}
		}
	}
	if strings.Join(streams, "") != "Loaded image: busybox:latest\nLoaded image: example.com/team/busybox:v1\n" || bars == 0 {
		t.Fatalf("load stream %v", msgs)
	}

	save, err := a.cli.ImageSave(ctx, []string{"busybox", "example.com/team/busybox:v1"})
	if err != nil {
		t.Fatal(err)
	}
	archive, _ := io.ReadAll(save)
	save.Close()
	rc, err = b.cli.ImageLoad(ctx, bytes.NewReader(archive), client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatal(err)
	}
	msgs = jsonLines(t, rc)
	rc.Close()
	if len(msgs) != 2 || msgs[0]["stream"] != "Loaded image: busybox:latest\n" {
		t.Fatalf("quiet load stream %v", msgs)
	}
	one, err := b.cli.ImageInspect(ctx, "example.com/team/busybox:v1")
	if err != nil || one.ID != "sha256:911349a88c25d7cadef8809de8dc49d2aa6a3120fb70d6c699ec65b791f2adaf" {
		t.Fatalf("after load %v %v", one.ID, err)
	}

	// GET /images/{name}/get saves one image.
	resp, err := http.Get(a.url + "/v1.51/images/busybox:latest/get")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-tar" {
		t.Fatalf("single save: %v %v", resp, err)
	}
	resp.Body.Close()
	// Saving an unknown image is a 404 before any archive byte.
	_, err = a.cli.ImageSave(ctx, []string{"busybox", "nope"})
	if !cerrdefs.IsNotFound(err) {
		t.Errorf("save of a missing image: %v", err)
	}

	// A broken archive is reported in the stream, with status 200, as
	// Docker does.
	rc, err = b.cli.ImageLoad(ctx, strings.NewReader(strings.Repeat("x", 2048)))
	if err != nil {
		t.Fatal(err)
	}
	msgs = jsonLines(t, rc)
	rc.Close()
	if len(msgs) != 1 || msgs[0]["errorDetail"] == nil || msgs[0]["error"] == nil {
		t.Errorf("bad load stream %v", msgs)
	}
}

func TestListFiltersAndVersions(t *testing.T) {
	d := newDaemon(t)
	ctx := context.Background()
	for _, tag := range []string{"a", "b"} {
		rc, err := d.cli.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootfsTar(t)), SourceName: "-"}, "filters:"+tag,
			client.ImageImportOptions{Changes: []string{"LABEL which=" + tag}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
	// An untagged image: import without a repository.
	rc, _ := d.cli.ImageImport(ctx, client.ImageImportSource{Source: bytes.NewReader(rootfsTar(t)), SourceName: "-"}, "", client.ImageImportOptions{Message: "dangling"})
	io.Copy(io.Discard, rc)
	rc.Close()

	count := func(f client.Filters) int {
		l, err := d.cli.ImageList(ctx, client.ImageListOptions{Filters: f})
		if err != nil {
			t.Fatalf("list %v: %v", f, err)
		}
		return len(l.Items)
	}
	cases := []struct {
		f    client.Filters
		want int
	}{
		{client.Filters{}, 3},
		{make(client.Filters).Add("label", "which=a"), 1},
		{make(client.Filters).Add("label", "which"), 2},
		{make(client.Filters).Add("dangling", "true"), 1},
		{make(client.Filters).Add("dangling", "false"), 2},
		{make(client.Filters).Add("reference", "filters:b"), 1},
		{make(client.Filters).Add("reference", "filt*"), 2},
		{make(client.Filters).Add("before", "filters:b"), 1},
		{make(client.Filters).Add("since", "filters:a"), 2},
	}
	for _, c := range cases {
		if got := count(c.f); got != c.want {
			t.Errorf("filter %v: %d images, want %d", c.f, got, c.want)
		}
	}
	_, err := d.cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("nope", "x")})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "invalid filter 'nope'") {
		t.Errorf("unknown filter: %v", err)
	}

	// Older clients see the fields they know.
	var old []map[string]any
	resp, _ := http.Get(d.url + "/v1.41/images/json")
	json.NewDecoder(resp.Body).Decode(&old)
	resp.Body.Close()
	none := 0
	for _, im := range old {
		if _, ok := im["VirtualSize"]; !ok {
			t.Errorf("v1.41 summary lacks VirtualSize")
		}
		if im["Containers"].(float64) != -1 {
			t.Errorf("v1.41 Containers = %v", im["Containers"])
		}
		if tags := im["RepoTags"].([]any); len(tags) == 1 && tags[0] == "<none>:<none>" {
			none++
		}
	}
	if none != 1 {
		t.Errorf("v1.41: %d untagged images shown as <none>:<none>", none)
	}

	rep, err := d.cli.ImagePrune(ctx, client.ImagePruneOptions{})
	// Only the untagged image goes; the layer it shares with the others stays.
	if err != nil || len(rep.Report.ImagesDeleted) != 1 || rep.Report.SpaceReclaimed != 0 {
		t.Errorf("prune: %+v %v", rep, err)
	}
}

func timeZero() (t time.Time) { return time.Unix(1, 0) }
