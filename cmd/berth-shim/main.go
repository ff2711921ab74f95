// Command berth-shim is the per-container shim, `berth shim`, as a program
// of its own: it links internal/runtime/shim and little else, so that a
// shim starts without the initialisers of everything the daemon and the
// CLI link, and stays small. It is not installed on its own: `make build`
// appends it to the berth binary, and the daemon runs it from there (see
// internal/runtime/shim/shimexe). Its command line is berth's:
// `berth-shim shim [STATE-DIR]`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-dev/berth/internal/runtime/shim"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "shim" {
		fmt.Fprintln(os.Stderr, "usage: berth-shim shim (started by the berth daemon)")
		os.Exit(2)
	}
	// Started from the daemon's memfd (/proc/<pid>/fd/<n>), the process is
	// named after the descriptor number; argv[0] is the berth binary's path,
	// so take its name, the one `berth shim` always had, for ps and pgrep.
	os.WriteFile("/proc/self/comm", []byte(filepath.Base(os.Args[0])), 0)
	os.Exit(shim.Main(os.Args[2:]))
}
