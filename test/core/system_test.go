package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/moby/moby/client"
)

func TestVersionAndInfo(t *testing.T) {
	t.Parallel()
	e := e2e.CurrentWithoutImage(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		c.Run(t, "version").Assert(t, 0, "Client:", "Server:", "API version:")
		r := c.Run(t, "version", "--format", "{{.Server.APIVersion}}").OK(t)
		if !regexp.MustCompile(`^1\.\d+$`).MatchString(r.Out()) {
			t.Fatalf("server API version %q", r.Out())
		}
		c.Run(t, "info").Assert(t, 0, "Containers:", "Images:", "Server Version:")
		r = c.Run(t, "info", "--format", "{{.Images}} {{.Containers}} {{.OSType}}").OK(t)
		f := strings.Fields(r.Out())
		if len(f) != 3 || f[2] != "linux" {
			t.Fatalf("info --format: %q", r.Out())
		}
		if n, err := strconv.Atoi(f[0]); err != nil || n < 1 {
			t.Fatalf("info reports %q images; the test image is there", f[0])
		}
	})
}

// TestPing: GET and HEAD /_ping, versioned or not, answer OK with the
// headers clients negotiate with (API-Version, OSType) and no caching.
func TestPing(t *testing.T) {
	t.Parallel()
	e := e2e.CurrentWithoutImage(t)
	api := serverVersion(t, e).APIVersion
	hc := e2e.HTTPClient(e.Host)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, path := range []string{"/_ping", "/v1.24/_ping", "/v" + api + "/_ping"} {
			resp, body := request(t, hc, method, path)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %s", method, path, resp.Status)
			}
			wantBody := "OK"
			if method == http.MethodHead {
				wantBody = ""
			}
			if body != wantBody {
				t.Errorf("%s %s: body %q, want %q", method, path, body, wantBody)
			}
			for k, want := range map[string]string{
				// The server's newest version, whatever the request's.
				"Api-Version":   api,
				"Ostype":        "linux",
				"Cache-Control": "no-cache, no-store, must-revalidate",
				"Pragma":        "no-cache",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s %s: header %s %q, want %q", method, path, k, got, want)
				}
			}
			if resp.Header.Get("Docker-Experimental") == "" || !strings.HasPrefix(resp.Header.Get("Server"), "Docker/") {
				t.Errorf("%s %s: headers %v lack Docker-Experimental or a Docker/ Server", method, path, resp.Header)
			}
		}
	}
	p, err := e.Client(t).Ping(context.Background(), client.PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.OSType != "linux" || p.APIVersion != api {
		t.Errorf("SDK ping: OSType %q APIVersion %q", p.OSType, p.APIVersion)
	}
}

// TestAPIVersions: every version from the oldest the engine supports to
// its newest serves requests, unversioned paths are the newest, and
// versions outside the range are refused with 400 and Docker's message.
func TestAPIVersions(t *testing.T) {
	t.Parallel()
	e := e2e.CurrentWithoutImage(t)
	v := serverVersion(t, e)
	hc := e2e.HTTPClient(e.Host)
	// berth: 1.24 … 1.51; Docker 20.10: 1.12 … 1.41.
	versions := []string{v.MinAPIVersion, "1.24", "1.25", "1.40", "1.41", v.APIVersion}
	for _, ver := range versions {
		if cmpVersion(ver, v.MinAPIVersion) < 0 || cmpVersion(ver, v.APIVersion) > 0 {
			continue
		}
		for _, path := range []string{"/version", "/info", "/containers/json?all=1", "/images/json", "/events?since=0&until=1"} {
			if resp, body := request(t, hc, http.MethodGet, "/v"+ver+path); resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v%s%s: %s %s", ver, path, resp.Status, body)
			}
		}
	}
	if resp, body := request(t, hc, http.MethodGet, "/containers/json"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "[") {
		t.Errorf("GET /containers/json (unversioned): %s %s", resp.Status, body)
	}

	major, minor := splitVersion(t, v.APIVersion)
	tooNew := fmt.Sprintf("%d.%d", major, minor+1)
	major, minor = splitVersion(t, v.MinAPIVersion)
	tooOld := fmt.Sprintf("%d.%d", major, minor-1)
	for _, tc := range []struct{ path, want string }{
		{"/v" + tooNew + "/version", "client version " + tooNew + " is too new. Maximum supported API version is " + v.APIVersion},
		{"/v" + tooOld + "/version", "client version " + tooOld + " is too old. Minimum supported API version is " + v.MinAPIVersion +
			", please upgrade your client to a newer version"},
	} {
		resp, body := request(t, hc, http.MethodGet, tc.path)
		// Docker 20.10 answers "too old" in plain text, newer releases
		// and "too new" as {"message": ...}.
		if msg := errorMessage(body); resp.StatusCode != http.StatusBadRequest || msg != tc.want {
			t.Errorf("GET %s: %s %q, want 400 %q", tc.path, resp.Status, msg, tc.want)
		}
	}
	resp, body := request(t, hc, http.MethodGet, "/v1.24/no/such/endpoint")
	if resp.StatusCode != http.StatusNotFound || errorMessage(body) != "page not found" {
		t.Errorf("unknown endpoint: %s %q", resp.Status, body)
	}

	// The stock CLI pinned to the oldest version berth keeps, as old
	// tools are: run --rm is then the client's job.
	e2e.Current(t).ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		old := c.WithEnv("DOCKER_API_VERSION=1.24")
		old.Run(t, "version", "--format", "{{.Client.APIVersion}}").Assert(t, 0, "1.24")
		name := e.Name(t)
		if r := old.Run(t, "run", "--rm", "--name", name, "busybox", "echo", "old client").OK(t); r.Stdout != "old client\n" {
			t.Errorf("run with API 1.24: %q", r.Stdout)
		}
		if e.Exists(t, name) {
			t.Errorf("run --rm with API 1.24 left %s", name)
		}
		// Before 1.30 wait has no conditions; the exit code still passes.
		old.Run(t, "run", "--rm", "busybox", "sh", "-c", "sleep 0.2; exit 3").Assert(t, 3)
		old.Run(t, "run", "--name", name, "busybox", "sh", "-c", "exit 4").Assert(t, 4)
		// (Docker reports the die event a moment before ps shows it.)
		if code := e.WaitExit(t, name, 20*time.Second); code != 4 {
			t.Errorf("exit code %d, want 4", code)
		}
	})
}

