package container

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// Linux real-time signal range (glibc's SIGRTMIN, as Docker's signal table).
const (
	sigRTMIN = 34
	sigRTMAX = 64
)

// parseSignal reads a signal as Docker does: a number, or a name with or
// without "SIG" in any case ("HUP", "sigterm", "SIGRTMIN+3").
func parseSignal(s string) (syscall.Signal, error) {
	invalid := errdefs.ErrInvalidArgument.WithMessage("Invalid signal: " + s)
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > sigRTMAX {
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
	}{{"SIGRTMIN", sigRTMIN}, {"SIGRTMAX", sigRTMAX}} {
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
		if sig < sigRTMIN || sig > sigRTMAX {
			return 0, invalid
		}
		return sig, nil
	}
	return 0, invalid
}

// stopSignal is the signal `docker stop` sends first.
func (c *Container) stopSignal() syscall.Signal {
	if c.Config.StopSignal != "" {
		if sig, err := parseSignal(c.Config.StopSignal); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}

func sigString(sig syscall.Signal) string { return fmt.Sprintf("%d", int(sig)) }
