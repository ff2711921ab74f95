package test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/berth-dev/berth/test/internal/e2e"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// registryServe runs `berth registry serve` on a free loopback port with
// extra flags (--htpasswd, --tls-cert, --addr …) and returns its address
// ("127.0.0.1:port") and storage root.
func registryServe(t *testing.T, flags ...string) (addr, root string) {
	t.Helper()
	r := startRegistry(t, t.TempDir(), flags...)
	return r.addr, r.root
}

// registryKinds are the registries tests run against: berth's own and
// Debian's docker-registry (distribution 2.8), an independent peer.
var registryKinds = []string{"berth", "docker-registry"}

// startRegistryOf runs a fresh registry of kind (with basic auth when
// htpasswd is set) until the test ends, and returns its address and
// storage root (both kinds keep distribution's storage layout).
func startRegistryOf(t *testing.T, kind, htpasswd string) (addr, root string) {
	t.Helper()
	root = t.TempDir()
	if kind == "docker-registry" {
		return registrytest.DockerRegistry(t, registrytest.Config{Root: root, Htpasswd: htpasswd}), root
	}
	var flags []string
	if htpasswd != "" {
		flags = []string{"--htpasswd", htpasswd}
	}
	return startRegistry(t, root, flags...).addr, root
}

// forEachRegistry runs f as a subtest per registry kind, each with a
// fresh registry.
func forEachRegistry(t *testing.T, htpasswd string, f func(t *testing.T, addr, root string)) {
	t.Helper()
	for _, kind := range registryKinds {
		t.Run(kind, func(t *testing.T) {
			addr, root := startRegistryOf(t, kind, htpasswd)
			f(t, addr, root)
		})
	}
}

// servedRegistry is a running `berth registry serve`.
type servedRegistry struct {
	addr, root string
	cmd        *exec.Cmd
}

// stop stops the registry and waits for it.
func (r *servedRegistry) stop() {
	r.cmd.Process.Signal(syscall.SIGTERM)
	r.cmd.Wait()
}

// startRegistry runs `berth registry serve` on root until the test ends
// (or stop); --addr in flags overrides the free loopback port.
func startRegistry(t *testing.T, root string, flags ...string) *servedRegistry {
	t.Helper()
	bin, err := e2e.BerthBinary()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"registry", "serve", "--addr", "127.0.0.1:0", "--root", root}, flags...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &servedRegistry{root: root, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`listening on https?://(\S+),`)
		var lines []string
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				io.Copy(io.Discard, stderr)
				return
			}
			lines = append(lines, sc.Text())
		}
		found <- "exited: " + strings.Join(lines, "\n")
	}()
	select {
	case a := <-found:
		if rest, ok := strings.CutPrefix(a, "exited: "); ok {
			t.Fatalf("berth registry serve exited before listening: %s", rest)
		}
		r.addr = a
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("berth registry serve did not start")
	}
	return nil
}

// uniqueImage imports the test busybox plus a file naming the test, so
// that its layer is the test's own: a pull of it really downloads.
func uniqueImage(t *testing.T, c e2e.CLI, ref string) {
	t.Helper()
	data, err := e2e.BusyboxTar()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		tw.WriteHeader(h)
		io.Copy(tw, tr)
	}
	mark := []byte(t.Name() + " " + time.Now().String() + "\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/test-name", Mode: 0o644, Size: int64(len(mark))})
	tw.Write(mark)
	tw.Close()
	c.RunWith(t, e2e.RunOpts{Stdin: &buf}, "import", "--change", `CMD ["sh"]`, "-", ref).OK(t)
}

// repoName is a repository name for the test: lower case, no slashes.
func repoName(t *testing.T) string {
	n := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	return strings.Trim(n, "-")
}

func randomImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(256<<10, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	return forHost(t, img, runtime.GOARCH)
}

// forHost makes img a Docker schema 2 image for linux/arch.
func forHost(t *testing.T, img v1.Image, arch string) v1.Image {
	t.Helper()
	return editConfig(t, img, func(cf *v1.ConfigFile) { cf.OS, cf.Architecture = "linux", arch })
}

// editConfig changes img's config and makes it a Docker schema 2 image.
func editConfig(t *testing.T, img v1.Image, edit func(*v1.ConfigFile)) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	edit(cf)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return mutate.MediaType(img, types.DockerManifestSchema2)
}

