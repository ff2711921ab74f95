package layer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/moby/go-archive"
	"golang.org/x/sys/unix"
)

// benchTar is the layer the apply benchmarks unpack: a tar of BENCH_TREE
// (a directory) when set, else about 3000 files of 4 to 64 KiB in 300
// directories, with symlinks and hard links (a tree like /usr/lib).
func benchTar(b *testing.B) []byte {
	b.Helper()
	if tree := os.Getenv("BENCH_TREE"); tree != "" {
		out, err := exec.Command("tar", "-C", tree, "-cf", "-", ".").Output()
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for d := 0; d < 300; d++ {
		dir := fmt.Sprintf("usr/lib/d%03d/", d)
		tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755})
		for f := 0; f < 10; f++ {
			size := 4096 << (f % 5)
			name := fmt.Sprintf("%sf%02d.so", dir, f)
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size)})
			tw.Write(body[:size])
		}
		tw.WriteHeader(&tar.Header{Name: dir + "link", Typeflag: tar.TypeSymlink, Linkname: "f00.so"})
		tw.WriteHeader(&tar.Header{Name: dir + "hard", Typeflag: tar.TypeLink, Linkname: dir + "f01.so"})
	}
	tw.Close()
	return buf.Bytes()
}

// BenchmarkApply unpacks a layer as image pulls and commits do: berth's
// chrooted unpacker, and go-archive's Unpack chrooted the same way (what
// Apply used before), for comparison. BENCH_DIR is where (TMPDIR by
// default; a tmpfs shows the unpackers' own cost, without the disk's).
func BenchmarkApply(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: chroot")
	}
	data := benchTar(b)
	for _, impl := range []struct {
		name  string
		untar func(io.Reader, string) error
	}{
		{"berth", untarChrooted},
		{"go-archive", untarGoArchive},
	} {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			// CPU time (all threads) is steadier than wall time on a
			// shared host.
			var cpu int64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir, err := os.MkdirTemp(os.Getenv("BENCH_DIR"), "apply-")
				if err != nil {
					b.Fatal(err)
				}
				before := cpuTime()
				b.StartTimer()
				if err := impl.untar(bytes.NewReader(data), dir); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cpuTime() - before
				os.RemoveAll(dir)
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

func cpuTime() int64 {
	var r unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &r)
	return r.Utime.Nano() + r.Stime.Nano()
}

// untarGoArchive is untarChrooted with go-archive's Unpack.
func untarGoArchive(r io.Reader, dest string) error {
	opts, closeFD, err := archive.WithProcSelfFD(&archive.TarOptions{WhiteoutFormat: archive.OverlayWhiteoutFormat})
	if err != nil {
		return err
	}
	defer closeFD()
	return onPrivateThread(func() error {
		if err := unix.Chroot(dest); err != nil {
			return err
		}
		if err := unix.Chdir("/"); err != nil {
			return err
		}
		unix.Umask(0)
		return archive.Unpack(r, "/", opts)
	})
}
