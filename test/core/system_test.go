package core

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

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

func TestPing(t *testing.T) {
	t.Parallel()
	e := e2e.CurrentWithoutImage(t)
	hc := e2e.HTTPClient(e.Host)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		for _, path := range []string{"/_ping", "/v1.41/_ping"} {
			req, _ := http.NewRequest(method, "http://engine"+path, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s %s: %s", method, path, resp.Status)
			}
			if resp.Header.Get("Api-Version") == "" {
				t.Errorf("%s %s: no API-Version header", method, path)
			}
		}
	}
	p, err := e.Client(t).Ping(context.Background(), client.PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.OSType != "linux" {
		t.Errorf("ping OSType %q", p.OSType)
	}
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
