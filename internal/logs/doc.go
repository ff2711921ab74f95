// Package logs owns container log files: the writers the shim feeds with
// the container's output (json-file in Docker's exact format, local, none),
// with size-based rotation, and the readers the daemon uses for
// `docker logs` (tail, since/until, follow across rotations via inotify).
//
// Writers and readers live in different processes (the shim writes, the
// daemon reads), so everything a reader needs is in the files themselves.
package logs
