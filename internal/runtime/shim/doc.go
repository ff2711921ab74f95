// Package shim is the per-container shim process (`berth shim`) and the
// daemon's client for it.
//
// The daemon never parents container processes. Spawn starts
// `berth shim` in its own session, from the small shim program appended
// to the berth binary when there is one (see subpackage shimexe), else
// from the berth binary itself (or takes the spare one it started after
// the previous Spawn, so the binary's start-up is off the hot path), and
// sends it the Config over an inherited socket; the shim
// becomes the subreaper of the container, holds its stdio (pipes, or the
// pty master it receives from the runtime through --console-socket), runs
// `runtime create`, and reports ready through that socket, which then
// stays open as the daemon's "lifeline". From there on the daemon
// talks to the shim over StateDir/shim.sock, one connection per request:
// a JSON request line, a JSON response line, and for attach the raw
// Engine API stream after it.
//
// Lifecycle of one shim:
//
//	Spawn      → stdio set up, `runtime create`, ready     (container "created")
//	Attach     → output fans out to every attached client (slow ones are dropped)
//	Start      → `runtime start`
//	init exits → output drained (bounded), exit recorded in StateDir/exit.json
//	             (temp file + rename), waiters answered, attach streams closed,
//	             `runtime delete`
//	Shutdown   → the shim exits; or on its own once the exit is recorded if no
//	             daemon holds a lifeline (the daemon died, or Close was called).
//
// A restarted daemon finds a live shim with Connect and a finished one's
// exit status with ReadExit.
//
// One goroutine reaps every child (SIGCHLD + wait4(-1, WNOHANG)) and
// hands exit statuses out by pid: runtime commands are started under the
// reaper's lock and registered in the same critical section, so their
// exits are never lost to the loop, and exec.Cmd.Wait is never used.
package shim
