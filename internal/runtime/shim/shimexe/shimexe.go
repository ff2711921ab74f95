package shimexe

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"sync"

	"golang.org/x/sys/unix"
)

// The trailer is the last trailerSize bytes of a berth binary that
// carries the shim program; the program's bytes come right before it.
//
//	payload  the berth-shim ELF executable
//	length   uint64, little endian: the payload's size
//	crc      uint32, little endian: CRC-32C (Castagnoli) of the payload
//	magic    16 bytes
//
// CRC-32C catches a damaged or half-copied file; it is no defence against
// whoever can write the berth binary, and needs none. (hash/crc32 is
// linked into the shim anyway, where a cryptographic hash is not.)
const (
	magic       = "\x00berth shim v1\x00\x00"
	trailerSize = 8 + 4 + len(magic)
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	elfMagic   = []byte("\x7fELF")

	// errNoShim: the file carries no shim program (no trailer at its end).
	errNoShim = errors.New("no shim program appended")
)

// Append writes shim, an ELF executable, and its trailer to w, the end of
// a berth binary. scripts/build.sh calls it through ./appendshim.
func Append(w io.Writer, shim []byte) error {
	if !bytes.HasPrefix(shim, elfMagic) {
		return errors.New("shim program is not an ELF executable")
	}
	var t [trailerSize]byte
	binary.LittleEndian.PutUint64(t[0:8], uint64(len(shim)))
	binary.LittleEndian.PutUint32(t[8:12], crc32.Checksum(shim, castagnoli))
	copy(t[12:], magic)
	if _, err := w.Write(shim); err != nil {
		return err
	}
	_, err := w.Write(t[:])
	return err
}

// find locates the shim program at the end of f: its offset, size and
// checksum. errNoShim when f has no trailer.
func find(f *os.File) (off, size int64, sum uint32, err error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, 0, err
	}
	if fi.Size() < int64(trailerSize) {
		return 0, 0, 0, errNoShim
	}
	var t [trailerSize]byte
	if _, err := f.ReadAt(t[:], fi.Size()-int64(trailerSize)); err != nil {
		return 0, 0, 0, err
	}
	if string(t[12:]) != magic {
		return 0, 0, 0, errNoShim
	}
	n := binary.LittleEndian.Uint64(t[0:8])
	room := uint64(fi.Size() - int64(trailerSize))
	if n < uint64(len(elfMagic)) || n > room {
		return 0, 0, 0, fmt.Errorf("trailer of %s claims a %d-byte shim program in a %d-byte file", f.Name(), n, fi.Size())
	}
	off = int64(room - n)
	head := make([]byte, len(elfMagic))
	if _, err := f.ReadAt(head, off); err != nil {
		return 0, 0, 0, err
	}
	if !bytes.Equal(head, elfMagic) {
		return 0, 0, 0, fmt.Errorf("the shim program in %s is not an ELF executable", f.Name())
	}
	return off, int64(n), binary.LittleEndian.Uint32(t[8:12]), nil
}

// load copies the shim program appended to f into a new memfd, checks
// it, and seals it: it can be executed, never changed. errNoShim when f
// carries none.
func load(f *os.File) (*os.File, error) {
	off, size, sum, err := find(f)
	if err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("berth-shim", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.3 know no MFD_EXEC; their memfds are executable.
		fd, err = unix.MemfdCreate("berth-shim", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, os.NewSyscallError("memfd_create", err)
	}
	m := os.NewFile(uintptr(fd), "memfd:berth-shim")
	crc := crc32.New(castagnoli)
	if _, err := io.Copy(io.MultiWriter(m, crc), io.NewSectionReader(f, off, size)); err != nil {
		m.Close()
		return nil, fmt.Errorf("copying the shim program out of %s: %w", f.Name(), err)
	}
	if crc.Sum32() != sum {
		m.Close()
		return nil, fmt.Errorf("the shim program in %s is damaged: checksum mismatch", f.Name())
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(m.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		m.Close()
		return nil, os.NewSyscallError("fcntl F_ADD_SEALS", err)
	}
	return m, nil
}

// loaded is the shim program Prepare found, for the life of the process.
var loaded struct {
	sync.Mutex
	memfd *os.File
	path  string // /proc/<pid>/fd/<n>: what to execute
	argv0 string // the berth binary's path, what the shim is called
}

// Prepare loads the shim program appended to this executable into a
// sealed memfd, from which Command starts shims from then on. With no
// program appended it does nothing and returns nil: Command re-executes
// this executable. An error means the program is there but unusable (the
// fallback applies too). The daemon calls it once at start-up, before it
// starts the first shim; calling it again does nothing.
func Prepare() error { return prepareFrom("/proc/self/exe") }

func prepareFrom(exe string) error {
	loaded.Lock()
	defer loaded.Unlock()
	if loaded.memfd != nil {
		return nil
	}
	argv0, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := load(f)
	if errors.Is(err, errNoShim) {
		return nil
	}
	if err != nil {
		return err
	}
	// Not /proc/self/fd/<n>: in the child, between fork and exec, the
	// descriptors it inherits (ExtraFiles) are moved onto low numbers and
	// may cover <n>; the daemon's own table keeps it.
	loaded.memfd = m
	loaded.path = fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), m.Fd())
	loaded.argv0 = argv0
	return nil
}

// Command returns the command that starts one shim, `berth shim`. bin is
// the berth binary to run; "" means this program's own shim: the one
// Prepare loaded, else this executable.
func Command(bin string) (*exec.Cmd, error) {
	if bin == "" {
		loaded.Lock()
		path, argv0 := loaded.path, loaded.argv0
		loaded.Unlock()
		if path != "" {
			cmd := exec.Command(path, "shim")
			cmd.Args[0] = argv0
			return cmd, nil
		}
		var err error
		if bin, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	return exec.Command(bin, "shim"), nil
}
