package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/berth-dev/berth/internal/registry/registrytest"
	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestPullCorruptBlob: a registry serving a layer that is not what its
// digest says gets Docker's verification error, and nothing is stored.
func TestPullCorruptBlob(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	root := t.TempDir()
	addr := registrytest.DockerRegistry(t, registrytest.Config{Root: root})
	l1 := registrytest.Layer(t, map[string]string{"ok": "fine"}, false)
	l2, _ := random.Layer(64<<10, types.DockerLayer)
	registrytest.Push(t, addr+"/team/corrupt:v1", registrytest.Image(t, "", l1, l2))
	d2, _ := l2.Digest()
	p := registrytest.BlobPath(root, d2)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	err = dist.Pull(context.Background(), mustRef(t, addr+"/team/corrupt:v1"), PullOptions{}, nil)
	if err == nil || err.Error() != "filesystem layer verification failed for digest "+d2.String() {
		t.Fatalf("pull of a corrupt blob: %v", err)
	}
	if n := s.Count(); n != 0 {
		t.Errorf("%d images after a failed pull", n)
	}
	assertNoUncommitted(t, s)
}

// TestPullCorruptLayer: a blob that matches its digest but is a broken
// gzip stream fails to register, as in Docker, leaving nothing behind.
func TestPullCorruptLayer(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(bytes.Repeat([]byte("not a tar at all, and cut short "), 4096))
	zw.Close()
	cut := buf.Bytes()[:buf.Len()/2]
	bad := static.NewLayer(cut, types.DockerLayer)
	img, err := mutate.AppendLayers(empty.Image, registrytest.Layer(t, map[string]string{"ok": "fine"}, false), bad)
	if err != nil {
		t.Fatal(err)
	}
	registrytest.Push(t, addr+"/team/broken:v1", mutate.MediaType(img, types.DockerManifestSchema2))
	err = dist.Pull(context.Background(), mustRef(t, addr+"/team/broken:v1"), PullOptions{}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "failed to register layer: ") {
		t.Fatalf("pull of a broken layer: %v", err)
	}
	if n := s.Count(); n != 0 {
		t.Errorf("%d images after a failed pull", n)
	}
	assertNoUncommitted(t, s)
}

// assertNoUncommitted checks that no extraction snapshot or ingest file
// is left over.
func assertNoUncommitted(t *testing.T, s *Service) {
	t.Helper()
	_, _, _ = storeState(t, s)
	s.layers.inflightMu.Lock()
	n := len(s.layers.inflight)
	s.layers.inflightMu.Unlock()
	if n != 0 {
		t.Errorf("%d protections left", n)
	}
	entries, _ := os.ReadDir(filepath.Join(s.layers.root, "content", "ingest"))
	if len(entries) != 0 {
		t.Errorf("ingest files left: %v", entries)
	}
	walk := func() (n int) {
		s.layers.sn.Walk(context.Background(), func(_ context.Context, i layer.Info) error {
			if strings.HasPrefix(i.Name, extractPrefix) {
				n++
			}
			return nil
		})
		return n
	}
	if n := walk(); n != 0 {
		t.Errorf("%d extraction snapshots left", n)
	}
}

// cutProxy is a reverse proxy to a registry that breaks the first
// response of each blob in wantCut after cutAt bytes, and remembers the
// Range headers it saw.
type cutProxy struct {
	target  *url.URL
	cutAt   int
	mu      sync.Mutex
	cut     map[string]bool
	ranges  []string
	stall   chan struct{} // when set, stall instead of cutting, until closed
	reached chan struct{} // closed when a stall or cut happens
	once    sync.Once
}

