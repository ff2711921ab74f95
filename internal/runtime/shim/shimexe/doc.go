// Package shimexe owns where the shim program comes from.
//
// berth installs as one file that is the daemon, the CLI and the shim,
// but a shim runs once per container and its memory is berth's
// per-container cost. Re-executing the whole berth binary as `berth shim`
// makes every shim map a 30 MB program and run the package initialisers of
// everything the daemon and the CLI link (registry server, prometheus,
// grpc, otel, reference regexps): ~10–30 ms and ~1.3 MB of allocations
// before main, and ~21 MiB RSS / ~4 MiB PSS per shim. cmd/berth-shim is the
// shim alone (internal/runtime/shim and little else), a tenth of the size.
//
// To keep one installed file, `make build` (scripts/build.sh) appends the
// berth-shim program to the berth binary, followed by a trailer: the
// payload's length, its CRC-32C and a magic string. ELF loaders ignore
// bytes past the segments, so berth runs as before. At start-up the
// daemon calls Prepare: it finds the trailer in /proc/self/exe, copies the
// payload once into a sealed memfd, and Command starts every shim from
// /proc/<daemon pid>/fd/<memfd> with argv[0] still the berth binary's
// path, so that ps and pgrep show `berth shim` as before. A shim
// outlives the daemon (live restore): the kernel keeps the memfd's pages
// for as long as a process runs from them, and a restarted daemon loads
// its own copy for the shims it starts.
//
// Without a trailer (a plain `go build ./cmd/berth`, a test binary), or
// with a damaged one, Command falls back to re-executing this executable
// as `berth shim`, which works the same, only heavier.
//
// Why not go:embed: `go build ./cmd/berth` on a clean clone must work
// without a generated file, and an embedded copy would sit in the
// daemon's own address space. Why a memfd and not a file on disk: nothing
// to clean up, nothing another process can replace, and the seals make it
// immutable; its cost is the payload's size in shared memory, once per
// daemon (plus once per earlier daemon whose shims still run).
package shimexe
