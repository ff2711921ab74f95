package test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestRegistryTLSAndInsecure: berth's registry over TLS and over plain
// HTTP, on loopback (insecure by default, as in Docker) and on the host's
// own address, where an engine checks certificates and refuses plain
// HTTP unless daemon.json lists the registry in insecure-registries, or
// trusts its CA from /etc/docker/certs.d.
func TestRegistryTLSAndInsecure(t *testing.T) {
	t.Parallel()
	cur := e2e.Current(t)
	host := e2e.HostAddr(t)
	cert, key, _ := registrytest.SelfSigned(t, host)
	plainAddr := net.JoinHostPort(host, fmt.Sprint(e2e.FreePort(t)))
	tlsAddr := net.JoinHostPort(host, fmt.Sprint(e2e.FreePort(t)))
	plain := startRegistry(t, t.TempDir(), "--addr", plainAddr)
	secured := startRegistry(t, t.TempDir(), "--addr", tlsAddr, "--tls-cert", cert, "--tls-key", key)
	loopback := startRegistry(t, t.TempDir(), "--tls-cert", cert, "--tls-key", key)
	img := mustRandomHost(t)
	for _, r := range []*servedRegistry{plain, secured, loopback} {
		ref, err := name.ParseReference(r.addr+"/team/"+repoName(t)+":v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithTransport(insecureTransport())); err != nil {
			t.Fatalf("push to %s: %v", r.addr, err)
		}
	}
	ref := func(addr string) string { return addr + "/team/" + repoName(t) + ":v1" }

	// The shared engine: secure by default, except on loopback.
	c := cur.Docker()
	t.Cleanup(func() { c.Run(t, "rmi", ref(loopback.addr)) })
	c.Run(t, "pull", ref(loopback.addr)).Assert(t, 0, "Status: Downloaded newer image for "+ref(loopback.addr))
	c.Run(t, "pull", ref(plainAddr)).Assert(t, 1, `Get "https://`+plainAddr+`/v2/": http: server gave HTTP response to HTTPS client`)
	// Go 1.20+ words it "tls: failed to verify certificate: x509: …".
	c.Run(t, "pull", ref(tlsAddr)).Assert(t, 1, `Get "https://`+tlsAddr+`/v2/": `, "x509: certificate signed by unknown authority")
	// Its CA in /etc/docker/certs.d/<host:port>/ca.crt: trusted, at once.
	certsDir := filepath.Join("/etc/docker/certs.d", tlsAddr)
	t.Cleanup(func() { os.RemoveAll(certsDir) })
	if err := os.MkdirAll(certsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	place := func(src, name string) {
		t.Helper()
		data, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(filepath.Join(certsDir, name), data, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	place(cert, "ca.crt")
	c.Run(t, "pull", ref(tlsAddr)).Assert(t, 0, "Status: Downloaded newer image for "+ref(tlsAddr))
	c.Run(t, "rmi", ref(tlsAddr)).OK(t)
	// A client key without its certificate: refused, as Docker does
	// ("Missing client certificate …" in 20.10, lower case since).
	place(key, "client.key")
	c.Run(t, "pull", ref(tlsAddr)).Assert(t, 1, "issing client certificate client.cert for key client.key")
	if err := os.RemoveAll(certsDir); err != nil {
		t.Fatal(err)
	}

	// An engine that lists both as insecure.
	e := e2e.StartPrivate(t, e2e.PrivateOptions{DaemonJSON: fmt.Sprintf(`{"insecure-registries": [%q, %q]}`, plainAddr, tlsAddr)})
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		for _, addr := range []string{plainAddr, tlsAddr} {
			c.Run(t, "pull", ref(addr)).Assert(t, 0, "Status: Downloaded newer image for "+ref(addr))
			c.Run(t, "rmi", ref(addr)).OK(t)
		}
		info := c.Run(t, "info").OK(t).Stdout
		if !regexp.MustCompile(`(?s)Insecure Registries:\n(\s+\S+\n)*\s+`+regexp.QuoteMeta(plainAddr)+`\n`).MatchString(info) ||
			!strings.Contains(info, "  127.0.0.0/8\n") {
			t.Errorf("info:\n%s", info)
		}
	})
}

// TestRegistryMirror: with registry-mirrors in daemon.json, a Docker Hub
// name is pulled from the mirror (Docker Hub itself is unreachable here).
func TestRegistryMirror(t *testing.T) {
	t.Parallel()
	addr, _ := registryServe(t)
	e := e2e.StartPrivate(t, e2e.PrivateOptions{DaemonJSON: `{"registry-mirrors": ["http://` + addr + `"]}`})
	name := repoName(t)
	img := mustRandomHost(t)
	registrytest.Push(t, addr+"/library/"+name+":latest", img)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		c.Run(t, "pull", name).Assert(t, 0, "latest: Pulling from library/"+name, "Status: Downloaded newer image for "+name+":latest", "docker.io/library/"+name+":latest")
		if got := c.Run(t, "image", "inspect", "--format", "{{.Id}}", name).OK(t).Out(); got != imageID(t, img) {
			t.Errorf("pulled %s, want %s", got, imageID(t, img))
		}
		c.Run(t, "rmi", name).OK(t)
	})
	if info := e.Docker().Run(t, "info").OK(t).Stdout; !strings.Contains(info, "Registry Mirrors:\n  http://"+addr+"/\n") {
		t.Errorf("info:\n%s", info)
	}
}

// TestRegistryGarbageCollect: `berth registry garbage-collect` frees the
// blobs of a manifest no tag names any more (with --delete-untagged),
// refuses to run on a storage a registry is serving, and leaves what is
// tagged pullable.
func TestRegistryGarbageCollect(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	bin, err := e2e.BerthBinary()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	reg := startRegistry(t, root)
	ref := reg.addr + "/team/" + repoName(t) + ":v1"
	old, cur := randomImage(t, 2), randomImage(t, 1)
	registrytest.Push(t, ref, old)
	registrytest.Push(t, ref, cur) // the tag moves; old's manifest is untagged
	gc := e2e.CLI{Name: "berth", Path: bin}
	gc.Run(t, "registry", "garbage-collect", "--root", root).AssertAny(t, 1, "in use")

	reg.stop()
	dry := gc.Run(t, "registry", "garbage-collect", "--root", root, "--delete-untagged", "--dry-run").OK(t).Out()
	out := gc.Run(t, "registry", "garbage-collect", "--root", root, "--delete-untagged").OK(t).Out()
	// old's manifest, config and two layers go; cur's three blobs stay.
	if !regexp.MustCompile(`^Deleted 4 of 7 blobs, \d+(\.\d+)?[kM]?B freed$`).MatchString(out) || !strings.Contains(dry, "manifest eligible for deletion") {
		t.Errorf("garbage-collect: %q (dry run: %q)", out, dry)
	}
	layers, _ := old.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if _, err := os.Stat(registrytest.BlobPath(root, d)); !os.IsNotExist(err) {
			t.Errorf("blob %s of the untagged image is still there: %v", d, err)
		}
	}
	reg = startRegistry(t, root)
	ref = reg.addr + "/team/" + repoName(t) + ":v1"
	e.Docker().Run(t, "pull", ref).Assert(t, 0, "Status: Downloaded newer image for "+ref)
	e.Docker().Run(t, "rmi", ref).OK(t)
	if got := gc.Run(t, "registry", "garbage-collect", "--root", t.TempDir()+"/nope").Code; got == 0 {
		t.Errorf("garbage-collect of a missing root succeeded")
	}
}
