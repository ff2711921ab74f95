package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// startRegistry serves cfg on a random loopback port (Root defaults to a
// temporary directory) and stops it when the test ends.
func startRegistry(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Root == "" {
		cfg.Root = t.TempDir()
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	srv, err := Serve(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

// ref names repo:tag (or repo@digest) on srv.
func ref(t *testing.T, srv *Server, s string) name.Reference {
	t.Helper()
	opts := []name.Option{name.StrictValidation}
	if !srv.tls {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(srv.Addr()+"/"+s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func randomImage(t *testing.T, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func digestOf(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pushPull pushes a random image to repo:tag and pulls it back, checking
// that the same, valid image comes back by tag and by digest.
func pushPull(t *testing.T, srv *Server, repo string, opts ...remote.Option) v1.Image {
	t.Helper()
	img := randomImage(t, 1024, 3)
	want := digestOf(t, img)
	if err := remote.Write(ref(t, srv, repo+":v1"), img, opts...); err != nil {
		t.Fatalf("push: %v", err)
	}
	for _, r := range []string{repo + ":v1", repo + "@" + want.String()} {
		got, err := remote.Image(ref(t, srv, r), opts...)
		if err != nil {
			t.Fatalf("pull %s: %v", r, err)
		}
		if d := digestOf(t, got); d != want {
			t.Fatalf("pull %s: digest %s, pushed %s", r, d, want)
		}
		if err := validate.Image(got); err != nil {
			t.Fatalf("pull %s: invalid image: %v", r, err)
		}
	}
	return img
}

func TestPushPullCatalogTags(t *testing.T) {
	srv := startRegistry(t, Config{})
	pushPull(t, srv, "team/busybox")
	pushPull(t, srv, "alpine")

	reg, err := name.NewRegistry(srv.Addr(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := remote.Catalog(context.Background(), reg)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	if !slices.Equal(repos, []string{"alpine", "team/busybox"}) {
		t.Fatalf("catalog = %q", repos)
	}
	tags, err := remote.List(ref(t, srv, "team/busybox:v1").Context())
	if err != nil {
		t.Fatalf("tags: %v", err)
	}
	if !slices.Equal(tags, []string{"v1"}) {
		t.Fatalf("tags = %q", tags)
	}

	// A tag pushed again moves to the new image.
	img2 := randomImage(t, 512, 1)
	if err := remote.Write(ref(t, srv, "alpine:v1"), img2); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref(t, srv, "alpine:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if digestOf(t, got) != digestOf(t, img2) {
		t.Fatal("re-pushed tag does not point to the new image")
	}

	// Unknown repositories and tags are the registry's 404s.
	_, err = remote.Image(ref(t, srv, "nosuch/repo:v1"))
	assertStatus(t, err, http.StatusNotFound)
	_, err = remote.Image(ref(t, srv, "alpine:nosuchtag"))
	assertStatus(t, err, http.StatusNotFound)
}

func TestIndexPushPull(t *testing.T) {
	srv := startRegistry(t, Config{LogLevel: os.Getenv("REGLOG")})
	idx, err := random.Index(256, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref(t, srv, "multi:latest"), idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	got, err := remote.Index(ref(t, srv, "multi:latest"))
	if err != nil {
		t.Fatalf("pull index: %v", err)
	}
	if err := validate.Index(got); err != nil {
		t.Fatalf("invalid index: %v", err)
	}
	want, _ := idx.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("index digest %s, pushed %s", d, want)
	}
}

func TestDeleteManifest(t *testing.T) {
	srv := startRegistry(t, Config{})
	img := pushPull(t, srv, "team/app")
	byDigest := ref(t, srv, "team/app@"+digestOf(t, img).String())
	if err := remote.Delete(byDigest); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err := remote.Image(byDigest)
	assertStatus(t, err, http.StatusNotFound)
}

func assertStatus(t *testing.T, err error, status int) {
	t.Helper()
	var terr *transport.Error
	if !errors.As(err, &terr) {
		t.Fatalf("error = %v, want HTTP %d", err, status)
	}
	if terr.StatusCode != status {
		t.Fatalf("status = %d (%v), want %d", terr.StatusCode, err, status)
	}
}

// wantStatus sends a request with no body and fails the test unless the
// answer has the status.
func wantStatus(t *testing.T, method, url string, status int) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d", method, url, resp.StatusCode, status)
	}
}

func writeHtpasswd(t *testing.T, users ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "htpasswd")
	for i := 0; i < len(users); i += 2 {
		if err := SetPassword(path, users[i], users[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestHtpasswdAuth(t *testing.T) {
	htpasswd := writeHtpasswd(t, "ci", "s3cret", "other", "pw")
	srv := startRegistry(t, Config{Htpasswd: htpasswd, Realm: "test realm"})

	// The version check answers 401 with a basic challenge, as Docker
	// expects before it sends credentials.
	resp, err := http.Get(srv.URL() + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /v2/ without credentials: %d", resp.StatusCode)
	}
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="test realm"` {
		t.Fatalf("WWW-Authenticate = %q", got)
	}

	img := randomImage(t, 512, 2)
	err = remote.Write(ref(t, srv, "team/busybox:v1"), img)
	assertStatus(t, err, http.StatusUnauthorized)
	err = remote.Write(ref(t, srv, "team/busybox:v1"), img, remote.WithAuth(&authn.Basic{Username: "ci", Password: "wrong"}))
	assertStatus(t, err, http.StatusUnauthorized)
	err = remote.Write(ref(t, srv, "team/busybox:v1"), img, remote.WithAuth(&authn.Basic{Username: "nobody", Password: "s3cret"}))
	assertStatus(t, err, http.StatusUnauthorized)

	pushPull(t, srv, "team/busybox", remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"}))
	_, err = remote.Image(ref(t, srv, "team/busybox:v1"))
	assertStatus(t, err, http.StatusUnauthorized)

	// The file is re-read when it changes: a new password works at once.
	if err := SetPassword(htpasswd, "ci", "rotated"); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(ref(t, srv, "team/busybox:v1"), remote.WithAuth(&authn.Basic{Username: "ci", Password: "rotated"})); err != nil {
		t.Fatalf("pull with the new password: %v", err)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no root", Config{Addr: "127.0.0.1:0"}},
		{"missing htpasswd", Config{Root: dir, Addr: "127.0.0.1:0", Htpasswd: filepath.Join(dir, "nope")}},
		{"cert without key", Config{Root: dir, Addr: "127.0.0.1:0", TLSCert: filepath.Join(dir, "cert.pem")}},
		{"unreadable cert", Config{Root: dir, Addr: "127.0.0.1:0", TLSCert: filepath.Join(dir, "c"), TLSKey: filepath.Join(dir, "k")}},
		{"bad log level", Config{Root: dir, Addr: "127.0.0.1:0", LogLevel: "loud"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := Serve(context.Background(), tc.cfg)
			if err == nil {
				srv.Close()
				t.Fatal("Serve accepted the configuration")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error %v is not InvalidArgument", err)
			}
		})
	}
	// A busy port is the listener's error, and nothing is left locked.
	srv := startRegistry(t, Config{Root: dir})
	if _, err := Serve(context.Background(), Config{Root: dir, Addr: srv.Addr()}); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("second Serve on %s: %v", srv.Addr(), err)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Serve(ctx, Config{Root: t.TempDir(), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server still running after its context ended")
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Fatal("still accepting connections")
	}
}

func TestTLS(t *testing.T) {
	certFile, keyFile, pool := registrytest.SelfSigned(t)
	srv := startRegistry(t, Config{TLSCert: certFile, TLSKey: keyFile, Htpasswd: writeHtpasswd(t, "ci", "pw")})
	if !strings.HasPrefix(srv.URL(), "https://") {
		t.Fatalf("URL = %s", srv.URL())
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	pushPull(t, srv, "secure/busybox", remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: "ci", Password: "pw"}))

	// A client that does not trust the certificate is refused.
	_, err := remote.Image(ref(t, srv, "secure/busybox:v1"), remote.WithAuth(&authn.Basic{Username: "ci", Password: "pw"}))
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("untrusted client: %v", err)
	}
	// Plain HTTP to the TLS port gets no registry answer.
	resp, err := http.Get("http://" + srv.Addr() + "/v2/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS port: %d", resp.StatusCode)
		}
	}
}
