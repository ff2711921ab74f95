package storage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/test/internal/e2e"
)

// docker run -d --name app -v /data -v "$PWD":/src:ro --tmpfs /run:size=8m busybox sleep 1d
// docker run --rm --volumes-from app busybox ls /data
func TestAppVolumesFrom(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		pwd := t.TempDir()
		if err := os.WriteFile(filepath.Join(pwd, "hello"), []byte("from the host\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		app := e.Name(t, "app")
		start := time.Now()
		id := c.Run(t, "run", "-d", "--name", app, "-v", "/data", "-v", pwd+":/src:ro", "--tmpfs", "/run:size=8m", e2e.Image, "sleep", "1d").OK(t).Out()
		ins := e.WaitRunning(t, app)

		data := mountAt(t, ins, "/data")
		if data.Type != mount.TypeVolume || !anonymousName.MatchString(data.Name) || data.Driver != "local" || !data.RW || data.Mode != "" || data.Propagation != "" {
			t.Errorf("/data: %+v, want an anonymous local volume, rw", data)
		}
		v, ok := inspectVolume(t, e, data.Name)
		if !ok || v.Mountpoint != data.Source {
			t.Errorf("the anonymous volume %s: %+v (exists %v), want its mountpoint %s", data.Name, v, ok, data.Source)
		}
		src := mountAt(t, ins, "/src")
		if src.Type != mount.TypeBind || src.Source != pwd || src.RW || src.Mode != "ro" || src.Propagation != mount.PropagationRPrivate {
			t.Errorf("/src: %+v, want a read-only bind of %s", src, pwd)
		}
		// --tmpfs mounts are HostConfig.Tmpfs, not mount points.
		if len(ins.Mounts) != 2 {
			t.Errorf("mounts: %+v, want /data and /src", ins.Mounts)
		}
		run := c.Run(t, "exec", app, "grep", " /run ", "/proc/mounts").OK(t).Out()
		if !strings.HasPrefix(run, "tmpfs /run tmpfs ") || !strings.Contains(run, "size=8192k") || !strings.Contains(run, "noexec") {
			t.Errorf("/run in the container: %q, want a tmpfs of 8m", run)
		}
		if out := c.Run(t, "exec", app, "cat", "/src/hello").OK(t).Out(); out != "from the host" {
			t.Errorf("cat /src/hello: %q", out)
		}
		c.Run(t, "exec", app, "touch", "/src/x").Assert(t, 1, "Read-only file system")
		c.Run(t, "exec", app, "sh", "-c", "echo shared > /data/y").OK(t)

		if out := c.Run(t, "run", "--rm", "--volumes-from", app, e2e.Image, "ls", "/data").OK(t).Out(); out != "y" {
			t.Errorf("ls /data through --volumes-from: %q, want y", out)
		}
		if out := c.Run(t, "run", "--rm", "--volumes-from", app, e2e.Image, "cat", "/src/hello").OK(t).Out(); out != "from the host" {
			t.Errorf("cat /src/hello through --volumes-from: %q", out)
		}
		// The tmpfs is not shared; the read-only bind stays read-only.
		c.Run(t, "run", "--rm", "--volumes-from", app, e2e.Image, "grep", " /run ", "/proc/mounts").Assert(t, 1)
		c.Run(t, "run", "--rm", "--volumes-from", app+":rw", e2e.Image, "touch", "/src/x").Assert(t, 1, "Read-only file system")
		c.Run(t, "run", "--rm", "--volumes-from", app+":ro", e2e.Image, "touch", "/data/z").Assert(t, 1, "Read-only file system")
		c.Run(t, "run", "--rm", "--volumes-from", app+":rw", e2e.Image, "touch", "/data/z").OK(t)
		from := e.Name(t, "from")
		c.Run(t, "create", "--name", from, "--volumes-from", app+":ro", e2e.Image, "true").OK(t)
		fromData := mountAt(t, e.Inspect(t, from), "/data")
		if fromData.Name != data.Name || fromData.RW || fromData.Mode != "" {
			t.Errorf("--volumes-from %s:ro gives /data %+v, want %s read-only", app, fromData, data.Name)
		}

		if ps := c.Run(t, "ps", "-q", "--no-trunc", "--filter", "volume="+data.Name).OK(t).Lines(); !slices.Equal(ps, []string{id}) {
			t.Errorf("ps --filter volume=%s: %q, want %s", data.Name, ps, id)
		}
		if ps := c.Run(t, "ps", "-q", "--no-trunc", "--filter", "volume="+pwd).OK(t).Lines(); !slices.Equal(ps, []string{id}) {
			t.Errorf("ps --filter volume=%s: %q, want %s", pwd, ps, id)
		}
		c.Run(t, "volume", "rm", data.Name).Assert(t, 1, "volume is in use")

		// rm -v: the anonymous volume goes once no container uses it.
		c.Run(t, "rm", "-v", from).OK(t)
		if _, ok := inspectVolume(t, e, data.Name); !ok {
			t.Fatal("rm -v of the --volumes-from container removed the volume app still uses")
		}
		c.Run(t, "rm", "-f", "-v", app).OK(t)
		waitVolumeGone(t, e, data.Name, start)
		if b, err := os.ReadFile(filepath.Join(pwd, "hello")); err != nil || string(b) != "from the host\n" {
			t.Errorf("the bind source after rm -v: %q, %v", b, err)
		}
	})
}

