package image

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	containertypes "github.com/moby/moby/api/types/container"
)

// containerLayer makes an rw layer on busybox for container id, mounted,
// and returns its root filesystem.
func containerLayer(t testing.TB, s *Service, id string) string {
	t.Helper()
	if err := s.RWLayers().CreateRWLayer(id, "busybox"); err != nil {
		t.Fatal(err)
	}
	rootfs, err := s.RWLayers().MountRWLayer(id)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.RWLayers().RemoveRWLayer(id) })
	return rootfs
}

func changeStrings(t *testing.T, s *Service, id string) []string {
	t.Helper()
	changes, err := s.RWLayers().ContainerChanges(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range changes {
		out = append(out, c.String())
	}
	return out
}

// TestContainerChangesWithoutEngineMountPoints: diff lists what the
// container changed, not the empty mount points the runtime created.
func TestContainerChangesWithoutEngineMountPoints(t *testing.T) {
	s, _, _ := newService(t)
	loadFile(t, s, fixtureArchive)
	const id = "changes0123456789"
	rootfs := containerLayer(t, s, id)
	// What runc leaves when the image lacks the targets.
	for _, f := range []string{"etc/hostname", "etc/hosts", "etc/resolv.conf", ".dockerenv"} {
		os.Remove(filepath.Join(rootfs, f))
		os.WriteFile(filepath.Join(rootfs, f), nil, 0o644)
	}
	if got := changeStrings(t, s, id); len(got) != 0 {
		t.Fatalf("changes of the engine's mount points only: %q", got)
	}
	os.WriteFile(filepath.Join(rootfs, "tmp/f"), []byte("x"), 0o644)
	os.Remove(filepath.Join(rootfs, "etc/group"))
	os.MkdirAll(filepath.Join(rootfs, "a/b"), 0o755)
	// A mount point the container wrote to is its change.
	os.WriteFile(filepath.Join(rootfs, "etc/hosts"), []byte("10.0.0.1 x\n"), 0o644)
	// Every directory above a change is changed, as Docker lists it (a
	// volume's mount point made deep in the image's tree).
	os.Mkdir(filepath.Join(rootfs, "usr/sbin/mnt"), 0o755)
	want := []string{"A /a", "A /a/b", "C /etc", "D /etc/group", "A /etc/hosts", "C /tmp", "A /tmp/f", "C /usr", "C /usr/sbin", "A /usr/sbin/mnt"}
	got := changeStrings(t, s, id)
	if !slices.Equal(got, want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
}

func TestCommitContainer(t *testing.T) {
	s, _, _ := newService(t)
	loadFile(t, s, fixtureArchive)
	ctx := context.Background()
	const id = "commit0123456789"
	rootfs := containerLayer(t, s, id)
	parent, _ := s.Get(ctx, "busybox")

	// No changes: no layer, an empty-layer history entry.
	cfg := &containertypes.Config{Cmd: []string{"sleep", "1"}, Env: []string{"PATH=/bin", "X=1"}, Labels: map[string]string{"l": "ctr"}}
	emptyID, err := s.Commit(ctx, CommitOptions{ContainerID: id, ContainerConfig: cfg, Comment: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := s.Get(ctx, emptyID)
	if len(empty.Config.RootFS.DiffIDs) != len(parent.Config.RootFS.DiffIDs) {
		t.Errorf("commit without changes added a layer: %d → %d", len(parent.Config.RootFS.DiffIDs), len(empty.Config.RootFS.DiffIDs))
	}

	os.WriteFile(filepath.Join(rootfs, "data.txt"), []byte("data\n"), 0o644)
	os.Remove(filepath.Join(rootfs, "etc/group"))
	os.WriteFile(filepath.Join(rootfs, "etc/hostname"), nil, 0o644) // the engine's, left out
	imgID, err := s.Commit(ctx, CommitOptions{
		ContainerID:     id,
		ContainerConfig: cfg,
		Config:          &containertypes.Config{Env: []string{"X=2"}},
		Changes:         []string{`CMD ["sh"]`, "LABEL l=user"},
		Author:          "Ann",
		Comment:         "note",
		Repo:            "snap",
		Tag:             "1",
	})
	if err != nil {
		t.Fatal(err)
	}
	im, err := s.Get(ctx, "snap:1")
	if err != nil || im.ID != imgID {
		t.Fatalf("snap:1: %v %v", im, err)
	}
	if len(im.Config.RootFS.DiffIDs) != len(parent.Config.RootFS.DiffIDs)+1 {
		t.Errorf("layers %d, want the parent's %d + 1", len(im.Config.RootFS.DiffIDs), len(parent.Config.RootFS.DiffIDs))
	}
	c := im.Config.Config
	if !slices.Equal(c.Cmd, []string{"sh"}) || !slices.Equal(c.Env, []string{"X=2", "PATH=/bin"}) || c.Labels["l"] != "user" || im.Config.Author != "Ann" || im.Comment != "note" {
		t.Errorf("config: cmd %q env %q labels %v author %q comment %q", c.Cmd, c.Env, c.Labels, im.Config.Author, im.Comment)
	}
	hist, err := s.History(ctx, "snap:1")
	if err != nil || hist[0].Comment != "note" || hist[0].CreatedBy != "sleep 1" || hist[0].Size == 0 {
		t.Errorf("history: %+v %v", hist[0], err)
	}
	// A container of the image sees them.
	const id2 = "commitchild0123456"
	if err := s.RWLayers().CreateRWLayer(id2, imgID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.RWLayers().RemoveRWLayer(id2) })
	rootfs2, err := s.RWLayers().MountRWLayer(id2)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(rootfs2, "data.txt")); string(data) != "data\n" {
		t.Errorf("data.txt in the committed image: %q", data)
	}
	if _, err := os.Stat(filepath.Join(rootfs2, "etc/group")); err == nil {
		t.Error("deleted file is back in the committed image")
	}
	if fi, err := os.Stat(filepath.Join(rootfs2, "etc/hostname")); err == nil && fi.Size() == 0 {
		// busybox has no /etc/hostname: the engine's empty one must not be committed.
		t.Error("the engine's empty /etc/hostname was committed")
	}

	// Bad input changes nothing.
	if _, err := s.Commit(ctx, CommitOptions{ContainerID: id, ContainerConfig: cfg, Changes: []string{"BOGUS x"}}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad change: %v", err)
	}
	if _, err := s.Commit(ctx, CommitOptions{ContainerID: "nosuch", ContainerConfig: cfg}); !errdefs.IsNotFound(err) {
		t.Errorf("missing container: %v", err)
	}
	if _, err := s.Commit(ctx, CommitOptions{ContainerID: id, ContainerConfig: cfg, Repo: "Bad"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("bad repo: %v", err)
	}
}

// BenchmarkCommit commits a container that changed BENCH_TREE (a
// directory copied into its layer), as docker commit does.
func BenchmarkCommit(b *testing.B) {
	tree := os.Getenv("BENCH_TREE")
	if tree == "" || os.Geteuid() != 0 {
		b.Skip("BENCH_TREE (a directory) and root needed")
	}
	root := b.TempDir()
	s, err := New(context.Background(), Config{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if _, err := NewArchiver(s).Import(context.Background(), bytes.NewReader(busyboxTar(b)), ImportOptions{Repo: "busybox", Tag: "latest"}); err != nil {
		b.Fatal(err)
	}
	const id = "benchcommit0123456789"
	rootfs := containerLayer(b, s, id)
	if out, err := exec.Command("cp", "-a", tree, filepath.Join(rootfs, "changed")).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v %s", err, out)
	}
	cfg := &containertypes.Config{Cmd: []string{"sh"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		imgID, err := s.Commit(context.Background(), CommitOptions{ContainerID: id, ContainerConfig: cfg})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := s.Remove(context.Background(), imgID, true, true); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