func (c *cutProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rg := r.Header.Get("Range"); rg != "" {
		c.mu.Lock()
		c.ranges = append(c.ranges, rg)
		c.mu.Unlock()
	}
	rp := httputil.NewSingleHostReverseProxy(c.target)
	if !strings.Contains(r.URL.Path, "/blobs/sha256:") || r.Method != http.MethodGet {
		rp.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	blob := r.URL.Path
	first := !c.cut[blob]
	c.cut[blob] = true
	c.mu.Unlock()
	if !first {
		rp.ServeHTTP(w, r)
		return
	}
	rp.ServeHTTP(&cutWriter{ResponseWriter: w, left: c.cutAt, onCut: func() {
		c.once.Do(func() { close(c.reached) })
		if c.stall != nil {
			<-c.stall
		}
	}}, r)
}

type cutWriter struct {
	http.ResponseWriter
	left  int
	done  bool
	onCut func()
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) < c.left || c.Header().Get("Content-Length") == "" {
		c.left -= len(p)
		return c.ResponseWriter.Write(p)
	}
	if !c.done {
		c.done = true
		c.ResponseWriter.Write(p[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		c.onCut()
	}
	// Abort the response: the client sees the connection end mid-body.
	panic(http.ErrAbortHandler)
}

func startCutProxy(t *testing.T, registry string, cutAt int) (*cutProxy, string) {
	t.Helper()
	u, _ := url.Parse("http://" + registry)
	c := &cutProxy{target: u, cutAt: cutAt, cut: map[string]bool{}, reached: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: c, ErrorLog: nil}
	go srv.Serve(l)
	t.Cleanup(func() {
		if c.stall != nil {
			select {
			case <-c.stall:
			default:
				close(c.stall)
			}
		}
		srv.Close()
	})
	return c, l.Addr().String()
}

// TestPullResumesCutDownload: a registry that hangs up in the middle of
// every blob once; the pull resumes each with a Range request and
// completes, and the image is whole.
func TestPullResumesCutDownload(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	la, _ := random.Layer(300<<10, types.DockerLayer)
	lb, _ := random.Layer(200<<10, types.DockerLayer)
	img := registrytest.Image(t, "", la, lb)
	dgst := registrytest.Push(t, addr+"/team/cut:v1", img)
	proxy, paddr := startCutProxy(t, addr, 100<<10)

	var m messages
	if err := dist.Pull(context.Background(), mustRef(t, paddr+"/team/cut:v1"), PullOptions{}, &m); err != nil {
		t.Fatalf("pull through a cutting proxy: %v\n%s", err, &m)
	}
	if !m.has("Digest: " + dgst) {
		t.Errorf("messages:\n%s", &m)
	}
	proxy.mu.Lock()
	ranges := proxy.ranges
	proxy.mu.Unlock()
	if len(ranges) < 2 {
		t.Errorf("downloads were not resumed with Range: %v", ranges)
	}
	for _, r := range ranges {
		if !strings.HasPrefix(r, "bytes=") || strings.HasPrefix(r, "bytes=0-") {
			t.Errorf("range %q does not resume", r)
		}
	}
	cfgName, _ := img.ConfigName()
	if _, err := s.Get(context.Background(), cfgName.String()); err != nil {
		t.Fatal(err)
	}
}

// TestPullResumesStalledDownload: a registry that stops sending in the
// middle of a blob (and never hangs up) is given up on after the idle
// timeout and the download resumed with a Range request.
func TestPullResumesStalledDownload(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{IdleTimeout: 300 * time.Millisecond})
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	l, _ := random.Layer(300<<10, types.DockerLayer)
	img := registrytest.Image(t, "", l)
	registrytest.Push(t, addr+"/team/stall:v1", img)
	proxy, paddr := startCutProxy(t, addr, 100<<10)
	proxy.stall = make(chan struct{}) // released when the test ends

	var m messages
	if err := dist.Pull(context.Background(), mustRef(t, paddr+"/team/stall:v1"), PullOptions{}, &m); err != nil {
		t.Fatalf("pull through a stalling proxy: %v\n%s", err, &m)
	}
	proxy.mu.Lock()
	ranges := proxy.ranges
	proxy.mu.Unlock()
	if len(ranges) == 0 {
		t.Errorf("the stalled download was not resumed with Range")
	}
	if m.has("Retrying in") {
		t.Errorf("a download that got somewhere waited before resuming:\n%s", &m)
	}
}

// TestPullSurvivesKill kills (SIGKILL) a process pulling into a store
// while a layer is half downloaded and being extracted; the store opened
// again holds no image and nothing half-done, and the pull retried
// completes.
func TestPullSurvivesKill(t *testing.T) {
	if root := os.Getenv("BERTH_TEST_PULL_ROOT"); root != "" {
		// The child: pull until killed.
		s, err := New(context.Background(), Config{Root: root})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		dist, err := NewDistributor(s, DistributorConfig{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		ref, _ := ParsePullReference(os.Getenv("BERTH_TEST_PULL_REF"), "")
		err = dist.Pull(context.Background(), ref, PullOptions{}, nil)
		fmt.Fprintln(os.Stderr, "pull returned:", err)
		os.Exit(3)
	}
	needRoot(t)
	addr := registrytest.DockerRegistry(t, registrytest.Config{})
	la, _ := random.Layer(2<<20, types.DockerLayer)
	lb, _ := random.Layer(1<<20, types.DockerLayer)
	img := registrytest.Image(t, "", la, lb)
	registrytest.Push(t, addr+"/team/kill:v1", img)
	proxy, paddr := startCutProxy(t, addr, 512<<10)
	proxy.stall = make(chan struct{})

	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPullSurvivesKill$")
	cmd.Env = append(os.Environ(), "BERTH_TEST_PULL_ROOT="+root, "BERTH_TEST_PULL_REF="+paddr+"/team/kill:v1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-proxy.reached:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the pull never reached the middle of a blob: %s", stderr.String())
	}
	// Let the extraction catch up with what was received.
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(proxy.stall)
	// The kill did land mid-pull: a partial blob and a snapshot being
	// filled are on disk.
	ingest, _ := os.ReadDir(filepath.Join(root, "content", "ingest"))
	snapDirs, _ := os.ReadDir(filepath.Join(root, "overlay", "snapshots"))
	if len(ingest) == 0 || len(snapDirs) == 0 {
		t.Fatalf("nothing in progress at the kill: ingest %v, snapshots %v", ingest, snapDirs)
	}

	s, err := New(context.Background(), Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	dist := newDistributor(t, s, DistributorConfig{})
	t.Cleanup(func() { s.Close() })
	images, snaps, blobs := storeState(t, s)
	if images != 0 || snaps != 0 || blobs != 0 {
		t.Errorf("after the kill: %d images, %d snapshots, %d blobs", images, snaps, blobs)
	}
	assertNoUncommitted(t, s)
	if err := dist.Pull(context.Background(), mustRef(t, addr+"/team/kill:v1"), PullOptions{}, nil); err != nil {
		t.Fatalf("retried pull: %v", err)
	}
	if images, _, _ := storeState(t, s); images != 1 {
		t.Errorf("%d images after the retried pull", images)
	}
}

// TestPullRetriesAfterFailureReuseLayers: when a pull fails after some
// layers were done, the retry does not fetch those again.
func TestPullRetriesAfterFailureReuseLayers(t *testing.T) {
	s, _, _ := newService(t)
	dist := newDistributor(t, s, DistributorConfig{})
	root := t.TempDir()
	addr := registrytest.DockerRegistry(t, registrytest.Config{Root: root})
	good := registrytest.Layer(t, map[string]string{"good": "1"}, false)
	badL, _ := random.Layer(8<<10, types.DockerLayer)
	img := registrytest.Image(t, "", good, badL)
	registrytest.Push(t, addr+"/team/retry:v1", img)
	d, _ := badL.Digest()
	orig, _ := os.ReadFile(registrytest.BlobPath(root, d))
	broken := append([]byte(nil), orig...)
	broken[10] ^= 0xff
	os.WriteFile(registrytest.BlobPath(root, d), broken, 0o644)
	if err := dist.Pull(context.Background(), mustRef(t, addr+"/team/retry:v1"), PullOptions{}, nil); !errdefs.IsDataLoss(err) {
		t.Fatalf("first pull: %v", err)
	}
	os.WriteFile(registrytest.BlobPath(root, d), orig, 0o644)
	var m messages
	if err := dist.Pull(context.Background(), mustRef(t, addr+"/team/retry:v1"), PullOptions{}, &m); err != nil {
		t.Fatal(err)
	}
	gd, _ := good.Digest()
	if !m.has(gd.Hex[:12]+": Already exists") || !m.has(d.Hex[:12]+": Pull complete") {
		t.Errorf("retry:\n%s", &m)
	}
}