// --rm removes a container's anonymous volumes, never named ones.
func TestAutoRemoveVolumes(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		named := volumeName(t, e, "named")
		name := e.Name(t)
		start := time.Now()
		c.Run(t, "run", "-d", "--rm", "--name", name, "-v", "/anon", "-v", named+":/named",
			"--mount", "type=volume,dst=/anon2", e2e.Image, "sh", "-c", "echo ready; exec sleep 100000").OK(t)
		e.WaitLog(t, name, "ready", 10*time.Second)
		ins := e.Inspect(t, name)
		anon, anon2 := mountAt(t, ins, "/anon").Name, mountAt(t, ins, "/anon2").Name
		c.Run(t, "stop", "-t", "0", name).OK(t)
		waitVolumeGone(t, e, anon, start)
		waitVolumeGone(t, e, anon2, start)
		if _, ok := inspectVolume(t, e, named); !ok {
			t.Fatal("--rm removed a named volume")
		}
	})
}

// -v and --mount binds: options, a missing -v source is created, a
// missing --mount source is refused.
func TestBindMounts(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		src := t.TempDir()
		name := e.Name(t)
		c.Run(t, "create", "--name", name,
			"-v", src+":/a:ro,z", "-v", src+":/b:Z", "-v", src+":/c:rw", "-v", src+":/d:ro,consistent,rprivate",
			"--mount", "type=bind,src="+src+",dst=/e,readonly", "--mount", "type=bind,source="+src+",target=/f,bind-propagation=private",
			e2e.Image, "true").OK(t)
		ins := e.Inspect(t, name)
		for _, want := range []struct {
			dst, mode string
			rw        bool
			prop      mount.Propagation
		}{
			{"/a", "ro,z", false, "rprivate"}, {"/b", "Z", true, "rprivate"}, {"/c", "rw", true, "rprivate"},
			{"/d", "ro,consistent,rprivate", false, "rprivate"}, {"/e", "", false, "rprivate"}, {"/f", "", true, "private"},
		} {
			m := mountAt(t, ins, want.dst)
			if m.Type != mount.TypeBind || m.Source != src || m.Mode != want.mode || m.RW != want.rw || m.Propagation != want.prop {
				t.Errorf("%s: %+v, want mode %q rw %v propagation %s", want.dst, m, want.mode, want.rw, want.prop)
			}
		}
		c.Run(t, "start", "-a", name).OK(t)

		missing := filepath.Join(t.TempDir(), "new", "dir")
		c.Run(t, "run", "--rm", "-v", missing+":/x", e2e.Image, "sh", "-c", "echo made > /x/f").OK(t)
		if b, err := os.ReadFile(filepath.Join(missing, "f")); err != nil || string(b) != "made\n" {
			t.Errorf("-v of a missing host dir: %q, %v", b, err)
		}

		absent := filepath.Join(t.TempDir(), "absent")
		bad := e.Name(t, "bad")
		want := `invalid mount config for type "bind": bind source path does not exist: ` + absent
		c.Run(t, "run", "--name", bad, "--mount", "type=bind,source="+absent+",target=/x", e2e.Image, "true").Assert(t, 125, want)
		c.Run(t, "create", "--name", bad, "--mount", "type=bind,source="+absent+",target=/x", e2e.Image, "true").Assert(t, 1, want)
		if e.Exists(t, bad) {
			t.Error("a container was created with a missing --mount bind source")
		}
		if _, err := os.Stat(absent); !os.IsNotExist(err) {
			t.Errorf("the missing --mount source was created: %v", err)
		}
	})
}

