package shimexe

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeShim is an ELF header and some bytes: what the trailer reader
// checks, without anything to execute.
func fakeShim(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return append([]byte("\x7fELF"), b...)
}

// berthWith writes a "berth binary" (host bytes) with shim appended as
// `make build` does, then edit's changes, and returns its path.
func berthWith(t *testing.T, host, shim []byte, edit func([]byte) []byte) string {
	t.Helper()
	var b bytes.Buffer
	b.Write(host)
	if shim != nil {
		if err := Append(&b, shim); err != nil {
			t.Fatal(err)
		}
	}
	data := b.Bytes()
	if edit != nil {
		data = edit(data)
	}
	p := filepath.Join(t.TempDir(), "berth")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestLoad(t *testing.T) {
	host := []byte("\x7fELF the berth binary itself")
	shim := fakeShim(300_000) // more than one io.Copy buffer
	f := open(t, berthWith(t, host, shim, nil))
	off, size, _, err := find(f)
	if err != nil || off != int64(len(host)) || size != int64(len(shim)) {
		t.Fatalf("find: off %d size %d err %v; want %d %d", off, size, err, len(host), len(shim))
	}
	m, err := load(f)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := io.ReadAll(io.NewSectionReader(m, 0, 1<<30))
	if err != nil || !bytes.Equal(got, shim) {
		t.Fatalf("memfd holds %d bytes (%v), want the %d of the shim program", len(got), err, len(shim))
	}
	seals, err := unix.FcntlInt(m.Fd(), unix.F_GET_SEALS, 0)
	want := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if err != nil || seals&want != want {
		t.Fatalf("seals %#x (%v), want %#x", seals, err, want)
	}
	if _, err := m.WriteAt([]byte("x"), 10); err == nil {
		t.Error("wrote into the sealed memfd")
	}
	if link, _ := os.Readlink("/proc/self/fd/" + itoa(int(m.Fd()))); !strings.HasPrefix(link, "/memfd:berth-shim") {
		t.Errorf("memfd is %q, want /memfd:berth-shim (what ps and /proc/<pid>/exe of shims show)", link)
	}
}

// TestNoShim: binaries that carry no shim program, or whose trailer did
// not survive (a copy cut short, strip), are not an error: shims start from
// the berth binary itself.
func TestNoShim(t *testing.T) {
	shim := fakeShim(1000)
	for name, p := range map[string]string{
		"plain go build":         berthWith(t, []byte("\x7fELF plain"), nil, nil),
		"empty file":             berthWith(t, nil, nil, nil),
		"shorter than a trailer": berthWith(t, []byte("\x7fELF"), nil, nil),
		"trailer cut short":      berthWith(t, []byte("\x7fELF host"), shim, func(b []byte) []byte { return b[:len(b)-5] }),
		"payload cut short":      berthWith(t, []byte("\x7fELF host"), shim, func(b []byte) []byte { return b[:len(b)-trailerSize-100] }),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(open(t, p)); !errors.Is(err, errNoShim) {
				t.Fatalf("load: %v, want errNoShim", err)
			}
			defer Unload()
			if err := PrepareFrom(p); err != nil {
				t.Fatalf("Prepare: %v, want nil", err)
			}
			assertFallback(t)
		})
	}
}

// TestDamaged: a trailer is there but what it describes is not right.
// Prepare says so, and shims start from the berth binary itself.
func TestDamaged(t *testing.T) {
	host := append([]byte("\x7fELF"), bytes.Repeat([]byte("h"), 4000)...)
	shim := fakeShim(5000)
	flip := func(at int) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= 0x40; return b }
	}
	end := len(host) + len(shim) // where the trailer starts
	for name, tc := range map[string]struct {
		edit func([]byte) []byte
		want string
	}{
		"payload byte flipped":   {flip(len(host) + 2500), "checksum mismatch"},
		"checksum flipped":       {flip(end + 9), "checksum mismatch"},
		"not an ELF":             {flip(len(host) + 1), "not an ELF"},
		"length beyond the file": {flip(end + 5), "claims"},
		"bytes lost in the middle": {func(b []byte) []byte {
			return append(b[:len(host)+100:len(host)+100], b[len(host)+200:]...)
		}, "not an ELF"},
	} {
		t.Run(name, func(t *testing.T) {
			p := berthWith(t, host, shim, tc.edit)
			if m, err := load(open(t, p)); err == nil || errors.Is(err, errNoShim) || !strings.Contains(err.Error(), tc.want) {
				if m != nil {
					m.Close()
				}
				t.Fatalf("load: %v, want an error saying %q", err, tc.want)
			}
			defer Unload()
			if err := PrepareFrom(p); err == nil {
				t.Fatal("Prepare: nil, want the damage reported")
			}
			assertFallback(t)
		})
	}
}

func TestAppendRefusesNonELF(t *testing.T) {
	if err := Append(io.Discard, []byte("#!/bin/sh\n")); err == nil {
		t.Fatal("appended a shell script as the shim program")
	}
}

func TestPrepare(t *testing.T) {
	p := berthWith(t, []byte("\x7fELF host"), fakeShim(1000), nil)
	defer Unload()
	if err := PrepareFrom(p); err != nil {
		t.Fatal(err)
	}
	cmd, err := Command("")
	if err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	if !strings.HasPrefix(cmd.Path, "/proc/"+itoa(os.Getpid())+"/fd/") {
		t.Errorf("Command(\"\").Path = %q, want the memfd in this process's fd table", cmd.Path)
	}
	if link, _ := os.Readlink(cmd.Path); !strings.HasPrefix(link, "/memfd:berth-shim") {
		t.Errorf("%s is %q, want the memfd", cmd.Path, link)
	}
	// ps shows `berth shim` as before.
	if len(cmd.Args) != 2 || cmd.Args[0] != self || cmd.Args[1] != "shim" {
		t.Errorf("Command(\"\").Args = %q, want [%s shim]", cmd.Args, self)
	}
	// Preparing again keeps what is loaded.
	path := cmd.Path
	if err := PrepareFrom(p); err != nil {
		t.Fatal(err)
	}
	if cmd, _ := Command(""); cmd.Path != path {
		t.Errorf("second Prepare: %q, want %q", cmd.Path, path)
	}
	// An explicit binary is run as it is.
	if cmd, _ := Command("/usr/local/bin/berth"); cmd.Path != "/usr/local/bin/berth" || cmd.Args[0] != "/usr/local/bin/berth" {
		t.Errorf("Command(path) = %q %q", cmd.Path, cmd.Args)
	}
}

// assertFallback: with nothing loaded, shims re-execute this executable.
func assertFallback(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := Command("")
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Path != self || len(cmd.Args) != 2 || cmd.Args[0] != self || cmd.Args[1] != "shim" {
		t.Fatalf("Command(\"\") = %q %q, want %s shim", cmd.Path, cmd.Args, self)
	}
}

func itoa(i int) string {
	var b []byte
	for ; i > 0 || len(b) == 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
