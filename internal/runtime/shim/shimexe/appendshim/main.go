// Command appendshim appends the berth-shim program to a berth binary,
// with the trailer that shimexe.Prepare looks for:
//
//	go run ./internal/runtime/shim/shimexe/appendshim BERTH BERTH-SHIM
//
// scripts/build.sh runs it; it is a build step, never installed.
package main

import (
	"fmt"
	"os"

	"github.com/berth-dev/berth/internal/runtime/shim/shimexe"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "appendshim:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: appendshim BERTH BERTH-SHIM")
	}
	shim, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if err := shimexe.Append(f, shim); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