// Shared and slave propagation need a propagating host mount: refused
// on a private one with Docker's message, and working on a shared one.
func TestBindPropagation(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	if !e.Private() {
		t.Skip("needs to make host mounts next to the engine")
	}
	private := t.TempDir()
	shared := t.TempDir()
	if err := unix.Mount(shared, shared, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind mount on the host: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(shared, unix.MNT_DETACH) })
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	privateMount, _ := mountOf(t, private)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		if privateMount.shared {
			t.Skipf("%s is on a shared mount here", private)
		}
		c.Run(t, "run", "--rm", "-v", private+":/p:rshared", e2e.Image, "true").
			Assert(t, 125, "path "+private+" is mounted on "+privateMount.point+" but it is not a shared mount")
		c.Run(t, "run", "--rm", "--mount", "type=bind,src="+private+",dst=/p,bind-propagation=rslave", e2e.Image, "true").
			Assert(t, 125, "path "+private+" is mounted on "+privateMount.point+" but it is not a shared or slave mount")

		name := e.Name(t)
		c.Run(t, "run", "-d", "--name", name, "-v", shared+":/s:rshared", "--mount", "type=bind,src="+shared+",dst=/r,bind-propagation=rslave",
			e2e.Image, "sleep", "100000").OK(t)
		ins := e.WaitRunning(t, name)
		if p := mountAt(t, ins, "/s").Propagation; p != mount.PropagationRShared {
			t.Errorf("/s propagation %q, want rshared", p)
		}
		if p := mountAt(t, ins, "/r").Propagation; p != mount.PropagationRSlave {
			t.Errorf("/r propagation %q, want rslave", p)
		}
		// A mount made on the host after the start shows in the container.
		sub := filepath.Join(shared, "sub-"+c.Name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		defer unix.Unmount(sub, unix.MNT_DETACH)
		if err := os.WriteFile(filepath.Join(sub, "f"), []byte("propagated\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, dst := range []string{"/s", "/r"} {
			if out := c.Run(t, "exec", name, "cat", dst+"/sub-"+c.Name+"/f").OK(t).Out(); out != "propagated" {
				t.Errorf("host mount seen at %s: %q", dst, out)
			}
		}
		c.Run(t, "rm", "-f", name).OK(t)
	})
}

type hostMount struct {
	point  string
	shared bool
}

// mountOf finds the host mount holding path (the last mountinfo entry
// whose mount point is its longest prefix).
func mountOf(t *testing.T, path string) (hostMount, bool) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var best hostMount
	found := false
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		mp := f[4]
		if mp != "/" && path != mp && !strings.HasPrefix(path, mp+"/") {
			continue
		}
		if found && len(mp) < len(best.point) {
			continue
		}
		best, found = hostMount{point: mp}, true
		for _, o := range f[6:] {
			if o == "-" {
				break
			}
			if strings.HasPrefix(o, "shared:") {
				best.shared = true
			}
		}
	}
	return best, found
}

