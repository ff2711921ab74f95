package container

import (
	"fmt"
	"syscall"

	"github.com/berth-dev/berth/internal/signals"
)

// stopSignal is the signal `docker stop` sends first.
func (c *Container) stopSignal() syscall.Signal {
	if c.Config.StopSignal != "" {
		if sig, err := signals.Parse(c.Config.StopSignal); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}

func sigString(sig syscall.Signal) string { return fmt.Sprintf("%d", int(sig)) }
