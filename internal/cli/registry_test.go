package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// runRegistryCommand runs `berth registry args...` with stdin and returns
// stdout and the error.
func runRegistryCommand(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &CLI{In: io.NopCloser(strings.NewReader(stdin)), Out: &out, Err: &errOut}
	cmd := newRegistryCommand(c)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestRegistryHtpasswd(t *testing.T) {
	out, _, err := runRegistryCommand(t, "s3cret\n", "htpasswd", "ci")
	if err != nil {
		t.Fatal(err)
	}
	user, hash, ok := strings.Cut(strings.TrimSuffix(out, "\n"), ":")
	if !ok || user != "ci" || bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")) != nil {
		t.Fatalf("htpasswd printed %q", out)
	}

	file := filepath.Join(t.TempDir(), "htpasswd")
	for _, pw := range []string{"one", "two"} {
		if _, _, err := runRegistryCommand(t, pw+"\n", "htpasswd", "-f", file, "ci"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := runRegistryCommand(t, "x\n", "htpasswd", "--file", file, "other"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ci:") || !strings.HasPrefix(lines[1], "other:") {
		t.Fatalf("htpasswd file:\n%s", data)
	}
	if bcrypt.CompareHashAndPassword([]byte(strings.TrimPrefix(lines[0], "ci:")), []byte("two")) != nil {
		t.Fatal("the second password did not replace the first")
	}

	if _, _, err := runRegistryCommand(t, "", "htpasswd", "ci"); err == nil {
		t.Fatal("empty standard input accepted")
	}
	if _, _, err := runRegistryCommand(t, "pw\n", "htpasswd", "a:b"); err == nil {
		t.Fatal("user name with a colon accepted")
	}
}

func TestRegistryServeAndGC(t *testing.T) {
	root := t.TempDir()
	pr, pw := io.Pipe()
	c := &CLI{In: io.NopCloser(strings.NewReader("")), Out: io.Discard, Err: pw}
	cmd := newRegistryCommand(c)
	cmd.SetArgs([]string{"serve", "--addr", "127.0.0.1:0", "--root", root})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve printed nothing: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// "berth registry listening on http://127.0.0.1:PORT, storage in ROOT"
	fields := strings.Fields(line)
	if len(fields) < 5 || !strings.HasPrefix(fields[4], "http://127.0.0.1:") {
		t.Fatalf("serve printed %q", line)
	}
	url := strings.TrimSuffix(fields[4], ",")
	resp, err := http.Get(url + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("GET /v2/: %d %v", resp.StatusCode, resp.Header)
	}

	// Collection waits for the server to stop.
	if _, _, err := runRegistryCommand(t, "", "garbage-collect", "--root", root); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("garbage-collect while serving: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop when its context ended")
	}
	out, _, err := runRegistryCommand(t, "", "garbage-collect", "--root", root)
	if err != nil || out != "Deleted 0 of 0 blobs, 0B freed\n" {
		t.Fatalf("garbage-collect: %q, %v", out, err)
	}
}