// --tmpfs and --mount type=tmpfs with their options; --read-only keeps
// volumes and tmpfs writable.
func TestTmpfsAndReadOnly(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		vol := volumeName(t, e, "v")
		name := e.Name(t)
		c.Run(t, "create", "--name", name, "--read-only", "-v", vol+":/v", "--tmpfs", "/t:size=8m,mode=1770",
			"--mount", "type=tmpfs,target=/m,tmpfs-size=1m,tmpfs-mode=0700", "--mount", "type=tmpfs,dst=/ro,readonly",
			e2e.Image, "sh", "-c", "grep -E ' /(t|m|ro) ' /proc/mounts; touch /v/ok /t/ok /m/ok && echo writable; touch /ro/x; touch /x").OK(t)
		ins := e.Inspect(t, name)
		m := mountAt(t, ins, "/m")
		if m.Type != mount.TypeTmpfs || m.Source != "" || !m.RW || m.Name != "" {
			t.Errorf("--mount type=tmpfs: %+v", m)
		}
		if mountAt(t, ins, "/ro").RW {
			t.Error("--mount type=tmpfs,readonly is RW")
		}
		if hasMountAt(ins, "/t") {
			t.Error("--tmpfs shows in Mounts; Docker lists only mount points")
		}
		if !ins.HostConfig.ReadonlyRootfs {
			t.Error("HostConfig.ReadonlyRootfs is false")
		}
		r := c.Run(t, "start", "-a", name)
		out := r.Combined()
		for _, want := range []string{
			"tmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=8192k,mode=1770",
			"tmpfs /m tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=700",
			"tmpfs /ro tmpfs ro,",
			"writable",
			"touch: /ro/x: Read-only file system",
			"touch: /x: Read-only file system",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("missing %q in:\n%s", want, out)
			}
		}
	})
}

// The local driver's options: a tmpfs volume (empty again once no
// container uses it, as in Docker), a bind of a host directory, and
// options given through --mount volume-opt.
func TestLocalDriverOptions(t *testing.T) {
	t.Parallel()
	e := e2e.Current(t)
	e.ForEachCLI(t, func(t *testing.T, c e2e.CLI) {
		tmp, bound, viaMount := volumeName(t, e, "tmpfs"), volumeName(t, e, "bind"), volumeName(t, e, "mount")
		c.Run(t, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,uid=1000", tmp).OK(t)
		out := c.Run(t, "run", "--rm", "-v", tmp+":/v", e2e.Image, "sh", "-c", "grep ' /v ' /proc/mounts; echo x > /v/f").OK(t).Out()
		if !strings.HasPrefix(out, "tmpfs /v tmpfs ") || !strings.Contains(out, "size=2048k") || !strings.Contains(out, "uid=1000") {
			t.Errorf("tmpfs volume: %q", out)
		}
		c.Run(t, "run", "--rm", "-v", tmp+":/v", e2e.Image, "ls", "/v/f").Assert(t, 1, "No such file or directory")

		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "b"), []byte("bound\n"), 0o644)
		c.Run(t, "volume", "create", "-o", "type=none", "-o", "device="+dir, "-o", "o=bind", bound).OK(t)
		if out := c.Run(t, "run", "--rm", "-v", bound+":/v", e2e.Image, "sh", "-c", "cat /v/b; echo w > /v/w").OK(t).Out(); out != "bound" {
			t.Errorf("bind volume: %q", out)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "w")); err != nil || string(b) != "w\n" {
			t.Errorf("write through the bind volume: %q %v", b, err)
		}

		c.Run(t, "run", "--rm", "--mount", "type=volume,src="+viaMount+",dst=/v,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b",
			e2e.Image, "grep", "-q", " /v tmpfs ", "/proc/mounts").OK(t)
		v, ok := inspectVolume(t, e, viaMount)
		if !ok || v.Options["type"] != "tmpfs" || v.Options["device"] != "tmpfs" || v.Labels["a"] != "b" {
			t.Errorf("volume made by --mount: %+v", v)
		}
	})
}