func serverVersion(t *testing.T, e *e2e.Engine) client.ServerVersionResult {
	t.Helper()
	v, err := e.Client(t).ServerVersion(context.Background(), client.ServerVersionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// request sends a raw request (no version negotiation) and reads the body.
func request(t *testing.T, hc *http.Client, method, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://engine"+path, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// errorMessage is the message of an error body: {"message": ...}, or
// plain text.
func errorMessage(body string) string {
	var m struct{ Message string }
	if json.Unmarshal([]byte(body), &m) == nil && m.Message != "" {
		return m.Message
	}
	return strings.TrimSpace(body)
}

func splitVersion(t *testing.T, v string) (int, int) {
	t.Helper()
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		t.Fatalf("API version %q: %v", v, err)
	}
	return major, minor
}

func cmpVersion(a, b string) int {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	if am != bm {
		return am - bm
	}
	return an - bn
}

func TestImport(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	tarball, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(file, tarball, 0o644); err != nil {
		t.Fatal(err)
	}
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		repo := strings.ToLower(e.Name(t))
		t.Cleanup(func() { e.Docker().Run(t, "rmi", "-f", repo+":stdin", repo+":file") })

		// From stdin, with --change, as the quick start does.
		r := c.RunWith(t, e2e.RunOpts{Stdin: bytes.NewReader(tarball)},
			"import", "--change", `CMD ["echo", "imported"]`, "--change", "ENV GREETING=hi", "-", repo+":stdin").OK(t)
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(r.Out()) {
			t.Fatalf("import prints the image ID, got %q", r.Out())
		}
		id := r.Out()
		c.Run(t, "run", "--rm", repo+":stdin").Assert(t, 0, "imported")
		c.Run(t, "run", "--rm", repo+":stdin", "sh", "-c", "echo $GREETING").Assert(t, 0, "hi")
		r = c.Run(t, "image", "inspect", "--format", "{{.Id}} {{json .Config.Cmd}} {{.Os}}", repo+":stdin").OK(t)
		if want := id + ` ["echo","imported"] linux`; r.Out() != want {
			t.Errorf("image inspect: got %q, want %q", r.Out(), want)
		}

		// From a file.
		c.Run(t, "import", file, repo+":file").OK(t)
		r = c.Run(t, "images", "--format", "{{.Repository}}:{{.Tag}}").OK(t)
		for _, tag := range []string{repo + ":stdin", repo + ":file", "busybox:latest"} {
			if !strings.Contains(r.Stdout, tag+"\n") {
				t.Errorf("images does not list %s:\n%s", tag, r.Stdout)
			}
		}
		c.Run(t, "rmi", repo+":stdin", repo+":file").OK(t)
		c.Run(t, "image", "inspect", repo+":file").Assert(t, 1, "No such image")
	})
}
