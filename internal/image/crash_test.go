package image

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/berth-dev/berth/internal/layer/layertest"
	"github.com/opencontainers/go-digest"
)

// checkConsistent asserts the store invariants a crash must not break:
// every image has all its layers and blobs, nothing unreferenced or half
// written is left, and images are usable.
func checkConsistent(t *testing.T, s *Service, root string) {
	t.Helper()
	ctx := context.Background()
	live := map[string]bool{}
	blobs := map[digest.Digest]bool{}
	s.mu.RLock()
	for id, im := range s.images {
		for i, c := range im.chain {
			live[c.String()] = true
			info, err := s.layers.sn.Stat(ctx, c.String())
			if err != nil || info.Kind != layer.KindCommitted {
				t.Errorf("image %s: layer %s missing: %v", id, c, err)
			}
			l := im.rec.Layers[i]
			size, err := s.layers.blobs.Info(l.Blob.Digest)
			if err != nil || size != l.Blob.Size {
				t.Errorf("image %s: blob %s: size %d, %v", id, l.Blob.Digest, size, err)
			}
			blobs[l.Blob.Digest] = true
		}
	}
	s.mu.RUnlock()
	s.layers.sn.Walk(ctx, func(_ context.Context, i layer.Info) error {
		if i.Kind != layer.KindCommitted || !live[i.Name] {
			t.Errorf("leftover snapshot %s (%s)", i.Name, i.Kind)
		}
		return nil
	})
	s.layers.blobs.Walk(func(d digest.Digest, _ int64) error {
		if !blobs[d] {
			t.Errorf("leftover blob %s", d)
		}
		return nil
	})
	for _, dir := range []string{"content/ingest", "overlay/snapshots"} {
		entries, _ := os.ReadDir(filepath.Join(root, dir))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "tmp-") || strings.HasPrefix(e.Name(), "rm-") || dir == "content/ingest" {
				t.Errorf("leftover %s/%s", dir, e.Name())
			}
		}
	}
	for _, name := range []string{"busybox", "imported"} {
		if _, err := s.Get(ctx, name); err == nil {
			var buf bytes.Buffer
			if err := NewArchiver(s).Save(ctx, []string{name}, &buf); err != nil {
				t.Errorf("save %s: %v", name, err)
			}
			if err := s.RWLayers().CreateRWLayer("crashcheck", name); err != nil {
				t.Errorf("container on %s: %v", name, err)
				continue
			}
			if _, err := s.RWLayers().MountRWLayer("crashcheck"); err != nil {
				t.Errorf("mount %s: %v", name, err)
			}
			s.RWLayers().RemoveRWLayer("crashcheck")
		}
	}
}

// Leftovers of every kind an interrupted operation leaves (ingest files,
// extraction snapshots, half-made snapshot dirs, layers and blobs no image
// records) are removed when the store opens, and the images survive.
func TestLeftoversCleanedOnStart(t *testing.T) {
	s, _, root := newService(t)
	ctx := context.Background()
	loadFile(t, s, fixtureArchive)
	// An extraction the crash interrupted.
	mounts, err := s.layers.sn.Prepare(ctx, extractPrefix+"dead", fixtureDiffID)
	if err != nil {
		t.Fatal(err)
	}
	layer.Apply(ctx, mounts, bytes.NewReader(layertest.Tar(t, layertest.Entry{Name: "half", Body: "x"})))
	// A layer committed just before the image would have been recorded.
	orphan := layertest.Tar(t, layertest.Entry{Name: "orphan", Body: "o"})
	key, diffID, _, err := s.layers.unpack(ctx, "", bytes.NewReader(orphan), nil)
	if err != nil {
		t.Fatal(err)
	}
	s.layers.sn.Commit(ctx, diffID.String(), key)
	// A blob stored for it, an ingest in progress, snapshot dirs mid-create
	// and mid-remove.
	s.layers.blobs.Put(orphan)
	w, _ := s.layers.blobs.Writer()
	w.Write([]byte("partial"))
	os.MkdirAll(filepath.Join(root, "overlay/snapshots/tmp-abc/fs"), 0o755)
	os.MkdirAll(filepath.Join(root, "overlay/snapshots/rm-def/fs/deep"), 0o755)
	os.MkdirAll(filepath.Join(root, "overlay/snapshots/987654/fs"), 0o755)

	s = reopen(t, s, root)
	checkConsistent(t, s, root)
	if n, snaps, blobs := storeState(t, s); n != 1 || snaps != 1 || blobs != 1 {
		t.Errorf("%d images, %d snapshots, %d blobs after cleanup; want 1 each", n, snaps, blobs)
	}
}

const crashRootEnv = "BERTH_IMAGE_CRASH_ROOT"

// TestCrashHelper is the victim process of TestKilledMidOperation: it
// loads, imports, tags and removes images until it is killed.
func TestCrashHelper(t *testing.T) {
	root := os.Getenv(crashRootEnv)
	if root == "" {
		t.Skip("helper process for TestKilledMidOperation")
	}
	ctx := context.Background()
	s, err := New(ctx, Config{Root: root})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper open:", err)
		os.Exit(3)
	}
	archive, _ := os.ReadFile(fixtureArchive)
	bb := busyboxTar(t)
	fmt.Println("ready")
	for i := 0; ; i++ {
		NewArchiver(s).Load(ctx, bytes.NewReader(archive), true, nil)
		NewArchiver(s).Import(ctx, bytes.NewReader(bb), ImportOptions{Repo: "imported", Tag: fmt.Sprint(i % 3), Message: fmt.Sprint(i)})
		s.Tag(ctx, "busybox", "retag", fmt.Sprint(i))
		s.Remove(ctx, "imported:"+fmt.Sprint((i+1)%3), true, true)
		if i%2 == 0 {
			s.Remove(ctx, fixtureID, true, true)
		}
	}
}

// The store survives SIGKILL at any point of loads, imports and removals:
// after each kill it opens, holds only whole images, and leaves nothing
// behind.
func TestKilledMidOperation(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	rounds := 10
	if testing.Short() {
		rounds = 3
	}
	dirty := 0
	for i := 0; i < rounds; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		out.Read(buf) // "ready": the store opened (and cleaned up)
		time.Sleep(time.Duration(20+rand.IntN(1200)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if entries, _ := os.ReadDir(filepath.Join(root, "content/ingest")); len(entries) > 0 {
			dirty++
		}

		s, err := New(context.Background(), Config{Root: root})
		if err != nil {
			t.Fatalf("round %d: store does not open after SIGKILL: %v", i, err)
		}
		checkConsistent(t, s, root)
		s.Close()
		if t.Failed() {
			t.Fatalf("round %d: inconsistent after SIGKILL", i)
		}
	}
	t.Logf("%d of %d kills left work half done", dirty, rounds)
}