func mustRandom(t *testing.T) v1.Image {
	img, err := random.Image(64<<10, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustRandomHost(t *testing.T) v1.Image { return forHost(t, mustRandom(t), runtime.GOARCH) }

// loadImages loads images into the engine through the CLI, as a `docker
// save` archive, under the given tags.
func loadImages(t *testing.T, c e2e.CLI, images map[string]v1.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(tagged(t, images), &buf); err != nil {
		t.Fatal(err)
	}
	c.RunWith(t, e2e.RunOpts{Stdin: &buf}, "load").OK(t)
}

// dockerArchive is img as a `docker save` archive under tag
// (go-containerregistry writes that format).
func dockerArchive(t *testing.T, tag string, img v1.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(tagged(t, map[string]v1.Image{tag: img}), &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tagged(t *testing.T, images map[string]v1.Image) map[name.Reference]v1.Image {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for ref, img := range images {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		refs[tag] = img
	}
	return refs
}

// imageID is img's ID (its config digest).
func imageID(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// registryProxy forwards to a registry and watches the requests: it
// counts blob downloads per digest, measures how many blob downloads and
// uploads are in flight at once (each is held for hold first, so that
// concurrent ones overlap), and can cut the first download of every blob
// after cutAt bytes, or stall the first download or upload of a blob
// after stallAt bytes until release.
type registryProxy struct {
	Addr string // "127.0.0.1:port"
	// Stalled receives a value each time a transfer stalls.
	Stalled chan struct{}

	target  *url.URL
	hold    time.Duration
	cutAt   int
	stallAt int
	tamper  bool
	cutUp   int
	release chan struct{}
	once    sync.Once

	mu                  sync.Mutex
	gets                map[string]int // blob GETs by digest
	ranges              int            // GETs with a Range header
	getSpans            []span         // blob GETs, for concurrency
	inUpload, maxUpload int
	seen                map[string]bool // blobs (GET) and uploads (PATCH) seen
}

// span is when the proxy served a request for a blob.
type span struct {
	digest     string
	start, end time.Time
}

type proxyOptions struct {
	hold    time.Duration
	cutAt   int
	stallAt int
	// tamperManifests adds a byte to manifests fetched by digest.
	tamperManifests bool
	// cutUploadAt hangs up on the first upload of each blob after
	// reading that many bytes of it.
	cutUploadAt int
}

func newRegistryProxy(t *testing.T, registry string, o proxyOptions) *registryProxy {
	t.Helper()
	target, err := url.Parse("http://" + registry)
	if err != nil {
		t.Fatal(err)
	}
	p := &registryProxy{target: target, hold: o.hold, cutAt: o.cutAt, stallAt: o.stallAt, tamper: o.tamperManifests, cutUp: o.cutUploadAt,
		gets: map[string]int{}, seen: map[string]bool{}, Stalled: make(chan struct{}, 16), release: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(l)
	t.Cleanup(func() { p.Release(); srv.Close() })
	p.Addr = l.Addr().String()
	return p
}

// Release lets stalled transfers go on, and later ones through.
func (p *registryProxy) Release() { p.once.Do(func() { close(p.release) }) }

var blobPath = regexp.MustCompile(`/blobs/(sha256:[0-9a-f]{64})$`)

// firstTime reports whether key is seen for the first time.
func (p *registryProxy) firstTime(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := !p.seen[key]
	p.seen[key] = true
	return first
}

func (p *registryProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp := httputil.NewSingleHostReverseProxy(p.target)
	if p.tamper && strings.Contains(r.URL.Path, "/manifests/sha256:") {
		rp.ModifyResponse = func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = append(body, ' ')
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
			return err
		}
	}
	m := blobPath.FindStringSubmatch(r.URL.Path)
	switch {
	case m != nil && r.Method == http.MethodGet:
		p.mu.Lock()
		p.gets[m[1]]++
		if r.Header.Get("Range") != "" {
			p.ranges++
		}
		p.mu.Unlock()
		start := time.Now()
		defer func() {
			p.mu.Lock()
			p.getSpans = append(p.getSpans, span{digest: m[1], start: start, end: time.Now()})
			p.mu.Unlock()
		}()
		time.Sleep(p.hold)
		first := p.firstTime(m[1])
		switch {
		case first && p.cutAt > 0:
			rp.ServeHTTP(&cutWriter{ResponseWriter: w, left: p.cutAt}, r)
			return
		case first && p.stallAt > 0:
			rp.ServeHTTP(&stallWriter{ResponseWriter: w, left: p.stallAt, p: p, ctx: r.Context()}, r)
			return
		}
	case r.Method == http.MethodPatch || (r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/")):
		p.mu.Lock()
		p.inUpload++
		p.maxUpload = max(p.maxUpload, p.inUpload)
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			p.inUpload--
			p.mu.Unlock()
		}()
		time.Sleep(p.hold)
		if r.Method == http.MethodPatch && p.cutUp > 0 && p.firstTime("upload") {
			io.CopyN(io.Discard, r.Body, int64(p.cutUp))
			panic(http.ErrAbortHandler)
		}
		if r.Method == http.MethodPatch && p.stallAt > 0 && p.firstTime(r.URL.Path) {
			head := make([]byte, p.stallAt)
			n, _ := io.ReadFull(r.Body, head)
			p.stall(r.Context())
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(head[:n]), r.Body))
		}
	}
	rp.ServeHTTP(w, r)
}

// stall signals Stalled and waits for Release or the client to go.
func (p *registryProxy) stall(ctx context.Context) {
	select {
	case p.Stalled <- struct{}{}:
	default:
	}
	select {
	case <-p.release:
	case <-ctx.Done():
	}
}

// stats returns what the proxy saw: blob GETs per digest, GETs with a
// Range, and the most uploads in flight at once.
func (p *registryProxy) stats() (gets map[string]int, ranges, maxUpload int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	gets = map[string]int{}
	for k, v := range p.gets {
		gets[k] = v
	}
	return gets, p.ranges, p.maxUpload
}

// maxDownloads is the most downloads of img's layer blobs that were in
// flight at once (Docker fetches the config beside them).
func (p *registryProxy) maxDownloads(t *testing.T, img v1.Image) int {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, l := range layers {
		d, _ := l.Digest()
		want[d.String()] = true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	most := 0
	for _, s := range p.getSpans {
		n := 0
		for _, o := range p.getSpans {
			if want[s.digest] && want[o.digest] && !o.start.After(s.start) && o.end.After(s.start) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// stallWriter stalls the response after left bytes of its body.
type stallWriter struct {
	http.ResponseWriter
	left int
	p    *registryProxy
	ctx  context.Context
}

func (s *stallWriter) Write(b []byte) (int, error) {
	if s.left < 0 || len(b) < s.left {
		s.left -= len(b)
		return s.ResponseWriter.Write(b)
	}
	n, err := s.ResponseWriter.Write(b[:s.left])
	if err != nil {
		return n, err
	}
	s.ResponseWriter.(http.Flusher).Flush()
	s.left = -1
	s.p.stall(s.ctx)
	if s.ctx.Err() != nil {
		return n, s.ctx.Err()
	}
	m, err := s.ResponseWriter.Write(b[n:])
	return n + m, err
}

// cutWriter hangs up after left bytes of the response body.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if len(b) < c.left {
		c.left -= len(b)
		return c.ResponseWriter.Write(b)
	}
	c.ResponseWriter.Write(b[:c.left])
	c.ResponseWriter.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// tarEntry is a file, directory or character device of a tar.
type tarEntry struct {
	name, body string
	dir        bool
	char       [2]int64 // major, minor
}

// tarOf is a tar of entries in order.
func tarOf(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, en := range entries {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: en.name, Mode: 0o644, Size: int64(len(en.body))}
		switch {
		case en.dir:
			h = &tar.Header{Typeflag: tar.TypeDir, Name: en.name, Mode: 0o755}
		case en.char != [2]int64{}:
			h = &tar.Header{Typeflag: tar.TypeChar, Name: en.name, Mode: 0o666, Devmajor: en.char[0], Devminor: en.char[1]}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, en.body)
	}
	tw.Close()
	return buf.Bytes()
}

// insecureTransport is for test clients of registries with self-signed
// certificates.
func insecureTransport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return tr
}
