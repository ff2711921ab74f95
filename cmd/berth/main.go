// Command berth is the daemon, the command-line client and the
// per-container shim in one binary.
package main

import (
	"os"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/daemon"
)

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
