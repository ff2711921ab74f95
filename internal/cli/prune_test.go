package cli

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pruneEngine answers the prune endpoints with canned bodies (a missing
// entry is a 404, as from a daemon without that route) and records the
// requests as "path filters".
type pruneEngine struct {
	host    string
	answers map[string]string // "containers" -> JSON body, or "501"/"500"

	mu       sync.Mutex
	requests []string
}

func newPruneEngine(t *testing.T, answers map[string]string) *pruneEngine {
	e := &pruneEngine{answers: answers}
	e.host = startFakeEngine(t, "1.51", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := strings.CutSuffix(r.URL.Path, "/prune")
		kind := p[strings.LastIndex(p, "/")+1:]
		q, _ := url.QueryUnescape(r.URL.Query().Get("filters"))
		e.mu.Lock()
		e.requests = append(e.requests, kind+" "+q)
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch body := answers[kind]; {
		case !ok || body == "":
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"message":"page not found"}`)
		case body == "501":
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = io.WriteString(w, `{"message":"not implemented"}`)
		case body == "500":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"message":"`+kind+` prune failed"}`)
		default:
			_, _ = io.WriteString(w, body)
		}
	}))
	return e
}

func (e *pruneEngine) took() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.requests
	e.requests = nil
	return out
}

const (
	containersPruned = `{"ContainersDeleted":["c1","c2"],"SpaceReclaimed":2048}`
	imagesPruned     = `{"ImagesDeleted":[{"Untagged":"x:1"},{"Deleted":"sha256:aa"}],"SpaceReclaimed":1000000}`
	nothingPruned    = `{"ContainersDeleted":null,"ImagesDeleted":null,"NetworksDeleted":null,"CachesDeleted":null,"SpaceReclaimed":77}`
)

// system prune goes through the kinds in docker's order, prints what each
// removed, and skips a kind whose endpoint the daemon does not have.
func TestSystemPrune(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	e := newPruneEngine(t, map[string]string{"containers": containersPruned, "images": imagesPruned, "build": "501"})
	stdout, stderr, code := runCLI(t, nil, "-H", e.host, "system", "prune", "-f", "--filter", "label=a=b")
	want := "Deleted Containers:\nc1\nc2\n\nDeleted Images:\nuntagged: x:1\ndeleted: sha256:aa\n\nTotal reclaimed space: 1.002MB\n"
	if code != 0 || stderr != "" || stdout != want {
		t.Errorf("exit %d, stderr %q\n--- got\n%s--- want\n%s", code, stderr, stdout, want)
	}
	wantReq := []string{
		`containers {"label":{"a=b":true}}`,
		`networks {"label":{"a=b":true}}`,
		`images {"dangling":{"true":true},"label":{"a=b":true}}`,
		`build {"label":{"a=b":true}}`,
	}
	if got := e.took(); strings.Join(got, "\n") != strings.Join(wantReq, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantReq, "\n"))
	}

	// -a removes every unused image; --volumes adds the volumes; space
	// counts only where something went, except for the build cache.
	e = newPruneEngine(t, map[string]string{"containers": nothingPruned, "networks": `{"NetworksDeleted":["n1"]}`,
		"volumes": `{"VolumesDeleted":["v1"],"SpaceReclaimed":10}`, "images": nothingPruned, "build": `{"CachesDeleted":["b1"],"SpaceReclaimed":5}`})
	stdout, _, code = runCLI(t, nil, "-H", e.host, "system", "prune", "-af", "--volumes")
	want = "Deleted Networks:\nn1\n\nDeleted Volumes:\nv1\n\nDeleted build cache objects:\nb1\n\nTotal reclaimed space: 15B\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d\n--- got\n%s--- want\n%s", code, stdout, want)
	}
	if got := strings.Join(e.took(), "|"); got != `containers |networks |volumes |images {"dangling":{"false":true}}|build ` {
		t.Errorf("requests %s", got)
	}

	// Any other failure ends the prune with the daemon's message.
	e = newPruneEngine(t, map[string]string{"containers": containersPruned, "networks": "500"})
	stdout, stderr, code = runCLI(t, nil, "-H", e.host, "system", "prune", "-f")
	if code != 1 || stdout != "Deleted Containers:\nc1\nc2\n\n" || stderr != "Error response from daemon: networks prune failed\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestPrunePrompts(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	e := newPruneEngine(t, map[string]string{"containers": containersPruned, "images": imagesPruned})
	for _, tc := range []struct {
		args           []string
		in             string
		stdout, stderr string
		code           int
		requests       int
	}{
		{[]string{"container", "prune"}, "n\n", "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ", "", 0, 0},
		{[]string{"container", "prune", "--filter", "until=1h"}, "y\n", "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Deleted Containers:\nc1\nc2\n\nTotal reclaimed space: 2.048kB\n", "", 0, 1},
		{[]string{"system", "prune"}, "", "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue? [y/N] ", "", 0, 0},
		{[]string{"system", "prune", "-a", "--volumes", "--filter", "label!=keep", "--filter", "label=a=b"}, "N\n", `WARNING! This will remove:
  - all stopped containers
  - all networks not used by at least one container
  - all anonymous volumes not used by at least one container
  - all images without at least one container associated to them
  - all build cache

  Items to be pruned will be filtered with:
  - label!=keep
  - label=a=b

Are you sure you want to continue? [y/N] `, "", 0, 0},
		{[]string{"system", "prune", "--filter", "until=10m", "--filter", "until=9m"}, "n\n", "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\n  Items to be pruned will be filtered with:\n  - until=9m\n  - until=10m\n\nAre you sure you want to continue? [y/N] ", "", 0, 0},
		{[]string{"system", "prune", "--volumes", "--filter", "until=1h"}, "y\n", "", "ERROR: The \"until\" filter is not supported with \"--volumes\"\n", 1, 0},
		{[]string{"container", "prune", "x"}, "", "", "berth: 'berth container prune' accepts no arguments\n\nUsage:  berth container prune [OPTIONS]\n\nRun 'berth container prune --help' for more information\n", 1, 0},
	} {
		stdout, stderr, code := runCLI(t, strings.NewReader(tc.in), append([]string{"-H", e.host}, tc.args...)...)
		if stdout != tc.stdout || stderr != tc.stderr || code != tc.code {
			t.Errorf("%s: exit %d\n stdout %q\n want   %q\n stderr %q\n want   %q", strings.Join(tc.args, " "), code, stdout, tc.stdout, stderr, tc.stderr)
		}
		if got := e.took(); len(got) != tc.requests {
			t.Errorf("%s: requests %q", strings.Join(tc.args, " "), got)
		}
	}
}

// config.json's pruneFilters apply to every prune, unless the command line
// asks for the opposite label.
func TestPruneFiltersFromConfig(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"pruneFilters":["label=team=a","label!=keep","until=24h"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newPruneEngine(t, map[string]string{"containers": nothingPruned, "images": nothingPruned})
	if _, stderr, code := runCLI(t, nil, "-H", e.host, "container", "prune", "-f", "--filter", "label=keep"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, nil, "-H", e.host, "image", "prune", "-f"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := []string{
		`containers {"label":{"keep":true,"team=a":true},"until":{"24h":true}}`,
		`images {"dangling":{"true":true},"label":{"team=a":true},"label!":{"keep":true},"until":{"24h":true}}`,
	}
	if got := e.took(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
