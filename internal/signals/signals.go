package signals

import (
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Linux real-time signal range (glibc's SIGRTMIN, as Docker's signal table).
const (
	rtMin = 34
	rtMax = 64
)

// Parse reads a signal as Docker does: a number, or a name with or
// without "SIG" in any case ("HUP", "sigterm", "SIGRTMIN+3",
// "RTMAX-1"). Anything else is an invalid argument, in Docker's words.
func Parse(s string) (syscall.Signal, error) {
	invalid := errdefs.ErrInvalidArgument.WithMessage("Invalid signal: " + s)
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > rtMax {
			return 0, invalid
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	for _, base := range []struct {
		name string
		num  syscall.Signal
	}{{"SIGRTMIN", rtMin}, {"SIGRTMAX", rtMax}} {
		rest, ok := strings.CutPrefix(name, base.name)
		if !ok {
			continue
		}
		if rest == "" {
			return base.num, nil
		}
		n, err := strconv.Atoi(rest)
		if err != nil {
			return 0, invalid
		}
		sig := base.num + syscall.Signal(n)
		if sig < rtMin || sig > rtMax {
			return 0, invalid
		}
		return sig, nil
	}
	return 0, invalid
}
