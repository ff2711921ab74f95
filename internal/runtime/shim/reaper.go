package shim

import (
	"os"
	"os/exec"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// reaper is the shim's only waiter: one loop reaps every child on SIGCHLD
// with wait4(-1, WNOHANG) and dispatches statuses by pid.
//
// Runtime commands are started under mu and registered in the same
// critical section (Start), so the loop cannot reap one before its waiter
// exists. Container processes (init, execs) are not our children when they
// start: they are re-parented to us (we are a subreaper) and we learn their
// pid from the runtime's pid file, possibly after they already exited and
// were reaped. Such exits are kept as "unclaimed", stamped with a sequence
// number, while a claim is pending (mark..claim): a pid claimed for a
// process started after mark only matches an exit reaped after mark.
type reaper struct {
	mu        sync.Mutex
	seq       uint64
	pending   int // marks not yet claimed or released
	waiters   map[int]chan int
	unclaimed map[int]unclaimedExit
}

type unclaimedExit struct {
	status int
	seq    uint64
}

func newReaper() *reaper {
	r := &reaper{waiters: map[int]chan int{}, unclaimed: map[int]unclaimedExit{}}
	sigc := make(chan os.Signal, 1)
	// Registered before any child exists, so no SIGCHLD is missed.
	signal.Notify(sigc, unix.SIGCHLD)
	go func() {
		for range sigc {
			r.reap()
		}
	}()
	return r
}

func (r *reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			break
		}
		r.seq++
		status := waitStatusCode(ws)
		if ch, ok := r.waiters[pid]; ok {
			delete(r.waiters, pid)
			ch <- status
			continue
		}
		if r.pending > 0 {
			r.unclaimed[pid] = unclaimedExit{status, r.seq}
		}
	}
	if r.pending == 0 {
		clear(r.unclaimed)
	}
}

// waitStatusCode is Docker's exit code: the code, or 128+signal.
func waitStatusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Start implements runtime.Monitor.
func (r *reaper) Start(cmd *exec.Cmd) (<-chan int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	ch := make(chan int, 1)
	r.waiters[cmd.Process.Pid] = ch
	return ch, nil
}

// mark must precede the runtime command that starts a process whose pid
// will be claimed; every mark is followed by one claim or release.
func (r *reaper) mark() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending++
	return r.seq
}

func (r *reaper) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending--
}

// claim returns the channel that yields pid's exit status; pid was started
// after mark returned since.
func (r *reaper) claim(pid int, since uint64) <-chan int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending--
	ch := make(chan int, 1)
	if u, ok := r.unclaimed[pid]; ok && u.seq > since {
		delete(r.unclaimed, pid)
		ch <- u.status
		return ch
	}
	r.waiters[pid] = ch
	return ch
}

// signal sends sig to a claimed process that has not been reaped yet: as
// its reaper we know the pid cannot have been reused.
func (r *reaper) signal(pid int, sig unix.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.waiters[pid]; !ok {
		return unix.ESRCH
	}
	return unix.Kill(pid, sig)
}
