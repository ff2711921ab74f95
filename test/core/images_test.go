package core

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// TestImages: what the issue asks of images besides pull and push — tag,
// history, images/image ls, inspect, save and load (file and stream),
// import from a URL with --change and --message, rmi — and what each
// refuses.
func TestImages(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	rootfs, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	// The engine downloads the import from this server, as from any URL.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rootfs.tar" {
			http.NotFound(w, r)
			return
		}
		w.Write(rootfs)
	}))
	defer srv.Close()
	busyboxID := e.Docker().Run(t, "image", "inspect", "--format", "{{.Id}}", "busybox").OK(t).Out()

	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		repo := strings.ToLower(e.Name(t))
		t.Cleanup(func() { e.Docker().Run(t, "rmi", "-f", repo+":v1", repo+":v2", repo+":url") })

		// tag, both forms; the tags share the image.
		c.Run(t, "tag", "busybox", repo+":v1").OK(t)
		c.Run(t, "image", "tag", repo+":v1", repo+":v2").OK(t)
		r := c.Run(t, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", repo).OK(t)
		if want := repo + ":v1 " + busyboxID[7:19] + "\n"; !strings.Contains(r.Stdout, want) || len(r.Lines()) != 2 {
			t.Errorf("images %s: want v1 and v2 of %s:\n%s", repo, busyboxID[7:19], r.Stdout)
		}
		r = c.Run(t, "images", repo).OK(t)
		if header := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(r.Lines()[0]), -1); strings.Join(header, "|") != "REPOSITORY|TAG|IMAGE ID|CREATED|SIZE" {
			t.Errorf("images header %q", header)
		}
		// -q lists the image once per tag.
		if r := c.Run(t, "image", "ls", "-q", repo).OK(t); r.Out() != busyboxID[7:19]+"\n"+busyboxID[7:19] {
			t.Errorf("image ls -q %s: %q", repo, r.Stdout)
		}
		c.Run(t, "image", "inspect", "--format", "{{json .RepoTags}}", busyboxID).Assert(t, 0, `"`+repo+`:v1"`, `"`+repo+`:v2"`)
		c.Run(t, "tag", "e2e-no-such-image", repo+":v3").Assert(t, 1, "No such image: e2e-no-such-image:latest")
		c.Run(t, "tag", "busybox", "Not-Lower:x").Assert(t, 1, "invalid reference format")

		// history: Docker's columns; an imported image is one layer.
		r = c.Run(t, "history", repo+":v1").OK(t)
		header := regexp.MustCompile(`\s{2,}`).Split(strings.TrimSpace(r.Lines()[0]), -1)
		if strings.Join(header, "|") != "IMAGE|CREATED|CREATED BY|SIZE|COMMENT" || len(r.Lines()) != 2 ||
			!strings.HasPrefix(r.Lines()[1], busyboxID[7:19]+" ") || !strings.Contains(r.Lines()[1], "Imported from -") {
			t.Errorf("history:\n%s", r.Stdout)
		}
		c.Run(t, "image", "history", "-q", "--no-trunc", repo+":v1").Assert(t, 0, busyboxID)
		c.Run(t, "history", "e2e-no-such-image").Assert(t, 1, "No such image: e2e-no-such-image:latest")

		// save to a file and load it back; then the same through a pipe.
		file := filepath.Join(t.TempDir(), "saved.tar")
		c.Run(t, "save", "-o", file, repo+":v1").OK(t)
		c.Run(t, "rmi", repo+":v1").Assert(t, 0, "Untagged: "+repo+":v1")
		c.Run(t, "image", "inspect", repo+":v1").Assert(t, 1, "No such image")
		c.Run(t, "load", "-i", file).Assert(t, 0, "Loaded image: "+repo+":v1")
		c.Run(t, "image", "inspect", "--format", "{{.Id}}", repo+":v1").Assert(t, 0, busyboxID)
		saved := c.Run(t, "image", "save", repo+":v2").OK(t).Stdout
		c.Run(t, "rmi", repo+":v2").OK(t)
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader(saved)}, "image", "load", "-q").Assert(t, 0, "Loaded image: "+repo+":v2")
		c.Run(t, "run", "--rm", repo+":v2", "echo", "loaded").Assert(t, 0, "loaded")
		// Docker 20.10: "reference does not exist"; newer: No such image.
		c.Run(t, "save", "e2e-no-such-image:v1").AssertAny(t, 1, "No such image: e2e-no-such-image:v1", "reference does not exist")
		c.RunWith(t, e2e.RunOpts{Stdin: strings.NewReader("not a tar archive")}, "load").Assert(t, 1)

		// import from a URL, with --change and --message.
		r = c.Run(t, "import", "--change", `CMD ["echo", "from the url"]`, "--message", "e2e import", srv.URL+"/rootfs.tar", repo+":url").
			Assert(t, 0, "Downloading from "+srv.URL+"/rootfs.tar")
		id := r.Lines()[len(r.Lines())-1]
		if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(id) {
			t.Fatalf("import prints the image ID last, got:\n%s", r.Stdout)
		}
		c.Run(t, "run", "--rm", repo+":url").Assert(t, 0, "from the url")
		c.Run(t, "history", "--format", "{{.Comment}}", repo+":url").Assert(t, 0, "e2e import")
		c.Run(t, "import", srv.URL+"/missing.tar", repo+":missing").Assert(t, 1, "404")
		c.Run(t, "image", "inspect", repo+":missing").Assert(t, 1, "No such image")

		// rmi: an image a container uses is kept until the container goes.
		user := e.Name(t, "user")
		c.Run(t, "create", "--name", user, repo+":url").OK(t)
		c.Run(t, "rmi", repo+":url").Assert(t, 1, `conflict: unable to remove repository reference "`+repo+`:url" (must force) - container`)
		c.Run(t, "rm", user).OK(t)
		c.Run(t, "rmi", repo+":url").Assert(t, 0, "Untagged: "+repo+":url", "Deleted: "+id)
		c.Run(t, "rmi", repo+":url").Assert(t, 1, "No such image: "+repo+":url")
		c.Run(t, "rmi", repo+":v1", repo+":v2").OK(t)
		// The tags are gone, the image they shared is not.
		c.Run(t, "image", "inspect", "--format", "{{.Id}}", "busybox").Assert(t, 0, busyboxID)
	})
}
