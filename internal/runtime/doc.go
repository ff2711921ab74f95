// Package runtime drives an OCI runtime (runc, crun) through its command
// line: create, start, run, exec, kill, delete, pause, resume, ps, state.
//
// It owns no process tree: who waits for the runtime's processes is the
// caller's choice through Monitor. The shim, which is a subreaper with a
// single wait4(-1) loop, passes its reaper, because exec.Cmd.Wait would race
// with that loop for the runtime's exit status.
//
// Subpackage shim is the per-container shim process and its client;
// runtimetest builds busybox bundles for tests.
package runtime
