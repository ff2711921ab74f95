package signals

import (
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"HUP": syscall.SIGHUP, "sigterm": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL,
		"9": syscall.SIGKILL, "USR1": syscall.SIGUSR1, "RTMIN+3": 37, "SIGRTMAX": 64, "RTMAX-1": 63, "SIGRTMIN": 34} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"FOO", "0", "65", "-1", "RTMIN+40", "RTMAX+1", "RTMIN-1", "RTMINX", ""} {
		_, err := Parse(bad)
		if !errdefs.IsInvalidArgument(err) || err.Error() != "Invalid signal: "+bad {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}
