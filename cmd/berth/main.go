// Command berth is the daemon, the command-line client and the
// per-container shim in one binary.
package main

import (
	"os"
	"runtime"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/daemon"
)

// The main goroutine keeps the process's first thread to itself. Threads
// that join a container's mount or network namespace are locked and then
// discarded, but when the first thread runs such a goroutine, Go parks it
// instead of ending it: its namespaces would then become the process's,
// as /proc/self shows them (mountinfo, ns/mnt), for every other thread.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "daemon":
			os.Exit(daemon.Main(os.Args[2:]))
		case "shim":
			os.Exit(shimMain(os.Args[2:]))
		}
	}
	os.Exit(cli.Execute(os.Args[1:]))
}
