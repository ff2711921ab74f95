// Package stats reads a container's resource usage as GET
// /containers/{id}/stats reports it: CPU, memory, block I/O and process
// counts from the cgroups of its init process (cgroup v1 or v2, wherever
// the runtime put them), network counters from its network namespace,
// and the host's CPU time, with Docker's units (nanoseconds, bytes).
package stats
