package daemon

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listen opens one -H address: unix://path, tcp://host:port or fd://[n]
// (socket activation: LISTEN_FDS, starting at fd 3).
func listen(addr string) ([]net.Listener, error) {
	proto, rest, ok := strings.Cut(addr, "://")
	if !ok {
		return nil, fmt.Errorf("invalid host %q: expected unix://, tcp:// or fd://", addr)
	}
	switch proto {
	case "unix":
		if rest == "" {
			return nil, fmt.Errorf("invalid host %q: empty socket path", addr)
		}
		if err := os.MkdirAll(filepath.Dir(rest), 0o755); err != nil {
			return nil, err
		}
		// A stale socket from a killed daemon is removed; the data-root lock
		// already guarantees no live daemon owns it.
		_ = os.Remove(rest)
		l, err := net.Listen("unix", rest)
		if err != nil {
			return nil, err
		}
		if err := os.Chmod(rest, 0o660); err != nil {
			l.Close()
			return nil, err
		}
		return []net.Listener{l}, nil
	case "tcp":
		if rest == "" {
			rest = "127.0.0.1:2375"
		}
		l, err := net.Listen("tcp", rest)
		if err != nil {
			return nil, err
		}
		return []net.Listener{l}, nil
	case "fd":
		return listenFDs(rest)
	}
	return nil, fmt.Errorf("invalid host %q: unsupported protocol %q", addr, proto)
}

// listenFDs takes the sockets passed by systemd-style socket activation.
func listenFDs(which string) ([]net.Listener, error) {
	if pid, _ := strconv.Atoi(os.Getenv("LISTEN_PID")); pid != 0 && pid != os.Getpid() {
		return nil, fmt.Errorf("fd://: LISTEN_PID %d is not this process", pid)
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("fd://: no sockets were passed (LISTEN_FDS unset)")
	}
	var out []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		if which != "" && which != strconv.Itoa(fd) {
			continue
		}
		f := os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("fd://%d: %w", fd, err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fd://%s: no such socket was passed", which)
	}
	return out, nil
}
