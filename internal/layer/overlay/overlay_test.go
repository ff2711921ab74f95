package overlay

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/layer"
	"github.com/berth-dev/berth/internal/layer/layertest"
)

func newSnapshotter(t *testing.T, root string) layer.Snapshotter {
	sn, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return sn
}

func TestSuite(t *testing.T) {
	layertest.Run(t, newSnapshotter)
}

// A crash between making a snapshot's directories and recording it, or
// halfway through removing one, leaves directories that the next New
// deletes.
func TestLeftoversRemovedOnOpen(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	root := t.TempDir()
	sn := newSnapshotter(t, root)
	if _, err := sn.Prepare(context.Background(), "live", ""); err != nil {
		t.Fatal(err)
	}
	sn.Close()
	for _, d := range []string{"tmp-0123", "rm-4567", "999"} {
		if err := os.MkdirAll(filepath.Join(root, "snapshots", d, "fs"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sn = newSnapshotter(t, root)
	defer sn.Close()
	entries, _ := os.ReadDir(filepath.Join(root, "snapshots"))
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("snapshots dir holds %v, want only the live snapshot", names)
	}
	if _, err := sn.Mounts(context.Background(), "live"); err != nil {
		t.Fatal(err)
	}
}
