package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// PrivateOptions configure an engine started for one test.
type PrivateOptions struct {
	// DaemonJSON is the daemon's configuration file ("{}" when empty):
	// berth and dockerd read the same keys.
	DaemonJSON string
	// DataRootSize, when set, puts the data root on a tmpfs of this size
	// ("64m"): a disk that fills up.
	DataRootSize string
}

// StartPrivate starts an extra private daemon of the kind under test (berth,
// or a reference dockerd) for one test: for tests that need their own
// configuration, kill or restart their daemon, or prune everything. It
// imports the busybox image and is torn down at the end of the test. An
// engine given by E2E_DOCKER_HOST has no private twin: the test is skipped.
func StartPrivate(t testing.TB, opts PrivateOptions) *Engine {
	t.Helper()
	cur := Current(t)
	if !cur.Private() {
		t.Skip("needs a private daemon of its own; the engine under test was given by E2E_DOCKER_HOST")
	}
	dir, err := os.MkdirTemp("", "e2e-"+string(cur.Kind)+"-")
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Kind: cur.Kind, dir: dir, BerthBin: cur.BerthBin, clis: cur.clis}
	extraMu.Lock()
	extra = append(extra, e)
	extraMu.Unlock()
	t.Cleanup(func() {
		extraMu.Lock()
		for i, x := range extra {
			if x == e {
				extra = append(extra[:i], extra[i+1:]...)
				break
			}
		}
		extraMu.Unlock()
		if t.Failed() && e.Daemon != nil {
			t.Logf("--- daemon log (tail) ---\n%s", e.Daemon.LogTail(60))
		}
		e.teardown()
	})
	if err := e.markOwner(); err != nil {
		t.Fatal(err)
	}
	if err := e.initCLIConfig(); err != nil {
		t.Fatal(err)
	}
	var d *Daemon
	switch cur.Kind {
	case KindBerth:
		if e.BerthBin == "" {
			if e.BerthBin, err = BerthBinary(); err != nil {
				t.Fatal(err)
			}
		}
		d, err = NewBerthDaemon(e.BerthBin, filepath.Join(dir, "d"))
	default:
		d, err = NewDockerd(filepath.Join(dir, "d"))
	}
	if err != nil {
		t.Fatal(err)
	}
	if opts.DaemonJSON != "" {
		if err := d.WriteConfig(opts.DaemonJSON); err != nil {
			t.Fatal(err)
		}
	}
	if opts.DataRootSize != "" {
		mountSizedRoot(t, d.DataRoot, opts.DataRootSize)
		e.unmount = d.DataRoot
	}
	e.adopt(d)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.ImportBusybox(ctx); err != nil {
		t.Fatalf("import busybox: %v", err)
	}
	return e
}

// mountSizedRoot mounts a tmpfs of size on dir; the engine's teardown
// unmounts it once its daemon is gone.
func mountSizedRoot(t testing.TB, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount a %s tmpfs on %s: %v", size, dir, err)
	}
}
