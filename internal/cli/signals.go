package cli

import (
	"context"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/moby/moby/client"
	"golang.org/x/sys/unix"
)

// signalNames names the signals the CLI forwards, as docker's
// moby/sys/signal map does; the kill API takes these names.
var signalNames = map[syscall.Signal]string{
	unix.SIGABRT:   "ABRT",
	unix.SIGALRM:   "ALRM",
	unix.SIGBUS:    "BUS",
	unix.SIGCHLD:   "CHLD",
	unix.SIGCONT:   "CONT",
	unix.SIGFPE:    "FPE",
	unix.SIGHUP:    "HUP",
	unix.SIGILL:    "ILL",
	unix.SIGINT:    "INT",
	unix.SIGIO:     "IO",
	unix.SIGKILL:   "KILL",
	unix.SIGPIPE:   "PIPE",
	unix.SIGPROF:   "PROF",
	unix.SIGPWR:    "PWR",
	unix.SIGQUIT:   "QUIT",
	unix.SIGSEGV:   "SEGV",
	unix.SIGSTKFLT: "STKFLT",
	unix.SIGSTOP:   "STOP",
	unix.SIGSYS:    "SYS",
	unix.SIGTERM:   "TERM",
	unix.SIGTRAP:   "TRAP",
	unix.SIGTSTP:   "TSTP",
	unix.SIGTTIN:   "TTIN",
	unix.SIGTTOU:   "TTOU",
	unix.SIGURG:    "URG",
	unix.SIGUSR1:   "USR1",
	unix.SIGUSR2:   "USR2",
	unix.SIGVTALRM: "VTALRM",
	unix.SIGWINCH:  "WINCH",
	unix.SIGXCPU:   "XCPU",
	unix.SIGXFSZ:   "XFSZ",
}

// signalName is the kill API's name for s: "INT", or "RTMIN+3"; "" if
// the signal is not one to forward.
func signalName(s os.Signal) string {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return ""
	}
	if name, ok := signalNames[sig]; ok {
		return name
	}
	const sigrtmin, sigrtmax = 34, 64
	switch {
	case sig == sigrtmin:
		return "RTMIN"
	case sig > sigrtmin && sig < sigrtmax:
		return "RTMIN+" + strconv.Itoa(int(sig-sigrtmin))
	case sig == sigrtmax:
		return "RTMAX"
	}
	return ""
}

// proxySignals is --sig-proxy: every signal the process can catch goes
// to the container until stop is called. The daemon gets them
// independently of the command's context, so that a cancelled command
// still forwards until it returns.
func proxySignals(ctx context.Context, apiClient *client.Client, id string) (stop func()) {
	sigc := make(chan os.Signal, 128)
	signal.Notify(sigc)
	fwdCtx, stopFwd := context.WithCancel(context.WithoutCancel(ctx))
	go forwardAllSignals(fwdCtx, apiClient, id, sigc)
	return func() {
		signal.Stop(sigc)
		stopFwd()
	}
}

// forwardAllSignals sends the signals arriving on sigc to the container
// until sigc is closed or ctx ends. SIGCHLD and SIGPIPE concern the CLI
// itself; SIGURG is the Go runtime's preemption signal.
func forwardAllSignals(ctx context.Context, apiClient *client.Client, id string, sigc <-chan os.Signal) {
	for {
		var s os.Signal
		var ok bool
		select {
		case s, ok = <-sigc:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		switch s {
		case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG:
			continue
		}
		name := signalName(s)
		if name == "" {
			continue
		}
		_, _ = apiClient.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: name})
	}
}
