package netns

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func testDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "netns")
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ReleaseDir(dir) })
	return dir
}

func TestCreateDoDelete(t *testing.T) {
	needRoot(t)
	dir := testDir(t)
	path := filepath.Join(dir, "a")

	var inside string
	if err := Create(path, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		inside = lo.Attrs().Name
		return netlink.LinkSetUp(lo)
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Delete(path) })
	if inside != "lo" || !IsNS(path) {
		t.Fatalf("inside=%q IsNS=%v", inside, IsNS(path))
	}

	// The namespace is a different one from ours, holds only lo, and keeps
	// what fn configured.
	var links []netlink.Link
	var nsIno uint64
	if err := Do(path, func() error {
		var err error
		links, err = netlink.LinkList()
		var st unix.Stat_t
		if e := unix.Stat("/proc/thread-self/ns/net", &st); e != nil {
			return e
		}
		nsIno = st.Ino
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/ns/net", &self); err != nil {
		t.Fatal(err)
	}
	if nsIno == self.Ino {
		t.Fatal("Do ran in the host namespace")
	}
	if len(links) != 1 || links[0].Attrs().Name != "lo" || links[0].Attrs().Flags&1 == 0 {
		t.Fatalf("links in new netns: %+v", links)
	}

	if err := Create(path, nil); err == nil {
		t.Fatal("Create over an existing namespace succeeded")
	}

	if err := Delete(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("path still there: %v", err)
	}
	if err := Delete(path); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

func TestCreateFailureCleansUp(t *testing.T) {
	needRoot(t)
	dir := testDir(t)
	path := filepath.Join(dir, "b")
	boom := errors.New("boom")
	if err := Create(path, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("path left behind: %v", err)
	}
}
