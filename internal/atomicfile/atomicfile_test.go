package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFile(t *testing.T) {
	for _, durable := range []bool{false, true} {
		dir := t.TempDir()
		p := filepath.Join(dir, "state.json")
		if err := WriteFile(p, []byte("one"), 0o600, durable); err != nil {
			t.Fatal(err)
		}
		if err := WriteFile(p, []byte("two"), 0o640, durable); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "two" {
			t.Fatalf("durable=%v: content %q %v", durable, b, err)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("durable=%v: mode %v", durable, fi.Mode())
		}
		// No temporary file is left beside it.
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("durable=%v: %d entries in the directory", durable, len(entries))
		}
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gone", "state.json")
	if err := WriteFile(p, []byte("x"), 0o600, false); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}
