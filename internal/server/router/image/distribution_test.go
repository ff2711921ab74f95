package imagerouter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/registry"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	registrytypes "github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
)

func startRegistry(t *testing.T, htpasswd string) string {
	t.Helper()
	srv, err := registry.Serve(context.Background(), registry.Config{Root: t.TempDir(), Addr: "127.0.0.1:0", Htpasswd: htpasswd})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// pushRandom writes a random two-layer image to ref and returns its
// manifest digest and the short IDs of its layers.
func pushRandom(t *testing.T, ref string, opts ...remote.Option) (string, []string) {
	t.Helper()
	img, err := random.Image(32<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	img = mutate.MediaType(img, types.DockerManifestSchema2)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, opts...); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	layers, _ := img.Layers()
	var ids []string
	for _, l := range layers {
		ld, _ := l.Digest()
		ids = append(ids, ld.Hex[:12])
	}
	return d.String(), ids
}

func encodeAuth(t *testing.T, ac registrytypes.AuthConfig) string {
	b, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(b)
}

// rawLines splits a JSON message stream into its raw lines.
func rawLines(t *testing.T, r io.Reader) []string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\r\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestPullPushThroughAPI drives pull and push with the Go SDK and checks
// the messages byte for byte where Docker's are fixed.
func TestPullPushThroughAPI(t *testing.T) {
	d := newDaemon(t)
	ctx := context.Background()
	addr := startRegistry(t, "")
	dgst, ids := pushRandom(t, addr+"/team/busybox:v1")

	rc, err := d.cli.ImagePull(ctx, addr+"/team/busybox:v1", client.ImagePullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lines := rawLines(t, rc)
	rc.Close()
	for _, want := range []string{
		`{"status":"Pulling from team/busybox","id":"v1"}`,
		`{"status":"Pulling fs layer","progressDetail":{},"id":"` + ids[0] + `"}`,
		`{"status":"Download complete","progressDetail":{},"id":"` + ids[0] + `"}`,
		`{"status":"Pull complete","progressDetail":{},"id":"` + ids[1] + `"}`,
		`{"status":"Digest: ` + dgst + `"}`,
		`{"status":"Status: Downloaded newer image for ` + addr + `/team/busybox:v1"}`,
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %s in\n%s", want, strings.Join(lines, "\n"))
		}
	}
	var sawBar bool
	for _, l := range lines {
		if strings.HasPrefix(l, `{"status":"Downloading","progressDetail":{"current":`) && strings.Contains(l, `"progress":"[`) {
			sawBar = true
		}
	}
	if !sawBar {
		t.Errorf("no download progress bar in\n%s", strings.Join(lines, "\n"))
	}
	insp, err := d.cli.ImageInspect(ctx, addr+"/team/busybox:v1")
	if err != nil || !slices.Equal(insp.RepoDigests, []string{addr + "/team/busybox@" + dgst}) {
		t.Errorf("inspect: %v %v", insp.RepoDigests, err)
	}

	// What the registry has, without pulling.
	di, err := d.cli.DistributionInspect(ctx, addr+"/team/busybox:v1", client.DistributionInspectOptions{})
	if err != nil || di.Descriptor.Digest.String() != dgst || len(di.Platforms) != 1 || di.Platforms[0].Architecture != "amd64" {
		t.Errorf("distribution inspect: %+v %v", di, err)
	}
	if _, err := d.cli.DistributionInspect(ctx, addr+"/team/busybox:nope", client.DistributionInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("distribution inspect of a missing tag: %v", err)
	}

	// Errors before any output come back as statuses.
	_, err = d.cli.ImagePull(ctx, addr+"/team/busybox:nope", client.ImagePullOptions{})
	if !cerrdefs.IsNotFound(err) || !strings.Contains(err.Error(), "manifest for "+addr+"/team/busybox:nope not found: manifest unknown") {
		t.Errorf("pull of a missing tag: %v", err)
	}

	// Push under another name.
	if _, err := d.cli.ImageTag(ctx, client.ImageTagOptions{Source: addr + "/team/busybox:v1", Target: addr + "/team/copy:v2"}); err != nil {
		t.Fatal(err)
	}
	rc, err = d.cli.ImagePush(ctx, addr+"/team/copy:v2", client.ImagePushOptions{RegistryAuth: encodeAuth(t, registrytypes.AuthConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	lines = rawLines(t, rc)
	rc.Close()
	// berth writes the manifest as Docker does, not as the client that
	// pushed the original did: its own digest, listed in both messages.
	pushed := manifestDigest(t, addr, "team/copy", "v2")
	if lines[0] != `{"status":"The push refers to repository [`+addr+`/team/copy]"}` ||
		!slices.Contains(lines, `{"status":"Mounted from team/busybox","progressDetail":{},"id":"`+shortDiff(t, d, addr+"/team/copy:v2", 0)+`"}`) ||
		!slices.Contains(lines, `{"status":"v2: digest: `+pushed.digest+` size: `+strconv.Itoa(pushed.size)+`"}`) ||
		!slices.Contains(lines, `{"progressDetail":{},"aux":{"Tag":"v2","Digest":"`+pushed.digest+`","Size":`+strconv.Itoa(pushed.size)+`}}`) {
		t.Errorf("push stream:\n%s", strings.Join(lines, "\n"))
	}
	insp, _ = d.cli.ImageInspect(ctx, addr+"/team/copy:v2")
	if !slices.Contains(insp.RepoDigests, addr+"/team/copy@"+pushed.digest) {
		t.Errorf("RepoDigests after push: %v", insp.RepoDigests)
	}

	// A push without credentials at all is refused before anything
	// happens, as Docker does.
	req, _ := http.NewRequest(http.MethodPost, d.url+"/v1.51/images/"+addr+"/team/copy/push?tag=v2", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "bad parameters and missing X-Registry-Auth: invalid X-Registry-Auth header: EOF") {
		t.Errorf("push without X-Registry-Auth: %d %s", resp.StatusCode, body)
	}
	// A push of what does not exist fails in the stream.
	rc, err = d.cli.ImagePush(ctx, addr+"/team/none:v1", client.ImagePushOptions{RegistryAuth: encodeAuth(t, registrytypes.AuthConfig{})})
	if err != nil {
		t.Fatal(err)
	}
	lines = rawLines(t, rc)
	rc.Close()
	if len(lines) != 2 || !strings.Contains(lines[1], `"error":"An image does not exist locally with the tag: `+addr+`/team/none"`) {
		t.Errorf("push of a missing image:\n%s", strings.Join(lines, "\n"))
	}
}

func shortDiff(t *testing.T, d *daemon, ref string, i int) string {
	insp, err := d.cli.ImageInspect(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(insp.RootFS.Layers[len(insp.RootFS.Layers)-1-i], "sha256:")[:12]
}

type manifestInfo struct {
	digest string
	size   int
}

func manifestDigest(t *testing.T, addr, repo, tag string) manifestInfo {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return manifestInfo{digest: resp.Header.Get("Docker-Content-Digest"), size: len(b)}
}

// TestLoginAndSearchThroughAPI: POST /auth and GET /images/search.
func TestLoginAndSearchThroughAPI(t *testing.T) {
	d := newDaemon(t)
	ctx := context.Background()
	entry, err := registry.HashPassword("ci", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	os.WriteFile(htpasswd, []byte(entry+"\n"), 0o600)
	addr := startRegistry(t, htpasswd)
	pushRandom(t, addr+"/team/busybox:v1", remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"}))

	res, err := d.cli.RegistryLogin(ctx, client.RegistryLoginOptions{Username: "ci", Password: "s3cret", ServerAddress: addr})
	if err != nil || res.Auth.Status != "Login Succeeded" {
		t.Errorf("login: %+v %v", res, err)
	}
	_, err = d.cli.RegistryLogin(ctx, client.RegistryLoginOptions{Username: "ci", Password: "wrong", ServerAddress: addr})
	if !cerrdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "login attempt to http://"+addr+"/v2/ failed with status: 401 Unauthorized") {
		t.Errorf("login with a wrong password: %v", err)
	}
	// The raw answer has both fields, as Docker's.
	resp, err := http.Post(d.url+"/v1.51/auth", "application/json", strings.NewReader(`{"username":"ci","password":"s3cret","serveraddress":"`+addr+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != `{"IdentityToken":"","Status":"Login Succeeded"}`+"\n" {
		t.Errorf("auth body %q", body)
	}

	auth := encodeAuth(t, registrytypes.AuthConfig{Username: "ci", Password: "s3cret", ServerAddress: addr})
	found, err := d.cli.ImageSearch(ctx, addr+"/busybox", client.ImageSearchOptions{Limit: 5, RegistryAuth: auth})
	if err != nil || len(found.Items) != 1 || found.Items[0].Name != "team/busybox" {
		t.Errorf("search: %+v %v", found, err)
	}
	_, err = d.cli.ImageSearch(ctx, addr+"/busybox", client.ImageSearchOptions{Limit: 500})
	if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), "limit 500 is outside the range of [1, 100]") {
		t.Errorf("search limit 500: %v", err)
	}
}
