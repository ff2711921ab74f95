package main

import "github.com/berth-dev/berth/internal/runtime/shim"

// shimMain is `berth shim STATE-DIR`, started by the daemon for each container.
func shimMain(args []string) int { return shim.Main(args) }
