package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// DaemonOptions configure a daemon started for one test.
type DaemonOptions struct {
	DaemonJSON string   // "{}" when empty
	Args       []string // appended to the harness's flags
	NetNS      string   // a network namespace to run in (Daemon.NetNS)
}

// StartConfiguredBerth starts a private berth daemon with daemon.json and
// extra flags, and tears it down at the end (it imports no image).
func StartConfiguredBerth(t *testing.T, daemonJSON string, extra ...string) *Daemon {
	t.Helper()
	return StartBerthDaemon(t, DaemonOptions{DaemonJSON: daemonJSON, Args: extra})
}

// StartBerthDaemon starts a private berth daemon, torn down at the end of
// the test (it imports no image).
func StartBerthDaemon(t *testing.T, opts DaemonOptions) *Daemon {
	t.Helper()
	bin, err := BerthBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewBerthDaemon(bin, filepath.Join(t.TempDir(), "d"))
	if err != nil {
		t.Fatal(err)
	}
	startConfigured(t, d, opts)
	return d
}

// StartDockerd starts a private reference dockerd, torn down at the end
// of the test; the test is skipped when dockerd is not installed.
func StartDockerd(t *testing.T, opts DaemonOptions) *Daemon {
	t.Helper()
	d, err := NewDockerd(filepath.Join(t.TempDir(), "d"))
	if err != nil {
		t.Skipf("no reference dockerd: %v", err)
	}
	startConfigured(t, d, opts)
	return d
}

func startConfigured(t *testing.T, d *Daemon, opts DaemonOptions) {
	t.Helper()
	if opts.DaemonJSON == "" {
		opts.DaemonJSON = "{}"
	}
	if err := d.WriteConfig(opts.DaemonJSON); err != nil {
		t.Fatal(err)
	}
	d.ExtraArgs, d.NetNS = opts.Args, opts.NetNS
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- %s daemon log (tail) ---\n%s", d.Kind, d.LogTail(40))
		}
		if err := d.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
}
