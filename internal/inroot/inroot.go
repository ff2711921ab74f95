package inroot

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// maxRetries bounds the lookups of one Openat2: each retry follows a
// rename or mount elsewhere on the system, which a busy host does often,
// but not forever.
const maxRetries = 1000

// Openat2 opens name under the directory rootFd, with RESOLVE_IN_ROOT
// and RESOLVE_NO_MAGICLINKS added to how. The kernel answers EAGAIN when a
// rename or a mount anywhere on the system raced with a ".." of the
// lookup; the lookup is then tried again, so EAGAIN is returned only when
// that keeps happening. ENOSYS means a kernel older than Linux 5.6.
func Openat2(rootFd int, name string, how unix.OpenHow) (int, error) {
	how.Resolve |= unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	name = strings.TrimLeft(name, "/")
	if name == "" {
		name = "."
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(rootFd, name, &how)
		if !errors.Is(err, unix.EAGAIN) || i == maxRetries {
			return fd, err
		}
	}
}
