package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// StartConfiguredBerth starts a private berth daemon with daemon.json and
// extra flags, and tears it down at the end (it imports no image).
func StartConfiguredBerth(t *testing.T, daemonJSON string, extra ...string) *Daemon {
	t.Helper()
	bin, err := BerthBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewBerthDaemon(bin, filepath.Join(t.TempDir(), "d"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Dir, "daemon.json"), []byte(daemonJSON), 0o644); err != nil {
		t.Fatal(err)
	}
	d.ExtraArgs = extra
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := d.Cleanup(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := d.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}
